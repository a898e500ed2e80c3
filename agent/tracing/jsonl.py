"""`JsonlTracer`: the same traces as `LangfuseTracer`, masked, one JSON line per finished span
in a local file. The default when tracing is wanted without a Langfuse server.

Each line: `trace_id`, `span_id`, `parent_id`, `kind` (trace / span / generation), `name`,
`start` / `end` (ISO 8601, UTC), `duration_ms`, `user_id` (pseudonym), `session_id`, `input`,
`output`, `attributes`, `level`, `status_message`, `scores`, and for generations `model`,
`usage`, `cost_usd`. Every value is masked through the `PiiGuard` before its line is written:
when the trace's root ends, one job masks the request's values (in its scope) and writes its
lines - on the `MaskingWorker`'s thread when one is given, else right there in the request.
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from policies.pii.guard import PiiGuard, safe_name
from policies.pii.masking_worker import DeferredSpan, DeferredTrace, MaskingWorker, deliver

__all__ = ["JsonlGenerationHandle", "JsonlSpanHandle", "JsonlTracer"]

_Kind = Literal["trace", "span", "generation"]


@dataclass
class _Trace:
    trace_id: str
    user_id: str | None
    session_id: str | None
    scores: list[dict[str, object]] = field(default_factory=list)


class JsonlSpanHandle:
    """One open span; values are masked (and written) when the trace is delivered."""

    def __init__(
        self, *, guard: PiiGuard, trace: _Trace, parent_id: str | None, deferred: DeferredSpan
    ) -> None:
        self._guard = guard
        self._trace = trace
        self._pending = deferred
        self._later = deferred.ops.append
        self.span_id = secrets.token_hex(8)
        self.parent_id = parent_id
        self.input: object = None
        self.output: object = None
        self.attributes: dict[str, object] = {}
        self.level = "DEFAULT"
        self.status_message: str | None = None

    @property
    def trace_id(self) -> str:
        return self._trace.trace_id

    def set(self, **attrs: object) -> None:
        self._later(lambda: self.attributes.update(self._guard.mask_mapping(attrs)))

    def set_input(self, value: object) -> None:
        self._later(lambda: setattr(self, "input", self._guard.mask_value(value)))

    def set_output(self, value: object) -> None:
        self._later(lambda: setattr(self, "output", self._guard.mask_value(value)))

    def score(self, name: str, value: float | str, *, comment: str | None = None) -> None:
        self._later(lambda: self._trace.scores.append(self._score(name, value, comment)))

    def error(self, message: str) -> None:
        self._later(lambda: self._failed(self._guard.mask_text(message)))

    def _failed(self, masked_message: str) -> None:
        self.level = "ERROR"
        self.status_message = masked_message

    def _score(self, name: str, value: float | str, comment: str | None) -> dict[str, object]:
        return {
            "name": safe_name(name),
            "value": self._guard.mask_text(value) if isinstance(value, str) else float(value),
            "comment": self._guard.mask_text(comment) if comment else None,
        }


class JsonlGenerationHandle(JsonlSpanHandle):
    """One LLM call."""

    def __init__(
        self,
        *,
        guard: PiiGuard,
        trace: _Trace,
        parent_id: str | None,
        deferred: DeferredSpan,
        model: str,
    ) -> None:
        super().__init__(guard=guard, trace=trace, parent_id=parent_id, deferred=deferred)
        self.model = model
        self._later(lambda: setattr(self, "model", self._guard.mask_text(model)))
        self.usage = {"input": 0, "output": 0, "total": 0}
        self.cost_usd = 0.0

    def record(
        self,
        *,
        output: object = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float = 0.0,
        model: str | None = None,
    ) -> None:
        if output is not None:
            self.set_output(output)
        self.usage = {
            "input": int(prompt_tokens),
            "output": int(completion_tokens),
            "total": int(prompt_tokens) + int(completion_tokens),
        }
        self.cost_usd = float(cost_usd)
        if model is not None:
            self._later(lambda: setattr(self, "model", self._guard.mask_text(model)))


class JsonlTracer:
    """Writes masked spans to `path` (appending). Thread-safe; `close()` drains the worker (if
    any; it is shared, not owned) and closes the file."""

    def __init__(self, *, path: Path, guard: PiiGuard, worker: MaskingWorker | None = None) -> None:
        self._guard = guard
        self._worker = worker
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._current: ContextVar[tuple[_Trace, str, DeferredTrace] | None] = ContextVar(
            f"jsonl_trace_{id(self)}", default=None
        )

    @contextmanager
    def trace(
        self,
        name: str = "answer",
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        input: object = None,
        **attrs: object,
    ) -> Iterator[JsonlSpanHandle]:
        with self._guard.scope():
            trace = _Trace(
                trace_id=secrets.token_hex(16),
                user_id=self._guard.pseudonymize(user_id) if user_id else None,
                session_id=self._guard.safe_id(conversation_id) if conversation_id else None,
            )
            deferred = DeferredTrace(self._guard.request_scope())
            handle = JsonlSpanHandle(
                guard=self._guard, trace=trace, parent_id=None, deferred=deferred.open()
            )
            try:
                with self._run(handle, deferred, kind="trace", name=name, input=input, attrs=attrs):
                    yield handle
            finally:
                deliver(deferred, guard=self._guard, worker=self._worker)

    @contextmanager
    def span(self, name: str, **attrs: object) -> Iterator[JsonlSpanHandle]:
        trace, parent, deferred = self._parent()
        handle = JsonlSpanHandle(
            guard=self._guard, trace=trace, parent_id=parent, deferred=deferred.open()
        )
        try:
            with self._run(handle, deferred, kind="span", name=name, input=None, attrs=attrs):
                yield handle
        finally:
            if parent is None:  # a span outside any trace is delivered on its own
                deliver(deferred, guard=self._guard, worker=self._worker)

    @contextmanager
    def generation(
        self,
        name: str,
        *,
        model: str,
        prompt_id: str | None = None,
        prompt_version: str | None = None,
        input: object = None,
        model_parameters: Mapping[str, float | int | str | bool] | None = None,
        **attrs: object,
    ) -> Iterator[JsonlGenerationHandle]:
        trace, parent, deferred = self._parent()
        handle = JsonlGenerationHandle(
            guard=self._guard, trace=trace, parent_id=parent, deferred=deferred.open(), model=""
        )
        attrs = {**attrs, "prompt_id": prompt_id, "prompt_version": prompt_version}
        if model_parameters:
            attrs["model_parameters"] = dict(model_parameters)
        try:
            with self._run(
                handle, deferred, kind="generation", name=name, input=input, attrs=attrs
            ):
                yield handle
        finally:
            if parent is None:
                deliver(deferred, guard=self._guard, worker=self._worker)

    def flush(self, timeout_seconds: float | None = None) -> bool:
        """Write what the worker holds (bounded by `timeout_seconds`), then flush the file."""
        drained = self._worker.drain(timeout_seconds) if self._worker is not None else True
        with self._lock:
            if not self._file.closed:
                self._file.flush()
        return drained

    def close(self, timeout_seconds: float | None = None) -> bool:
        """Drain the worker (bounded by `timeout_seconds`), then close the file."""
        drained = self._worker.drain(timeout_seconds) if self._worker is not None else True
        with self._lock:
            self._file.close()
        return drained

    def _parent(self) -> tuple[_Trace, str | None, DeferredTrace]:
        current = self._current.get()
        if current is None:  # a span outside any trace starts its own
            trace = _Trace(trace_id=secrets.token_hex(16), user_id=None, session_id=None)
            return trace, None, DeferredTrace(self._guard.request_scope())
        return current

    @contextmanager
    def _run(
        self,
        handle: JsonlSpanHandle,
        deferred: DeferredTrace,
        *,
        kind: _Kind,
        name: str,
        input: object,
        attrs: Mapping[str, object],
    ) -> Iterator[None]:
        if input is not None:
            handle.set_input(input)
        handle.set(**{k: v for k, v in attrs.items() if v is not None})
        started = datetime.now(UTC)
        clock = time.perf_counter()
        token = self._current.set((handle._trace, handle.span_id, deferred))
        try:
            yield
        except Exception as exc:
            described = f"{type(exc).__name__}: {exc}"  # the text only: no traceback kept
            handle._later(lambda: handle._failed(self._guard.mask_error(described)))
            raise
        finally:
            self._current.reset(token)
            ended = datetime.now(UTC)
            ms = (time.perf_counter() - clock) * 1000.0
            deferred.close(
                handle._pending,
                functools.partial(
                    self._write, handle, kind=kind, name=name, started=started, ended=ended, ms=ms
                ),
            )

    def _write(
        self,
        handle: JsonlSpanHandle,
        *,
        kind: _Kind,
        name: str,
        started: datetime,
        ended: datetime,
        ms: float,
    ) -> None:
        trace = handle._trace
        line: dict[str, object] = {
            "trace_id": trace.trace_id,
            "span_id": handle.span_id,
            "parent_id": handle.parent_id,
            "kind": kind,
            "name": safe_name(name),
            "start": started.isoformat(),
            "end": ended.isoformat(),
            "duration_ms": round(ms, 3),
            "user_id": trace.user_id,
            "session_id": trace.session_id,
            "input": handle.input,
            "output": handle.output,
            "attributes": handle.attributes,
            "level": handle.level,
            "status_message": handle.status_message,
        }
        if kind == "trace":
            line["scores"] = trace.scores
        if isinstance(handle, JsonlGenerationHandle):
            line.update(model=handle.model, usage=handle.usage, cost_usd=handle.cost_usd)
        text = json.dumps(line, ensure_ascii=False, default=lambda v: self._guard.mask_text(str(v)))
        with self._lock:
            if not self._file.closed:
                self._file.write(text + "\n")
                self._file.flush()
