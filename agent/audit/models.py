"""The audit record's tables (SQLAlchemy models) and the records `AuditStore` returns.

The migrations in `agent/audit/migrations/versions` create exactly these tables (a test compares
them); change both together.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AUDIT_METADATA",
    "AnswerRow",
    "AuditCitation",
    "AuditRecord",
    "CitationRow",
    "FeedbackRecord",
    "FeedbackRow",
    "RetentionGrantRow",
    "RetentionResult",
]


class _Base(DeclarativeBase):
    pass


class AnswerRow(_Base):
    __tablename__ = "audit_answers"
    answer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_pseudonym: Mapped[str | None] = mapped_column(String(80), index=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(40), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    handoff_summary: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(128))
    index_version: Mapped[str] = mapped_column(String(128))
    composer: Mapped[str] = mapped_column(String(200))
    prompt_id: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    timings_json: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    flags_json: Mapped[str] = mapped_column(Text)
    citation_count: Mapped[int] = mapped_column(Integer)
    min_support: Mapped[float | None] = mapped_column(Float)
    citations: Mapped[builtins.list[CitationRow]] = relationship(
        order_by="CitationRow.id", lazy="raise"
    )


class CitationRow(_Base):
    __tablename__ = "audit_citations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("audit_answers.answer_id", ondelete="CASCADE"), index=True
    )
    marker: Mapped[int] = mapped_column(Integer)
    document_id: Mapped[str] = mapped_column(String(512), index=True)
    document_version: Mapped[str] = mapped_column(String(128))
    chunk_id: Mapped[str] = mapped_column(String(256))
    source_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    uri: Mapped[str] = mapped_column(Text)
    span_start: Mapped[int] = mapped_column(Integer)
    span_end: Mapped[int] = mapped_column(Integer)
    quote: Mapped[str] = mapped_column(Text)
    support: Mapped[float] = mapped_column(Float)


class FeedbackRow(_Base):
    __tablename__ = "audit_feedback"
    feedback_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("audit_answers.answer_id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_pseudonym: Mapped[str | None] = mapped_column(String(80))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)


class RetentionGrantRow(_Base):
    __tablename__ = "audit_retention_grant"
    token: Mapped[str] = mapped_column(String(36), primary_key=True)


AUDIT_METADATA = _Base.metadata


@dataclass(frozen=True)
class AuditCitation:
    """One citation as recorded; `title`, `uri` and `quote` are masked."""

    marker: int
    document_id: str
    document_version: str
    chunk_id: str
    source_id: str
    title: str
    uri: str
    start: int
    end: int
    quote: str
    support: float


@dataclass(frozen=True)
class AuditRecord:
    """One answer as recorded: masked texts, a pseudonymous user, versions, costs, citations."""

    answer_id: str
    created_at: datetime
    user_pseudonym: str | None
    conversation_id: str
    status: str
    question: str
    answer: str
    handoff_summary: str | None
    policy_version: str
    index_version: str
    composer: str
    prompt_id: str | None
    prompt_version: str | None
    latency_ms: float | None
    timings_ms: dict[str, float]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    trace_id: str | None
    flags: tuple[str, ...]
    min_support: float | None
    citations: tuple[AuditCitation, ...]


@dataclass(frozen=True)
class FeedbackRecord:
    feedback_id: str
    answer_id: str
    created_at: datetime
    user_pseudonym: str | None
    rating: int
    comment: str | None  # masked


@dataclass(frozen=True)
class RetentionResult:
    cutoff: datetime
    answers: int
    citations: int
    feedback: int
    reviews: int = 0  # review picks, reviews and their verdicts of the answers deleted
