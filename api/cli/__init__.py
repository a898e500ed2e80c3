"""The `proofdesk` command line. Library errors are translated into messages only here.

One module per command group; this one assembles them into the `proofdesk` app:

- `index`: sources, ingest, jobs, prune
- `maintenance`: migrate, retention, scheduler
- `server`: serve, api-key
- `answers`: search, ask, demo
- `policy`: policy show|reload
- `audit`: audit queue|pick|show|review|skip|report (with `audit_backends`)
- `common`: settings and logging, consoles, exit codes, option types, error translation

Start-up imports only what `--help` needs; each command imports the rest when it runs.
"""

from __future__ import annotations

import typer

from api.cli import answers, audit, index, maintenance, policy, server
from api.cli.common import EXIT_USAGE, fail

__all__ = ["PLUGIN_GROUP", "add_plugin_commands", "app", "main"]

app = typer.Typer(
    name="proofdesk",
    help="Proofdesk: answers from approved, permission-checked sources, with cited evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# In this order in `proofdesk --help`.
for command in (
    index.sources,
    index.ingest,
    maintenance.migrate,
    index.jobs,
    index.prune,
    maintenance.retention,
    maintenance.scheduler,
    server.serve,
    answers.search,
    answers.ask,
    answers.demo,
):
    app.command()(command)
app.command("api-key")(server.api_key_new)
app.add_typer(policy.app, name="policy")
app.add_typer(audit.app, name="audit")

PLUGIN_GROUP = "proofdesk.commands"


def add_plugin_commands() -> None:
    """Command groups registered under the `proofdesk.commands` entry-point group become
    subcommands. This is how `proofdesk eval` arrives: `evals` sits above `api` in the layering,
    so the CLI finds it by entry point (declared in pyproject.toml) rather than importing it."""
    from importlib.metadata import entry_points

    known = {group.name for group in app.registered_groups}
    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name in known:
            continue
        command = entry.load()
        if not isinstance(command, typer.Typer):
            fail(f"entry point {entry.name} = {entry.value} is not a Typer app", EXIT_USAGE)
        app.add_typer(command, name=entry.name)
        known.add(entry.name)


def main() -> None:
    add_plugin_commands()
    app()
