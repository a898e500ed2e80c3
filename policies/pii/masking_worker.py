"""`MaskingWorker`: trace and audit values masked, and delivered, off the request path.

A bounded queue and one daemon thread. A request hands over a job - a closure holding the raw
values and the request's `RequestScope` - and goes on; the job masks them through the
`PiiGuard`, in the request's scope (same placeholders), and only then hands the masked values to
the Langfuse SDK, the JSONL file or the database. The guarantee stays: nothing reaches the SDK
or the database unmasked. What moves is *when* masking runs, not whether: the CPU it costs is
the same, it is just no longer part of the request's latency.

When the queue is full:
- traces (`overflow="drop"`): the job is dropped and counted (`stats().dropped`), and a warning
  without any value (only counts) is logged on the first drop and every 100th. A dropped trace
  is not exported at all: its spans are never ended, so nothing partial leaves either.
- audit rows (`overflow="block"`): the caller waits for room. An audit record is never dropped
  for overload; the request slows down instead.

`drain(timeout)` waits until every job submitted before the call has run: at flush, at
shutdown, and in tests before they assert. `close(timeout)` drains and stops the thread; after
it, blocking jobs run in the caller and droppable ones are dropped. A job that raises is logged
(its exception type only - a message could hold a raw value) and counted (`stats().failed`).

Not guaranteed: jobs still queued when the process dies hard (SIGKILL, out of memory) are
lost - at most `max_pending` of them. A graceful shutdown drains (and an `atexit` hook drains,
bounded, a worker nobody closed).

`DeferredTrace` is what the tracers hand over: the spans of one request, with the operations
that mask and set their values, run in start order (so placeholders number the way the request
read), then each span's finish (end it, write its line) in end order.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from policies.pii.guard import PiiGuard, RequestScope

__all__ = [
    "DeferredSpan",
    "DeferredTrace",
    "MaskingWorker",
    "Overflow",
    "WorkerStats",
    "deliver",
]

log = logging.getLogger(__name__)

Overflow = Literal["drop", "block"]
Job = Callable[[], object]

_STOP: Final = object()
_WARN_EVERY = 100
_EXIT_DRAIN_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """Counts since the worker started (for metrics: none of them carries a value)."""

    submitted: int
    completed: int
    failed: int
    dropped: int
    pending: int


class MaskingWorker:
    """One daemon thread running masking-and-delivery jobs in submission order. Thread-safe.
    Build one per process at the composition root, share it between the tracer and the audit
    store (one thread, and the question masked for the trace is reused for the audit row), and
    `close()` it after them."""

    def __init__(self, *, max_pending: int = 1024, name: str = "pii-masking") -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._max_pending = max_pending
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._lock = threading.Condition()
        self._submitted = 0
        self._finished = 0
        self._failed = 0
        self._dropped = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(_drain_at_exit, weakref.ref(self))

    @property
    def max_pending(self) -> int:
        return self._max_pending

    def submit(self, job: Job, *, overflow: Overflow = "drop") -> bool:
        """Queue `job`; False when it was dropped (queue full or worker closed, `drop`). With
        `block`, wait for room instead; after `close()` a blocking job runs in the caller."""
        if threading.current_thread() is self._thread:  # a job submitting a job: no deadlock
            self._execute(job, counted=False)
            return True
        with self._lock:
            closed = self._closed
            if not closed:
                self._submitted += 1
        if closed:
            if overflow == "block":
                self._execute(job, counted=False)
                return True
            self._drop()
            return False
        try:
            if overflow == "block":
                self._queue.put(job)
            else:
                self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self._submitted -= 1
                self._lock.notify_all()
            self._drop()
            return False
        return True

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every job submitted before this call has run; False on timeout."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a masking job cannot wait for the masking worker")
        with self._lock:
            target = self._submitted
            return self._lock.wait_for(lambda: self._finished >= target, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Drain (bounded by `timeout`), then stop the thread. Idempotent."""
        with self._lock:
            if self._closed:
                return self._finished >= self._submitted
            self._closed = True
        drained = self.drain(timeout)
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        return drained and not self._thread.is_alive()

    def stats(self) -> WorkerStats:
        with self._lock:
            return WorkerStats(
                submitted=self._submitted,
                completed=self._finished - self._failed,
                failed=self._failed,
                dropped=self._dropped,
                pending=self._submitted - self._finished,
            )

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            assert callable(job)
            self._execute(job, counted=True)

    def _execute(self, job: Job, *, counted: bool) -> None:
        failed = False
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the worker
            failed = True
            log.error("masking job failed: %s (message withheld: it may hold raw values)",
                      type(exc).__name__)  # fmt: skip
        with self._lock:
            if counted:
                self._finished += 1
            if failed:
                self._failed += 1
            self._lock.notify_all()

    def _drop(self) -> None:
        with self._lock:
            self._dropped += 1
            dropped = self._dropped
        if dropped == 1 or dropped % _WARN_EVERY == 0:
            log.warning("masking queue full (max_pending=%d): trace dropped, %d dropped so far",
                        self._max_pending, dropped)  # fmt: skip


def _drain_at_exit(ref: weakref.ref[MaskingWorker]) -> None:
    worker = ref()
    if worker is not None:
        worker.close(_EXIT_DRAIN_SECONDS)


@dataclass(eq=False)
class DeferredSpan:
    """One span's pending work: `ops` mask values and hand them over (in call order);
    `finish` ends the span or writes it, with the end time taken when it really ended."""

    ops: list[Callable[[], object]] = field(default_factory=list)
    finish: Callable[[], object] | None = None


class DeferredTrace:
    """The spans of one request and the request's masking scope, to run as one job."""

    def __init__(self, scope: RequestScope) -> None:
        self._scope = scope
        self._started: list[DeferredSpan] = []
        self._ended: list[DeferredSpan] = []

    def open(self) -> DeferredSpan:
        span = DeferredSpan()
        self._started.append(span)
        return span

    def close(self, span: DeferredSpan, finish: Callable[[], object]) -> None:
        span.finish = finish
        self._ended.append(span)

    def run(self, guard: PiiGuard) -> None:
        """Mask and hand over every value (start order), then finish each span (end order).
        Spans are finished even when an operation fails: what they carry is masked already."""
        with guard.resume(self._scope):
            try:
                for span in self._started:
                    for op in span.ops:
                        op()
            finally:
                for span in self._ended:
                    if span.finish is not None:
                        span.finish()


def deliver(trace: DeferredTrace, *, guard: PiiGuard, worker: MaskingWorker | None) -> bool:
    """Run `trace` now (no worker) or hand it to `worker`; False when the worker dropped it."""
    if worker is None:
        trace.run(guard)
        return True
    return worker.submit(lambda: trace.run(guard), overflow="drop")
