"""The `Tracer` port the answer pipeline reports its steps to, and the no-op default.

One trace per request (`trace(...)`), one span per pipeline step (`span(...)`). Adapters
(`LangfuseTracer`, `JsonlTracer`) mask every value they are given before it leaves the
process; the pipeline passes ids, counts, scores and statuses, and the question only as the
trace input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["NoopTracer", "SpanHandle", "TraceHandle", "Tracer"]


class SpanHandle(Protocol):
    """An open span: attributes can be added until it ends."""

    def set(self, **attrs: object) -> None: ...


class TraceHandle(SpanHandle, Protocol):
    """The root span of one request."""

    @property
    def trace_id(self) -> str: ...

    def set_output(self, value: object) -> None: ...

    def score(self, name: str, value: float, *, comment: str | None = None) -> None: ...


class Tracer(Protocol):
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

    def span(self, name: str, **attrs: object) -> AbstractContextManager[SpanHandle]:
        """A child span of the current trace, timed from enter to exit."""


class _NoopHandle:
    @property
    def trace_id(self) -> str:
        return ""

    def set(self, **attrs: object) -> None:
        return None

    def set_output(self, value: object) -> None:
        return None

    def score(self, name: str, value: float, *, comment: str | None = None) -> None:
        return None


class NoopTracer:
    """Records nothing (the default when tracing is not configured)."""

    @contextmanager
    def trace(
        self,
        name: str = "answer",
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        input: object = None,
        **attrs: object,
    ) -> Iterator[_NoopHandle]:
        yield _NoopHandle()

    @contextmanager
    def span(self, name: str, **attrs: object) -> Iterator[_NoopHandle]:
        yield _NoopHandle()
