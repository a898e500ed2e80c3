"""`SqlAnswerStore`: answers and their feedback in the state database (SQLite or PostgreSQL).

A stand-in until the audit record (issue 6) owns answers: it implements the `AnswerStore` and
`FeedbackStore` ports, so the audit store can replace it without touching the routes.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import CursorResult, DateTime, Engine, Integer, String, Text, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from agent.types import Answer, Citation, TokenUsage
from api.ports import Feedback, StoredAnswer
from infra.sql_upsert import dialect_insert
from infra.state_migrations import ensure_state_schema

__all__ = ["SqlAnswerStore"]


class _Base(DeclarativeBase):
    pass


class _AnswerRow(_Base):
    __tablename__ = "pd_api_answers"
    answer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    asker: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer_json: Mapped[str] = mapped_column(Text)


class _FeedbackRow(_Base):
    __tablename__ = "pd_api_feedback"
    feedback_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    answer_id: Mapped[str] = mapped_column(String(64), index=True)
    asker: Mapped[str] = mapped_column(String(200))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _count(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _answer_from(data: dict[str, Any]) -> Answer:
    data["citations"] = [Citation(**c) for c in data["citations"]]
    data["usage"] = TokenUsage(**data["usage"])
    data["flags"] = tuple(data["flags"])
    return Answer(**data)


class SqlAnswerStore:
    """Answers for their askers to read back, and their feedback.

    With `mask`, what the user wrote (the question, a feedback comment) is stored masked: the
    served app passes Presidio's masking, so no raw personal data from a request is written
    here either. With `safe_id`, the conversation id the client chose is stored as its keyed
    pseudonym (`PiiGuard.safe_id`), as in the audit record. The answer text and quotes come from
    the index, which holds them already.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        mask: Callable[[str], str] | None = None,
        safe_id: Callable[[str], str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        ensure_state_schema(engine)
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._mask = mask
        self._safe_id = safe_id
        self._clock = clock

    def save(self, answer: Answer, *, asker: str) -> None:
        if self._mask is not None:
            answer = dataclasses.replace(answer, question=self._mask(answer.question))
        if self._safe_id is not None:
            answer = dataclasses.replace(
                answer, conversation_id=self._safe_id(answer.conversation_id)
            )
        row = {
            "answer_id": answer.answer_id,
            "asker": asker,
            "created_at": self._clock(),
            "answer_json": json.dumps(dataclasses.asdict(answer), ensure_ascii=False),
        }
        # One statement (an answer served again from the cache is saved again: last one wins).
        statement = dialect_insert(self._engine, _AnswerRow).values(row)
        replace = {k: statement.excluded[k] for k in ("asker", "created_at", "answer_json")}
        with self._engine.begin() as connection:
            connection.execute(
                statement.on_conflict_do_update(index_elements=["answer_id"], set_=replace)
            )

    def get(self, answer_id: str) -> StoredAnswer | None:
        with self._sessions.begin() as s:
            row = s.get(_AnswerRow, answer_id)
            if row is None:
                return None
            return StoredAnswer(
                answer=_answer_from(json.loads(row.answer_json)),
                asker=row.asker,
                created_at=_aware(row.created_at),
            )

    def add(
        self, *, answer_id: str, asker: str, rating: Literal[1, -1], comment: str | None
    ) -> Feedback:
        if comment is not None and self._mask is not None:
            comment = self._mask(comment)
        feedback = Feedback(
            feedback_id=str(uuid.uuid4()),
            answer_id=answer_id,
            asker=asker,
            rating=rating,
            comment=comment,
            created_at=self._clock(),
        )
        with self._sessions.begin() as s:
            s.add(_FeedbackRow(**dataclasses.asdict(feedback)))
        return feedback

    def delete_older_than(self, days: int) -> tuple[int, int]:
        """Retention (`audit.retention_days`, as for the audit record): delete the answers and
        the feedback older than `days` days, and the feedback of those answers; returns how
        many answers and feedback entries went."""
        if days < 1:
            raise ValueError("retention must keep at least one day")
        cutoff = self._clock() - timedelta(days=days)
        old = select(_AnswerRow.answer_id).where(_AnswerRow.created_at < cutoff)
        with self._engine.begin() as connection:
            feedback = connection.execute(
                delete(_FeedbackRow).where(
                    (_FeedbackRow.created_at < cutoff) | _FeedbackRow.answer_id.in_(old)
                )
            )
            answers = connection.execute(delete(_AnswerRow).where(_AnswerRow.created_at < cutoff))
        return _count(answers), _count(feedback)

    def for_answer(self, answer_id: str) -> list[Feedback]:
        with self._sessions.begin() as s:
            rows = s.scalars(
                select(_FeedbackRow)
                .where(_FeedbackRow.answer_id == answer_id)
                .order_by(_FeedbackRow.created_at)
            ).all()
            return [
                Feedback(
                    feedback_id=r.feedback_id,
                    answer_id=r.answer_id,
                    asker=r.asker,
                    rating=1 if r.rating > 0 else -1,
                    comment=r.comment,
                    created_at=_aware(r.created_at),
                )
                for r in rows
            ]
