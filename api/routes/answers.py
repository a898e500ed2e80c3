"""Reading an answer back (its asker or an auditor) and feedback on it (its asker)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.audit_schemas import ANSWER_ID_PATTERN
from api.deps import AnswerReaderIdentity, AnswersApiDep, ChatIdentity
from api.errors import error_responses
from api.schemas import AnswerRecordResponse, FeedbackRequest, FeedbackResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1/answers", tags=["answers"])

AnswerId = Annotated[str, Path(pattern=ANSWER_ID_PATTERN, examples=["a1b2c3d4e5f6"])]


@router.get(
    "/{answer_id}",
    summary="An earlier answer, for its asker or an auditor",
    responses=error_responses(401, 403, 404, 422, 429),
)
def get_answer(
    answer_id: AnswerId, identity: AnswerReaderIdentity, answers: AnswersApiDep
) -> AnswerRecordResponse:
    return answers.get(answer_id, identity)


@router.post(
    "/{answer_id}/feedback",
    status_code=201,
    summary="Rate an answer (+1 / -1) with an optional comment",
    responses=error_responses(400, 401, 403, 404, 413, 422, 429),
)
def add_feedback(
    answer_id: AnswerId, body: FeedbackRequest, identity: ChatIdentity, answers: AnswersApiDep
) -> FeedbackResponse:
    return answers.add_feedback(answer_id, body, identity)
