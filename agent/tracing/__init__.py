"""Request tracing: the `Tracer` port the answer pipeline reports to, and its adapters.

`port` (the protocol and the no-op default) and `settings` are the bottom; `langfuse_tracer`
(the only module importing `langfuse`) and `jsonl` (local JSON lines) implement the port;
`build` picks one from the settings. An import-linter contract keeps that order one way.
"""

__all__ = ["build", "jsonl", "langfuse_tracer", "port", "settings"]
