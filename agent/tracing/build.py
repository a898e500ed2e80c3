"""`build_tracer`: the tracer the settings ask for. Langfuse when keys are set, else a local
masked JSONL file when a path is set, else off (`NoopTracer`).

Kept apart from `agent.tracing.settings` so the dependency runs one way: the adapters
(`agent.tracing.langfuse_tracer`, `agent.tracing.jsonl`) read the settings, this module builds them,
and the settings module imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.tracing.port import NoopTracer
from agent.tracing.settings import TracingSettings

if TYPE_CHECKING:
    from agent.tracing.jsonl import JsonlTracer
    from agent.tracing.langfuse_tracer import LangfuseTracer
    from policies.pii.guard import PiiGuard
    from policies.pii.masking_worker import MaskingWorker

__all__ = ["build_tracer"]


def build_tracer(
    settings: TracingSettings, *, guard: PiiGuard, worker: MaskingWorker | None = None
) -> LangfuseTracer | JsonlTracer | NoopTracer:
    """The tracer these settings ask for: Langfuse with keys, JSONL with a path, else the
    `NoopTracer` (no SDK client is created, nothing is logged per request). The Langfuse SDK
    is imported only when keys are set."""
    backend = settings.backend
    if backend == "langfuse":
        from agent.tracing.langfuse_tracer import LangfuseTracer

        return LangfuseTracer(settings=settings, guard=guard, worker=worker)
    if backend == "jsonl" and settings.jsonl_path is not None:
        from agent.tracing.jsonl import JsonlTracer

        return JsonlTracer(path=settings.jsonl_path, guard=guard, worker=worker)
    return NoopTracer()
