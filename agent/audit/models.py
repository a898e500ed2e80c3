"""The audit record's tables (SQLAlchemy models) and the records `AuditStore` returns.

`audit_answer_askers` says who may read an answer back (`GET /v1/answers/{id}`): the keyed
pseudonym of its asker (`user:<id>` or `key:<id>`), one row per answer, written with it. A table
of its own, not a column: the record is append-only, so the askers of answers given before it
existed (the API's old answer store) can be added by insertion when a database is upgraded.

The migrations in `agent/audit/migrations/versions` create exactly these tables (a test compares
them); change both together.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from agent.types import Answer, AnswerStatus, Citation, TokenUsage

__all__ = [
    "AUDIT_METADATA",
    "AnswerRow",
    "AskerRow",
    "AuditCitation",
    "AuditRecord",
    "CitationRow",
    "FeedbackRecord",
    "FeedbackRow",
    "RetentionGrantRow",
    "RetentionResult",
    "feedback_of",
    "record_of",
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
    asker: Mapped[AskerRow | None] = relationship(lazy="raise")


class AskerRow(_Base):
    __tablename__ = "audit_answer_askers"
    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("audit_answers.answer_id", ondelete="CASCADE"), primary_key=True
    )
    asker_pseudonym: Mapped[str] = mapped_column(String(80), index=True)


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
    asker_pseudonym: str | None = None  # who may read it back; None: nobody but auditors

    def as_answer(self) -> Answer:
        """The recorded answer in the domain's shape (its texts as masked when recorded)."""
        return Answer(
            answer_id=self.answer_id,
            status=cast(AnswerStatus, self.status),
            answer=self.answer,
            citations=[
                Citation(
                    marker=c.marker,
                    document_id=c.document_id,
                    title=c.title,
                    source_id=c.source_id,
                    uri=c.uri,
                    chunk_id=c.chunk_id,
                    quote=c.quote,
                    start=c.start,
                    end=c.end,
                    support=c.support,
                    document_version=c.document_version,
                )
                for c in self.citations
            ],
            conversation_id=self.conversation_id,
            question=self.question,
            policy_version=self.policy_version,
            index_version=self.index_version,
            composer=self.composer,
            prompt_id=self.prompt_id,
            prompt_version=self.prompt_version,
            handoff_summary=self.handoff_summary,
            usage=TokenUsage(
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                cost_usd=self.cost_usd,
            ),
            timings_ms=dict(self.timings_ms),
            flags=self.flags,
            trace_id=self.trace_id,
        )


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


def record_of(row: AnswerRow) -> AuditRecord:
    """The record of a row read with its citations and asker (or built from the outbox)."""
    return AuditRecord(
        answer_id=row.answer_id,
        created_at=_aware(row.created_at),
        user_pseudonym=row.user_pseudonym,
        conversation_id=row.conversation_id,
        status=row.status,
        question=row.question,
        answer=row.answer,
        handoff_summary=row.handoff_summary,
        policy_version=row.policy_version,
        index_version=row.index_version,
        composer=row.composer,
        prompt_id=row.prompt_id,
        prompt_version=row.prompt_version,
        latency_ms=row.latency_ms,
        timings_ms={str(k): float(v) for k, v in json.loads(row.timings_json).items()},
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost_usd=row.cost_usd,
        trace_id=row.trace_id,
        flags=tuple(str(f) for f in json.loads(row.flags_json)),
        min_support=row.min_support,
        citations=tuple(
            AuditCitation(
                marker=c.marker,
                document_id=c.document_id,
                document_version=c.document_version,
                chunk_id=c.chunk_id,
                source_id=c.source_id,
                title=c.title,
                uri=c.uri,
                start=c.span_start,
                end=c.span_end,
                quote=c.quote,
                support=c.support,
            )
            for c in row.citations
        ),
        asker_pseudonym=row.asker.asker_pseudonym if row.asker is not None else None,
    )


def feedback_of(row: FeedbackRow) -> FeedbackRecord:
    return FeedbackRecord(
        feedback_id=row.feedback_id,
        answer_id=row.answer_id,
        created_at=_aware(row.created_at),
        user_pseudonym=row.user_pseudonym,
        rating=row.rating,
        comment=row.comment,
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
