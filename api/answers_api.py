"""`AnswersApi`: reading an answer back and leaving feedback, for its asker (or an auditor).

An answer is shown to its asker, re-checked against the policy and the index as they are now
(citations the asker may no longer read are withheld), and to auditors by the audit page's
rules (the auditor role, restricted citations hidden, masked). Anyone else, a key with the
`audit` scope that is not an auditor included, gets the same 404 as for an id that does not
exist: whether an answer exists is itself not theirs to know.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from agent.review.service import NotAnAuditorError, ReviewService
from api.auth import Identity
from api.errors import NotFoundError
from api.ports import AnswerStore, FeedbackStore, StoredAnswer
from api.schemas import AnswerRecordResponse, FeedbackRequest, FeedbackResponse

__all__ = ["AnswersApi"]


class AnswersApi:
    """`reviews`: the citation audit's service (raises `NotReadyError` until the index is up);
    None only in a test harness without an index, where an asker gets the answer as stored and
    nobody else gets it at all."""

    def __init__(
        self,
        *,
        answers: AnswerStore,
        feedback: FeedbackStore,
        reviews: Callable[[], ReviewService] | None = None,
    ) -> None:
        self._answers = answers
        self._feedback = feedback
        self._reviews = reviews

    def get(self, answer_id: str, identity: Identity) -> AnswerRecordResponse:
        stored = self._answers.get(answer_id)
        if stored is None:
            raise _not_found()
        own = stored.asker == identity.asker
        if not own and "audit" not in identity.scopes:
            raise _not_found()
        if self._reviews is None:
            if not own:
                raise _not_found()
            return AnswerRecordResponse.of_stored(stored)
        review = self._reviews()
        try:
            shown = review.visible_answer(stored.answer, identity.principal, auditor=not own)
        except NotAnAuditorError:
            raise _not_found() from None
        return AnswerRecordResponse.of_stored(dataclasses.replace(stored, answer=shown))

    def add_feedback(
        self, answer_id: str, request: FeedbackRequest, identity: Identity
    ) -> FeedbackResponse:
        stored = self._own(answer_id, identity)
        feedback = self._feedback.add(
            answer_id=stored.answer.answer_id,
            asker=identity.asker,
            rating=request.rating,
            comment=request.comment,
        )
        return FeedbackResponse.of(feedback)

    def _own(self, answer_id: str, identity: Identity) -> StoredAnswer:
        stored = self._answers.get(answer_id)
        if stored is not None and stored.asker == identity.asker:
            return stored
        raise _not_found()


def _not_found() -> NotFoundError:
    return NotFoundError("no such answer", code="answer_not_found")
