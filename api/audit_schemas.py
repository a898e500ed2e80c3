"""Request and response bodies of the citation audit API (`/v1/audit/...`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agent.review.report import AnswerVerdict, CitationVerdict
from agent.review.types import CitationState, QueueReason

__all__ = [
    "AgreementResponse",
    "AnswerId",
    "CitationViewResponse",
    "FeedbackViewResponse",
    "PickRequest",
    "PickResponse",
    "PrecisionRowResponse",
    "QueueItemResponse",
    "QueueResponse",
    "ReportResponse",
    "ReviewHistoryResponse",
    "ReviewItemResponse",
    "ReviewRequest",
    "ReviewResponse",
    "SkipRequest",
    "SkipResponse",
]

ANSWER_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
AnswerId = Annotated[str, Field(pattern=ANSWER_ID_PATTERN, examples=["9c348bf1df514cb9"])]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class QueueItemResponse(_Out):
    answer_id: str
    created_at: datetime
    status: str
    question: str = Field(description="masked")
    citation_count: int
    min_support: float | None
    reasons: list[QueueReason] = Field(description="why the answer is in the queue")
    reviewers: int
    wanted_reviewers: int


class QueueResponse(BaseModel):
    items: list[QueueItemResponse]


class PickRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"answer_id": "9c348bf1df514cb9"}]}
    )
    answer_id: AnswerId


class PickResponse(BaseModel):
    answer_id: str
    picked_at: datetime


class SkipRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "every citation is restricted for me"}]},
    )
    reason: str = Field(min_length=1, max_length=2000, description="masked before storage")


class SkipResponse(_Out):
    answer_id: str
    reviewer: str = Field(description="your pseudonym")
    created_at: datetime
    reason: str = Field(description="masked")


class CitationViewResponse(_Out):
    marker: int
    source_id: str
    support: float
    state: CitationState = Field(description="current | changed | removed (since the answer)")
    changed: bool
    restricted: bool = Field(description="the auditor may not read the document: no text shown")
    document_id: str
    title: str
    uri: str
    link: str | None
    quote: str = Field(description="masked; the cited span")
    before: str | None = Field(description="masked chunk text before the span")
    after: str | None = Field(description="masked chunk text after the span")


class FeedbackViewResponse(_Out):
    created_at: datetime
    rating: int
    comment: str | None


class ReviewResponse(_Out):
    review_id: str
    answer_id: str
    reviewer: str = Field(description="the reviewer's pseudonym")
    created_at: datetime
    answer_verdict: AnswerVerdict
    note: str | None = Field(description="masked")
    citation_verdicts: dict[int, CitationVerdict]


class ReviewHistoryResponse(BaseModel):
    reviews: list[ReviewResponse] = Field(description="oldest first; a reviewer's latest counts")


class ReviewItemResponse(_Out):
    answer_id: str
    created_at: datetime
    status: str
    question: str = Field(description="masked")
    answer: str = Field(description="masked, with [n] citation markers")
    composer: str
    prompt_id: str | None
    prompt_version: str | None
    min_support: float | None
    citations: list[CitationViewResponse]
    reviewable_markers: list[int] = Field(description="citations that need a verdict")
    all_restricted: bool = Field(
        description="every citation is restricted for you: skip it (POST .../skip) with a reason"
    )
    reasons: list[QueueReason]
    flags: list[str]
    feedback: list[FeedbackViewResponse]
    reviewers: int
    mine: ReviewResponse | None = Field(description="your latest review of this answer")


class ReviewRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "citation_verdicts": {"1": "supports", "2": "partially_supports"},
                    "answer_verdict": "partially_correct",
                    "note": "Citation 2 covers only the Windows steps.",
                }
            ]
        },
    )
    citation_verdicts: Mapping[int, CitationVerdict] = Field(
        description="a verdict for every citation you may read, by marker"
    )
    answer_verdict: AnswerVerdict
    note: str | None = Field(default=None, max_length=2000, description="masked before storage")


class PrecisionRowResponse(_Out):
    key: str
    answers: int
    citations: int
    judgments: int
    supports: int
    partially_supports: int
    does_not_support: int
    irrelevant: int
    precision: float | None = Field(description="(supports + 0.5 × partially) per citation")
    strict_precision: float | None = Field(description="supports only")


class AgreementResponse(_Out):
    answers: int = Field(description="answers with two or more reviewers")
    citation_pairs: int
    citation_percent: float | None
    citation_kappa: float | None = Field(description="Cohen's kappa over citation verdicts")
    answer_pairs: int
    answer_percent: float | None
    answer_kappa: float | None


class ReportResponse(_Out):
    generated_at: datetime
    since: datetime | None
    until: datetime | None
    reviews: int
    reviewers: int
    overall: PrecisionRowResponse
    by_source: list[PrecisionRowResponse]
    by_week: list[PrecisionRowResponse] = Field(description="ISO week of the answer")
    by_model_prompt: list[PrecisionRowResponse] = Field(description="composer | prompt@version")
    worst_sources: list[PrecisionRowResponse]
    answer_verdicts: dict[str, int]
    agreement: AgreementResponse
