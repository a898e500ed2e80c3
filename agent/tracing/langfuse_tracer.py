"""`LangfuseTracer`: request traces in Langfuse, masked before they reach the SDK.

The only module that imports `langfuse`. One trace per request (`trace(...)`, the root
observation, user = keyed pseudonym, session = conversation id), a span per pipeline step
(`span(...)`), a generation per LLM call (`generation(...)`: model, prompt id + version, token
usage, cost), scores on the trace (support, status).

Masking, twice: every input, output, attribute, score comment and error message goes through the
`PiiGuard` before it is handed to the SDK; the SDK's own `mask` hook runs the guard again as the
last line of defence (already-masked strings are recognised, so that costs a lookup). No
decorator is used, so no raw argument is ever captured. An exception leaving a span is recorded
as a masked status message, never as the SDK's raw exception event.

When masking runs: spans are opened in the request (their ids, parents and start times are
real) but carry nothing yet; what a handle is given is kept, raw, with the request. When the
trace's root ends, one job masks every value in the request's scope, hands the masked values to
the SDK and ends each span at the time it really ended (`end(end_time=...)`). With a
`MaskingWorker` that job runs on the worker's thread (overflow: the trace is dropped, counted);
without one it runs at the end of the root span, in the request. `flush` and `close` drain the
worker first.

Delivery never blocks a request: spans are exported in batches by the OpenTelemetry batch
processor's background thread; an unreachable host costs failed background exports only.
`close(timeout)` bounds the final flush. The client gets a `TracerProvider` of its own, so the
process-wide OpenTelemetry provider is left alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

from langfuse import Langfuse, LangfuseGeneration, LangfuseSpan, propagate_attributes
from langfuse._client.resource_manager import LangfuseResourceManager
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from agent.tracing.settings import TracingSettings
from policies.pii.guard import PiiGuard, safe_name
from policies.pii.masking_worker import DeferredSpan, DeferredTrace, MaskingWorker, deliver

__all__ = ["LangfuseGenerationHandle", "LangfuseSpanHandle", "LangfuseTracer"]

log = logging.getLogger(__name__)

ScoreValue = float | str


class LangfuseSpanHandle:
    """One open span (or the trace's root). Every value is masked before the SDK sees it: what
    a method is given is masked and handed over when the trace is delivered."""

    def __init__(
        self,
        observation: LangfuseSpan | LangfuseGeneration,
        guard: PiiGuard,
        deferred: DeferredSpan,
    ) -> None:
        self._obs = observation
        self._guard = guard
        self._later = deferred.ops.append

    @property
    def trace_id(self) -> str:
        return self._obs.trace_id

    @property
    def span_id(self) -> str:
        return self._obs.id

    def set(self, **attrs: object) -> None:
        """Add attributes (Langfuse metadata), masked."""
        if attrs:
            self._later(lambda: self._obs.update(metadata=self._guard.mask_mapping(attrs)))

    def set_input(self, value: object) -> None:
        self._later(lambda: self._obs.update(input=self._guard.mask_value(value)))

    def set_output(self, value: object) -> None:
        self._later(lambda: self._obs.update(output=self._guard.mask_value(value)))

    def score(self, name: str, value: ScoreValue, *, comment: str | None = None) -> None:
        """A score on the whole trace: numeric for a number, categorical for a string."""
        self._later(lambda: self._score(name, value, comment))

    def error(self, message: str) -> None:
        """Mark the span as failed with a (masked) message."""
        self._later(lambda: self._failed(self._guard.mask_text(message)))

    def _failed(self, masked_message: str) -> None:
        self._obs.update(level="ERROR", status_message=masked_message)

    def _score(self, name: str, value: ScoreValue, comment: str | None) -> None:
        masked_comment = self._guard.mask_text(comment) if comment else None
        if isinstance(value, str):
            self._obs.score_trace(
                name=safe_name(name),
                value=self._guard.mask_text(value),
                data_type="CATEGORICAL",
                comment=masked_comment,
            )
        else:
            self._obs.score_trace(
                name=safe_name(name), value=float(value), data_type="NUMERIC",
                comment=masked_comment,
            )  # fmt: skip


class LangfuseGenerationHandle(LangfuseSpanHandle):
    """One LLM call: record what it returned, its token usage and cost when it is done."""

    def __init__(
        self, observation: LangfuseGeneration, guard: PiiGuard, deferred: DeferredSpan
    ) -> None:
        super().__init__(observation, guard, deferred)
        self._generation = observation

    def record(
        self,
        *,
        output: object = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float = 0.0,
        model: str | None = None,
    ) -> None:
        usage = {
            "input": int(prompt_tokens),
            "output": int(completion_tokens),
            "total": int(prompt_tokens) + int(completion_tokens),
        }
        cost = float(cost_usd)
        self._later(
            lambda: self._generation.update(
                output=None if output is None else self._guard.mask_value(output),
                usage_details=usage,
                cost_details={"total": cost},
                model=None if model is None else self._guard.mask_text(model),
            )
        )


class LangfuseTracer:
    """Traces requests to Langfuse. Build one per process (it owns the SDK client and its
    background threads) and `close()` it at shutdown. With a `worker`, values are masked and
    handed to the SDK on the worker's thread (the worker is shared, not owned: close it after
    the tracer)."""

    def __init__(
        self,
        *,
        settings: TracingSettings,
        guard: PiiGuard,
        worker: MaskingWorker | None = None,
    ) -> None:
        public = settings.langfuse_public_key
        secret = settings.langfuse_secret_key
        if public is None or secret is None or settings.backend != "langfuse":
            raise ValueError("LangfuseTracer needs langfuse_public_key and langfuse_secret_key")
        self._settings = settings
        self._guard = guard
        self._worker = worker
        self._deferred: ContextVar[DeferredTrace | None] = ContextVar(
            f"langfuse_trace_{id(self)}", default=None
        )
        self._public_key = public.get_secret_value()
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": "proofdesk"}),
            sampler=TraceIdRatioBased(settings.sample_rate) if settings.sample_rate < 1 else None,
            shutdown_on_exit=False,  # close() bounds the final flush; exit must not wait on it
        )
        self._client = Langfuse(
            public_key=self._public_key,
            secret_key=secret.get_secret_value(),
            base_url=settings.langfuse_host.rstrip("/"),
            timeout=settings.export_timeout_seconds,
            flush_interval=settings.flush_interval_seconds,
            environment=settings.environment,
            release=settings.release,
            mask=self._sdk_mask,
            tracer_provider=self._provider,
        )
        self._closed = False
        self._close_lock = threading.Lock()

    @property
    def client(self) -> Langfuse:
        """The SDK client (for tests of the last line of defence; do not trace through it)."""
        return self._client

    @contextmanager
    def trace(
        self,
        name: str = "answer",
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        input: object = None,
        **attrs: object,
    ) -> Iterator[LangfuseSpanHandle]:
        """The root of one request's trace. Opens the guard's request scope, so placeholders
        are consistent across the whole trace (and the logs and audit row written inside it)."""
        with self._guard.scope():
            user = self._guard.pseudonymize(user_id) if user_id else None
            session = self._guard.safe_id(conversation_id) if conversation_id else None
            deferred = DeferredTrace(self._guard.request_scope())
            token = self._deferred.set(deferred)
            try:
                with (
                    propagate_attributes(
                        user_id=user, session_id=session, trace_name=safe_name(name)
                    ),
                    self._observe(name, "span", input=input, attrs=attrs) as handle,
                ):
                    yield handle
            finally:
                self._deferred.reset(token)
                deliver(deferred, guard=self._guard, worker=self._worker)

    @contextmanager
    def span(self, name: str, **attrs: object) -> Iterator[LangfuseSpanHandle]:
        """A pipeline step inside the current trace."""
        with self._observe(name, "span", input=None, attrs=attrs) as handle:
            yield handle

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
    ) -> Iterator[LangfuseGenerationHandle]:
        """One LLM call (for the gateway): call `record(...)` on the handle with the result."""
        attrs = {**attrs, "prompt_id": prompt_id, "prompt_version": prompt_version}
        extra: dict[str, Any] = {"model": model}
        if model_parameters:
            extra["model_parameters"] = dict(model_parameters)
        with self._observe(name, "generation", input=input, attrs=attrs, extra=extra) as handle:
            assert isinstance(handle, LangfuseGenerationHandle)
            yield handle

    def flush(self, timeout_seconds: float | None = None) -> bool:
        """Mask what the worker holds, then send pending spans and scores; False when that
        did not finish in time."""
        return self._bounded(self._flush, timeout_seconds, "flush")

    def close(self, timeout_seconds: float | None = None) -> bool:
        """Drain the worker and flush (together bounded by `timeout_seconds`, default the
        settings' `flush_timeout_seconds`), then stop the SDK's threads. What is not delivered
        by then is dropped (logged once). The worker itself stays open (it is shared)."""
        with self._close_lock:
            if self._closed:
                return True
            self._closed = True
        return self._bounded(self._shutdown, timeout_seconds, "close")

    def _drain(self, deadline: float) -> None:
        if self._worker is not None:
            self._worker.drain(max(0.0, deadline - time.monotonic()))

    def _flush(self, deadline: float) -> None:
        self._drain(deadline)
        self._client.flush()

    def _shutdown(self, deadline: float) -> None:
        self._drain(deadline)
        self._client.shutdown()
        self._provider.shutdown()
        # The SDK keeps one resource manager per public key for the process; forget ours so a
        # tracer built later with the same key starts afresh instead of reusing a closed one.
        with LangfuseResourceManager._lock:
            instances = LangfuseResourceManager._instances
            if instances.get(self._public_key) is self._client._resources:
                del instances[self._public_key]

    def _bounded(self, work: Callable[[float], None], timeout: float | None, what: str) -> bool:
        limit = self._settings.flush_timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + limit
        worker = threading.Thread(target=work, args=(deadline,), name=f"langfuse-{what}",
                                  daemon=True)  # fmt: skip
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            log.warning("tracing %s did not finish within %.1f s; undelivered spans dropped",
                        what, limit)  # fmt: skip
            return False
        return True

    @contextmanager
    def _observe(
        self,
        name: str,
        as_type: Literal["span", "generation"],
        *,
        input: object,
        attrs: Mapping[str, object],
        extra: Mapping[str, Any] | None = None,
    ) -> Iterator[LangfuseSpanHandle]:
        guard = self._guard
        deferred = self._deferred.get()
        standalone = deferred is None  # a span outside any trace is delivered on its own
        trace = DeferredTrace(guard.request_scope()) if deferred is None else deferred
        failure: Exception | None = None
        # The span starts empty; its values are masked and set when the trace is delivered.
        # The SDK's context manager must exit normally: an exception passing through it would be
        # recorded raw (message and stack) as an OpenTelemetry event.
        with self._client.start_as_current_observation(
            name=safe_name(name), as_type=as_type, end_on_exit=False
        ) as observation:
            # A span left out by sampling exports nothing: its values are never even masked.
            recording = otel_trace.get_current_span().is_recording()
            pending = trace.open() if recording else DeferredSpan()
            handle = (
                LangfuseGenerationHandle(observation, guard, pending)
                if isinstance(observation, LangfuseGeneration)
                else LangfuseSpanHandle(observation, guard, pending)
            )
            if input is not None:
                handle.set_input(input)
            handle.set(**{k: v for k, v in attrs.items() if v is not None})
            if extra:
                pending.ops.append(lambda: observation.update(**self._masked_extra(extra)))
            try:
                yield handle
            except Exception as exc:  # noqa: BLE001 - recorded masked, then re-raised below
                described = f"{type(exc).__name__}: {exc}"  # the text only: no traceback kept
                pending.ops.append(lambda: handle._failed(guard.mask_error(described)))
                failure = exc
            finally:
                ended = time.time_ns()
                if recording:
                    trace.close(pending, lambda: observation.end(end_time=ended))
                else:
                    observation.end(end_time=ended)
        if standalone:
            deliver(trace, guard=guard, worker=self._worker)
        if failure is not None:
            raise failure

    def _masked_extra(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        masked: dict[str, Any] = {}
        if "model" in extra:
            masked["model"] = self._guard.mask_text(str(extra["model"]))
        if extra.get("model_parameters"):
            masked["model_parameters"] = self._guard.mask_mapping(extra["model_parameters"])
        return masked

    def _sdk_mask(self, *, data: Any, **_: Any) -> Any:
        """The SDK's `mask` hook: the last line of defence (values arrive masked already)."""
        return self._guard.mask_value(data)
