"""`AnswersApi`: reading an answer back and leaving feedback, for its asker (or an auditor).

Answers are read from the audit record, the one store of answers: what the chat returned, as
the record keeps it (masked by the request's `PiiGuard` when it was recorded, so a name in the
question reads back as its placeholder). An answer is shown to its asker, re-checked against
the policy and the index as they are now (citations the asker may no longer read are withheld),
and to auditors by the audit page's rules (the auditor role, restricted citations hidden,
masked). Anyone else, a key with the `audit` scope that is not an auditor included, gets the
same 404 as for an id that does not exist: whether an answer exists is itself not theirs to
know.

When the record is written off the request (the masking worker), a read waits for the row of
an answer still queued; an answer kept in the audit outbox while the database is unreachable
is read from there. A server whose chat service keeps no audit record keeps no answers:
both endpoints answer 503 `answers_unavailable`.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.audit.models import AuditRecord
from agent.audit.store import UnknownAnswerError
from agent.review.service import NotAnAuditorError, ReviewService
from api.auth import Identity
from api.errors import NotFoundError
from api.ports import AnswerRecords
from api.schemas import AnswerRecordResponse, FeedbackRequest, FeedbackResponse

__all__ = ["AnswersApi"]


class AnswersApi:
    """`records`: the audit record (raises `NotReadyError` until the answer pipeline is up).
    `reviews`: the citation audit's service; None only in a test harness without an index,
    where an asker gets the answer as recorded and nobody else gets it at all."""

    def __init__(
        self,
        *,
        records: Callable[[], AnswerRecords],
        reviews: Callable[[], ReviewService] | None = None,
    ) -> None:
        self._records = records
        self._reviews = reviews

    def get(self, answer_id: str, identity: Identity) -> AnswerRecordResponse:
        records = self._records()
        record = records.get(answer_id)
        if record is None:
            raise _not_found()
        own = records.asked_by(record, identity.asker)
        if not own and "audit" not in identity.scopes:
            raise _not_found()
        answer = record.as_answer()
        if self._reviews is None:
            if not own:
                raise _not_found()
            return AnswerRecordResponse.of_answer(answer, asked_at=record.created_at)
        review = self._reviews()
        try:
            shown = review.visible_answer(answer, identity.principal, auditor=not own)
        except NotAnAuditorError:
            raise _not_found() from None
        return AnswerRecordResponse.of_answer(shown, asked_at=record.created_at)

    def add_feedback(
        self, answer_id: str, request: FeedbackRequest, identity: Identity
    ) -> FeedbackResponse:
        """Feedback by the asker only (an auditor reads, but does not rate); the comment is
        masked by the audit record, and a negative rating queues the answer for review."""
        records = self._records()
        record = self._own(records, answer_id, identity)
        try:
            feedback = records.add_feedback(
                record.answer_id, request.rating, request.comment, principal=identity.principal
            )
        except UnknownAnswerError:  # deleted by retention in between
            raise _not_found() from None
        return FeedbackResponse.of(feedback)

    def _own(self, records: AnswerRecords, answer_id: str, identity: Identity) -> AuditRecord:
        record = records.get(answer_id)
        if record is not None and records.asked_by(record, identity.asker):
            return record
        raise _not_found()


def _not_found() -> NotFoundError:
    return NotFoundError("no such answer", code="answer_not_found")
