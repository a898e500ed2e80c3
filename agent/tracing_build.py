"""`build_tracer`: the tracer the settings ask for. Langfuse when keys are set, else a local
masked JSONL file when a path is set, else off (`NoopTracer`).

Kept apart from `agent.tracing_settings` so the dependency runs one way: the adapters
(`agent.tracing_langfuse`, `agent.tracing_jsonl`) read the settings, this module builds them,
and the settings module imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.tracing_port import NoopTracer
from agent.tracing_settings import TracingSettings

if TYPE_CHECKING:
    from agent.masking import PiiGuard
    from agent.masking_worker import MaskingWorker
    from agent.tracing_jsonl import JsonlTracer
    from agent.tracing_langfuse import LangfuseTracer

__all__ = ["build_tracer"]


def build_tracer(
    settings: TracingSettings, *, guard: PiiGuard, worker: MaskingWorker | None = None
) -> LangfuseTracer | JsonlTracer | NoopTracer:
    """The tracer these settings ask for: Langfuse with keys, JSONL with a path, else the
    `NoopTracer` (no SDK client is created, nothing is logged per request). The Langfuse SDK
    is imported only when keys are set."""
    backend = settings.backend
    if backend == "langfuse":
        from agent.tracing_langfuse import LangfuseTracer

        return LangfuseTracer(settings=settings, guard=guard, worker=worker)
    if backend == "jsonl" and settings.jsonl_path is not None:
        from agent.tracing_jsonl import JsonlTracer

        return JsonlTracer(path=settings.jsonl_path, guard=guard, worker=worker)
    return NoopTracer()
