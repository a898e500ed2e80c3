"""One entry point for a sync run, whoever asks (CLI, scheduler, API): lease, report, record."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ingest.jobs import JobStore, Trigger
from ingest.report import SourceReport
from ingest.sync import IngestService, ProgressCallback

__all__ = ["RunResult", "SyncRunner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    job_id: str
    report: SourceReport


class SyncRunner:
    def __init__(self, *, service: IngestService, jobs: JobStore) -> None:
        self._service = service
        self._jobs = jobs

    @property
    def service(self) -> IngestService:
        return self._service

    @property
    def jobs(self) -> JobStore:
        return self._jobs

    def run(
        self,
        source_id: str,
        *,
        trigger: Trigger,
        allow_mass_delete: bool = False,
        progress: ProgressCallback | None = None,
    ) -> RunResult:
        """Sync one source under its lease; raises SourceBusyError if a run already holds it."""
        self._service.registry.get(source_id)  # unknown sources are refused before any record
        with self._jobs.run(source_id, trigger=trigger) as job:
            report = self._service.sync(
                source_id, allow_mass_delete=allow_mass_delete, progress=progress
            )
            job.report = report.as_dict()
            job.status = report.status
            job.error = report.error
        log.info(
            "sync %s finished: %s (+%d ~%d =%d -%d acl%d q%d f%d, %d embedded)",
            source_id,
            report.status,
            report.added,
            report.updated,
            report.unchanged,
            report.deleted,
            report.acl_changed,
            report.quarantined,
            report.failed,
            report.chunks_embedded,
        )
        return RunResult(job_id=job.job_id, report=report)
