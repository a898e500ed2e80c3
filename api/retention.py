"""The retention job: what is recorded about answers goes when it is older than
`audit.retention_days`.

The audit record (`agent.audit.store`) is the one store of answers: every answer with its
masked question, citations, asker, feedback and citation reviews, which `GET /v1/answers/{id}`
reads too. The scheduler runs this on `audit.retention_schedule`; `proofdesk retention` runs it
by hand.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from agent.audit.models import RetentionResult
from agent.audit.retention import RetentionTarget, delete_older_than
from ingest.jobs import JobStore

__all__ = ["RetentionReport", "run_retention"]


@dataclass(frozen=True)
class RetentionReport:
    days: int
    audit: RetentionResult | None  # None: this process keeps no audit record

    def as_dict(self) -> dict[str, object]:
        audit = self.audit
        return {
            "days": self.days,
            "cutoff": audit.cutoff.isoformat() if audit is not None else None,
            "audit": (
                {
                    "answers": audit.answers,
                    "citations": audit.citations,
                    "feedback": audit.feedback,
                    "reviews": audit.reviews,
                }
                if audit is not None
                else None
            ),
        }


def run_retention(
    days: int, *, audit: RetentionTarget | None, jobs: JobStore | None = None
) -> RetentionReport:
    """Delete what is older than `days` days from the audit record; logs counts, never content.

    With `jobs`, under the `retention` task lease (raises SourceBusyError when another run of
    the job holds it), so two runs never overlap, across processes too."""
    with jobs.hold_task("retention") if jobs is not None else contextlib.nullcontext():
        result = delete_older_than(audit, days) if audit is not None else None
    return RetentionReport(days=days, audit=result)
