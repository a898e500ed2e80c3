"""The retention job: what is recorded about answers goes when it is older than
`audit.retention_days`, in the audit record and in the API's own answer store alike.

The audit record (`agent.audit.store`) keeps every answer with its masked question, citations,
feedback and citation reviews; the API's answer store (`api.answer_store`) keeps what `GET
/v1/answers/{id}` returns. Both hold what users asked, so one retention period covers both.
The scheduler runs this on `audit.retention_schedule`; `proofdesk retention` runs it by hand.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from agent.audit.models import RetentionResult
from agent.audit.retention import RetentionTarget, delete_older_than
from api.answer_store import SqlAnswerStore
from ingest.jobs import JobStore

__all__ = ["RetentionReport", "run_retention"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionReport:
    days: int
    audit: RetentionResult | None  # None: this process keeps no audit record
    api_answers: int = 0
    api_feedback: int = 0

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
            "api_answers": self.api_answers,
            "api_feedback": self.api_feedback,
        }


def run_retention(
    days: int,
    *,
    audit: RetentionTarget | None,
    answers: SqlAnswerStore | None,
    jobs: JobStore | None = None,
) -> RetentionReport:
    """Delete what is older than `days` days from both stores; logs counts, never content.

    With `jobs`, under the `retention` task lease (raises SourceBusyError when another run of
    the job holds it), so two runs never overlap, across processes too."""
    with jobs.hold_task("retention") if jobs is not None else contextlib.nullcontext():
        result = delete_older_than(audit, days) if audit is not None else None
        api_answers, api_feedback = (
            answers.delete_older_than(days) if answers is not None else (0, 0)
        )
    log.info(
        "api answer retention: deleted %d answers and %d feedback entries older than %d days",
        api_answers,
        api_feedback,
        days,
    )
    return RetentionReport(
        days=days, audit=result, api_answers=api_answers, api_feedback=api_feedback
    )
