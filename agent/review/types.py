"""The shapes of citation audit reviews: settings, errors, queue items, review items, reviews.

`ReviewService` (agent.review.service) produces them; the API, the web page and the CLI render
them. Every text in them is masked; reviewers are pseudonyms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from agent.review.report import AnswerVerdict, CitationVerdict

__all__ = [
    "QUEUE_REASONS",
    "AnswerSegment",
    "CitationState",
    "CitationView",
    "FeedbackView",
    "InvalidReviewError",
    "NotAnAuditorError",
    "QueueItem",
    "QueueReason",
    "ReviewError",
    "ReviewItem",
    "ReviewRecord",
    "ReviewSettings",
    "SkipRecord",
]

QueueReason = Literal["picked", "negative_feedback", "low_support", "sampled"]
QUEUE_REASONS: Final[tuple[QueueReason, ...]] = get_args(QueueReason)
CitationState = Literal["current", "changed", "removed"]


class ReviewSettings(BaseModel):
    """How the review queue is fed and how much context an item shows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_rate: float = Field(default=0.05, ge=0.0, le=1.0, description="share of cited answers")
    sample_seed: str = Field(default="proofdesk-review", min_length=1, description="sample salt")
    low_support_threshold: float = Field(
        default=0.7, ge=0.0, le=1.0, description="queue answers whose weakest citation is below"
    )
    double_review_rate: float = Field(
        default=0.1, ge=0.0, le=1.0, description="share of answers that want two reviewers"
    )
    window_days: int = Field(default=90, ge=1, description="how far back automatic feeds look")
    context_chars: int = Field(
        default=800, ge=0, description="surrounding chunk text shown on each side of a quote"
    )
    note_max_chars: int = Field(default=2000, ge=1)
    worst_sources: int = Field(default=5, ge=1)
    worst_min_citations: int = Field(
        default=3, ge=1, description="a source needs this many judged citations to be ranked"
    )
    context_cache_size: int = Field(
        default=2048,
        ge=0,
        description="where quoted spans sit in their chunks, kept (chunk texts never change); "
        "masked text is not kept: placeholders belong to one page",
    )


class ReviewError(Exception):
    """Base of the review errors (none of them knows HTTP)."""


class NotAnAuditorError(ReviewError):
    """The principal does not hold the auditor role (or has no user id to review as)."""


class InvalidReviewError(ReviewError, ValueError):
    """A review that cannot be recorded as given (missing, unknown or restricted citations)."""


@dataclass(frozen=True)
class QueueItem:
    answer_id: str
    created_at: datetime
    status: str
    question: str  # masked
    citation_count: int
    min_support: float | None
    reasons: tuple[QueueReason, ...]
    reviewers: int  # distinct reviewers so far
    wanted_reviewers: int


@dataclass(frozen=True)
class CitationView:
    """One citation as an auditor sees it. Restricted: only marker, source, support, state."""

    marker: int
    source_id: str
    support: float
    state: CitationState
    restricted: bool
    document_id: str = ""
    title: str = ""
    uri: str = ""
    quote: str = ""  # masked; the highlighted span
    before: str | None = None  # masked surrounding chunk text; None: not available
    after: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the document changed (or left the index) since the answer was given."""
        return self.state != "current"

    @property
    def link(self) -> str | None:
        return self.uri if self.uri.startswith(("https://", "http://")) else None


@dataclass(frozen=True)
class AnswerSegment:
    """A piece of the answer text; `marker` when the piece is a citation marker `[n]`;
    `hidden` when the text was replaced because it cites a restricted document."""

    text: str
    marker: int | None = None
    hidden: bool = False


@dataclass(frozen=True)
class FeedbackView:
    created_at: datetime
    rating: int
    comment: str | None  # masked


@dataclass(frozen=True)
class ReviewRecord:
    review_id: str
    answer_id: str
    reviewer: str  # pseudonym
    created_at: datetime
    answer_verdict: AnswerVerdict
    note: str | None  # masked
    citation_verdicts: Mapping[int, CitationVerdict]


@dataclass(frozen=True)
class ReviewItem:
    answer_id: str
    created_at: datetime
    status: str
    question: str  # masked
    answer: str  # masked, with [n] markers
    segments: tuple[AnswerSegment, ...]
    composer: str
    prompt_id: str | None
    prompt_version: str | None
    min_support: float | None
    citations: tuple[CitationView, ...]
    reasons: tuple[QueueReason, ...]
    feedback: tuple[FeedbackView, ...]
    reviewers: int
    mine: ReviewRecord | None  # the auditor's latest review of this answer
    flags: tuple[str, ...] = ()  # the answer's warnings (e.g. evidence_injection_suspected)

    @property
    def reviewable_markers(self) -> tuple[int, ...]:
        return tuple(c.marker for c in self.citations if not c.restricted)

    @property
    def all_restricted(self) -> bool:
        """Every citation is restricted for this auditor: nothing to judge, only to skip."""
        return bool(self.citations) and not self.reviewable_markers


@dataclass(frozen=True)
class SkipRecord:
    """An auditor passed an answer on (stored with the reviews, counted in no report): it
    leaves their queue and stays in the others'."""

    answer_id: str
    reviewer: str  # pseudonym
    created_at: datetime
    reason: str  # masked
