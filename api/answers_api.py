"""`AnswersApi`: reading an answer back and leaving feedback, for its asker (or an auditor).

Anyone else gets the same 404 as for an id that does not exist: whether an answer exists is
itself not theirs to know.
"""

from __future__ import annotations

from api.auth import Identity
from api.errors import NotFoundError
from api.ports import AnswerStore, FeedbackStore, StoredAnswer
from api.schemas import AnswerRecordResponse, FeedbackRequest, FeedbackResponse

__all__ = ["AnswersApi"]


class AnswersApi:
    def __init__(self, *, answers: AnswerStore, feedback: FeedbackStore) -> None:
        self._answers = answers
        self._feedback = feedback

    def get(self, answer_id: str, identity: Identity) -> AnswerRecordResponse:
        stored = self._visible(answer_id, identity, auditors=True)
        return AnswerRecordResponse.of_stored(stored)

    def add_feedback(
        self, answer_id: str, request: FeedbackRequest, identity: Identity
    ) -> FeedbackResponse:
        stored = self._visible(answer_id, identity, auditors=False)
        feedback = self._feedback.add(
            answer_id=stored.answer.answer_id,
            asker=identity.asker,
            rating=request.rating,
            comment=request.comment,
        )
        return FeedbackResponse.of(feedback)

    def _visible(self, answer_id: str, identity: Identity, *, auditors: bool) -> StoredAnswer:
        stored = self._answers.get(answer_id)
        if stored is not None and (
            stored.asker == identity.asker or (auditors and "audit" in identity.scopes)
        ):
            return stored
        raise NotFoundError("no such answer", code="answer_not_found")
