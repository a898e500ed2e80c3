"""`SyncJobs`: the approved sources and their sync jobs, with API-triggered syncs in the background,
and the state prune on demand.

The job is recorded and the source's lease taken in the request itself, so the caller gets the
job id at once and a busy source is a 409 there and then; the sync runs on one worker thread.
Syncs in this process (API and scheduler) share one lock: the embedded index has one writer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import ExitStack

from api.errors import NotFoundError, NotReadyError
from ingest.jobs import JobHandle, JobRecord, JobStore, SourceBusyError
from ingest.report import SourceReport
from ingest.runner import SyncRunner
from ingest.sources import SourceConfig, SourceRegistry
from ingest.state_prune import PruneReport, StatePruner

__all__ = ["SyncJobs"]

log = logging.getLogger(__name__)


class SyncJobs:
    """Implements the `SourceAdmin` port."""

    def __init__(
        self,
        *,
        registry: SourceRegistry,
        jobs: JobStore,
        runner: Callable[[], SyncRunner],
        sync_lock: threading.Lock,
        pruner: Callable[[], StatePruner] | None = None,
        on_start: Callable[[], None] = lambda: None,
        on_prune: Callable[[PruneReport], None] = lambda _report: None,
        on_report: Callable[[SourceReport], None] = lambda _report: None,
    ) -> None:
        self._registry = registry
        self._jobs = jobs
        self._runner = runner  # raises NotReadyError until the index is open
        self._pruner = pruner  # likewise
        self._lock = sync_lock
        self._on_start = on_start
        self._on_prune = on_prune
        self._on_report = on_report  # each finished sync's report (the ingest metrics)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proofdesk-sync")
        self._started: dict[str, tuple[Future[None], JobHandle, ExitStack]] = {}
        self._guard = threading.Lock()  # over `_started`: requests arrive on many threads

    def sources(self) -> list[SourceConfig]:
        return list(self._registry)

    def start_sync(self, source_id: str) -> JobRecord:
        self._registry.get(source_id)  # UnknownSourceError: not approved
        runner = self._runner()
        stack = ExitStack()
        handle = stack.enter_context(self._jobs.run(source_id, trigger="api"))  # or busy
        try:
            future = self._executor.submit(self._run, runner, source_id, handle, stack)
        except RuntimeError:  # shutting down
            stack.close()
            raise NotReadyError("the server is shutting down", code="shutting_down") from None
        with self._guard:
            if len(self._started) >= 100:  # forget finished jobs (their records are kept)
                self._started = {k: v for k, v in self._started.items() if not v[0].done()}
            self._started[handle.job_id] = (future, handle, stack)
        self._on_start()
        record = self._jobs.get(handle.job_id)
        assert record is not None  # written by JobStore.run before it yielded
        return record

    def _run(self, runner: SyncRunner, source_id: str, handle: JobHandle, stack: ExitStack) -> None:
        with stack, self._lock:
            report = runner.service.sync(source_id)
            handle.report = report.as_dict()
            handle.status = report.status
            handle.error = report.error
        self._on_report(report)
        log.info("api sync %s (job %s) finished: %s", source_id, handle.job_id, report.status)

    def prune(self, *, dry_run: bool = False) -> PruneReport:
        """Run the state prune now, in the caller's thread (it takes seconds, not minutes: see
        `evals.bench.prune`). A sync running in this process or in another is SourceBusyError:
        the prune waits for none."""
        if self._pruner is None:
            raise NotReadyError("this server does not prune", code="prune_unavailable")
        pruner = self._pruner()
        if not self._lock.acquire(blocking=False):
            raise SourceBusyError("a sync is running in this server; prune again when it ends")
        try:
            report = pruner.prune(dry_run=dry_run)
        finally:
            self._lock.release()
        self._on_prune(report)
        return report

    def jobs(self, *, source_id: str | None = None, limit: int = 50) -> list[JobRecord]:
        return self._jobs.list(source_id=source_id, limit=limit)

    def job(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        """Block until a job started here has finished (tests, shutdown); its final record."""
        with self._guard:
            started = self._started.get(job_id)
        if started is None:
            raise NotFoundError("no such job started here", code="job_not_found")
        try:
            started[0].exception(timeout=timeout)
        except FutureTimeoutError:
            raise TimeoutError(f"job {job_id} still running after {timeout}s") from None
        record = self._jobs.get(job_id)
        assert record is not None
        return record

    def close(self) -> None:
        """Let a running sync finish (the index must not close under it); drop queued ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._guard:
            started = list(self._started.values())
        for future, handle, stack in started:
            if future.cancelled():
                handle.status = "abandoned"
                handle.error = "the server shut down before the sync started"
                stack.close()
