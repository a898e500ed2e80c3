"""The audit retention job: delete records older than the retention period, by age only.

The scheduler runs it on `audit.retention_schedule` (the server's, or `proofdesk scheduler`), and
`proofdesk retention` runs it by hand; it is the only code path that deletes audit rows, and it
logs the counts, never the content.
"""

from __future__ import annotations

import logging
from typing import Protocol

from agent.audit.store import RetentionResult

__all__ = ["RetentionTarget", "delete_older_than"]

log = logging.getLogger(__name__)


class RetentionTarget(Protocol):
    """What the job needs from the store (`AuditStore`)."""

    def delete_older_than(self, days: int) -> RetentionResult: ...


def delete_older_than(store: RetentionTarget, days: int) -> RetentionResult:
    """Delete audit answers (with their citations, feedback and reviews) and feedback older
    than `days` days; returns and logs how many rows went."""
    result = store.delete_older_than(days)
    log.info(
        "audit retention: deleted %d answers, %d citations, %d feedback entries, %d review rows "
        "older than %s",
        result.answers,
        result.citations,
        result.feedback,
        result.reviews,
        result.cutoff.isoformat(),
    )
    return result
