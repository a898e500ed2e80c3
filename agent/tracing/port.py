"""The `Tracer` port the answer pipeline reports its steps to, and the no-op default.

One trace per request (`trace(...)`), one span per pipeline step (`span(...)`). Adapters
(`LangfuseTracer`, `JsonlTracer`) mask every value they are given before it leaves the
process; the pipeline passes ids, counts, scores and statuses, and the question only as the
trace input.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

__all__ = ["NoopTracer", "SpanHandle", "TraceHandle", "Tracer"]


class SpanHandle(Protocol):
    """An open span: attributes can be added until it ends.

    The bodies here record nothing: a handle that subclasses the protocol (the no-op one, a
    test's or an eval's recorder) inherits them and overrides only what it keeps."""

    def set(self, **attrs: object) -> None:
        return None


class TraceHandle(SpanHandle, Protocol):
    """The root span of one request."""

    @property
    def trace_id(self) -> str:
        return ""

    def set_output(self, value: object) -> None:
        return None

    def score(self, name: str, value: float, *, comment: str | None = None) -> None:
        return None


class _NoopHandle(TraceHandle):
    """Records nothing (every method is the protocol's own)."""


_NOOP = _NoopHandle()


class Tracer(Protocol):
    """Where the pipeline reports its steps. The bodies here record nothing: `NoopTracer`
    subclasses the protocol and is exactly them, so each signature is written once."""

    def trace(
        self,
        name: str = "answer",
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        input: object = None,
        **attrs: object,
    ) -> AbstractContextManager[TraceHandle]:
        """The root span of a request; spans opened inside it become its children."""
        return nullcontext(_NOOP)

    def span(self, name: str, **attrs: object) -> AbstractContextManager[SpanHandle]:
        """A child span of the current trace, timed from enter to exit."""
        return nullcontext(_NOOP)


class NoopTracer(Tracer):
    """Records nothing (the default when tracing is not configured)."""
