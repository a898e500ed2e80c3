"""The composition root: the one place that builds concrete adapters.

- `components`: `Components`, the shared parts of one process (the state engine, the redactor
  and its guard, the masking worker, the policy, the embedder, the index), each built once.
- `index`: ingest (syncs, the state prune, scheduled tasks) and search over them.
- `answering`: the answer pipeline (`AnswerService` with every collaborator given).
- `server`: the API's services, their background start-up and readiness.

The CLI commands, `serve`, the audit CLI's direct mode and the evals call these builders.
Import the modules (`api.bootstrap.server`, ...) where they are used: this package's
`__init__` imports nothing, so `proofdesk --help` stays light.
"""
