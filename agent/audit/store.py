"""The audit record: every answer, masked, with its citations and feedback (`AuditStore`).

SQLite by default, PostgreSQL by URL, schema managed by Alembic (`agent/audit/migrations`, run on
start). Every text is masked through the `PiiGuard` before it is written, and the user is a
keyed pseudonym: no raw question, answer, quote or user id is ever stored. Document, chunk,
source, answer and trace ids are system identifiers and are stored as they are, so an auditor
can find the cited passage in the index.

Append-only for the application: there is no update or delete API except `delete_older_than`
(the retention job), and the database refuses UPDATE and DELETE by triggers unless the
retention job holds its grant inside its own transaction.

With a `MaskingWorker`, `record` hands the answer to the worker, which masks it (in the
request's scope) and writes the row; the request does not wait for either. A full queue makes
`record` wait (an audit record is never dropped), `add_feedback` waits for its answer's row if
that is still queued, `close()` drains, and a duplicate answer id is then logged as an error
when the row is written instead of raising `DuplicateAnswerError` in the caller. Reads see a
record once it is written (`worker.drain()` to wait for it).

With an `AuditOutbox` (`audit.outbox_path`), a row the database cannot take (unreachable,
refusing) is kept, masked, in that local file and written by a delivery thread once the
database answers again (`health()` says how many wait); without one, the write raises.
"""

from __future__ import annotations

import builtins
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    CursorResult,
    Delete,
    Engine,
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import selectinload

from agent.audit.migrations import check_schema_name, upgrade_audit_db
from agent.audit.models import (
    AUDIT_METADATA,
    AnswerRow,
    AuditCitation,
    AuditRecord,
    CitationRow,
    FeedbackRecord,
    FeedbackRow,
    RetentionGrantRow,
    RetentionResult,
)
from agent.audit.outbox import AuditHealth, AuditOutbox, OutboxDelivery
from agent.review.store import review_deletes
from agent.types import Answer, AnswerStatus
from infra.cron import CronExpression
from policies.access.principal import Principal

if TYPE_CHECKING:  # the guard loads Presidio; settings and CLI start-up import this module
    from policies.pii.guard import PiiGuard, RequestScope
    from policies.pii.masking_worker import MaskingWorker

__all__ = [
    "AUDIT_METADATA",
    "AuditCitation",
    "AuditError",
    "AuditRecord",
    "AuditSettings",
    "AuditStore",
    "DuplicateAnswerError",
    "FeedbackRecord",
    "RetentionResult",
    "UnknownAnswerError",
]

Rating = Literal[1, -1]

log = logging.getLogger(__name__)
_PENDING_WAIT_SECONDS = 30.0


class AuditSettings(BaseModel):
    """Where the audit record lives and how long it is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(
        default="sqlite:///.proofdesk/audit.db",
        description="SQLAlchemy URL: SQLite file by default, postgresql+psycopg://… at scale",
    )
    db_schema: str | None = Field(
        default=None, description="PostgreSQL schema holding the audit tables (default: public)"
    )
    retention_days: int = Field(default=365, ge=1, description="Records older than this go")
    outbox: bool = Field(
        default=True,
        description="keep (masked) records the audit database could not take in a local file, "
        "and write them once it answers again; false: such a record is lost",
    )
    outbox_path: Path | None = Field(
        default=None,
        description="the outbox file (default: next to a SQLite audit database, else "
        ".proofdesk/audit-outbox.db)",
    )
    retry_seconds: float = Field(
        default=5.0, gt=0, description="how often the outbox is written to the audit database"
    )
    required: bool = Field(
        default=True,
        description="the server is not ready (/readyz 503) while the audit database is "
        "unreachable; false: ready, the records wait in the outbox",
    )
    retention_schedule: CronExpression | None = Field(
        default="0 4 * * *",
        description="cron: when the scheduler (the server's, or `proofdesk scheduler`) deletes "
        "records older than retention_days (`proofdesk retention`); null: never",
    )


class AuditError(RuntimeError):
    """The audit record could not be written or read."""


class DuplicateAnswerError(AuditError):
    """An answer id is recorded already; records are never overwritten."""


class UnknownAnswerError(AuditError):
    """No audit record has this answer id."""


class AuditStore:
    """The audit record (implements the pipeline's `AnswerRecorder`). Thread-safe."""

    def __init__(
        self,
        *,
        url: str,
        guard: PiiGuard,
        schema: str | None = None,
        migrate: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        worker: MaskingWorker | None = None,
        outbox: AuditOutbox | None = None,
        retry_seconds: float = 5.0,
    ) -> None:
        self._guard = guard
        self._clock = clock
        self._worker = worker
        self._pending = threading.Condition()
        self._pending_ids: set[str] = set()
        self._schema = check_schema_name(schema)
        _ensure_sqlite_directory(url)
        if migrate:
            upgrade_audit_db(url, schema=self._schema)
        engine = create_engine(url, pool_pre_ping=True)
        if self._schema is not None:
            engine = engine.execution_options(schema_translate_map={None: self._schema})
        self._engine: Engine = engine
        self._delivery = (
            OutboxDelivery(
                outbox=outbox, insert=self._insert, probe=self._probe, every=retry_seconds
            )
            if outbox is not None
            else None
        )

    @classmethod
    def from_settings(
        cls, settings: AuditSettings, *, guard: PiiGuard, worker: MaskingWorker | None = None
    ) -> AuditStore:
        outbox = AuditOutbox(_outbox_path(settings)) if settings.outbox else None
        return cls(
            url=settings.url,
            guard=guard,
            schema=settings.db_schema,
            worker=worker,
            outbox=outbox,
            retry_seconds=settings.retry_seconds,
        )

    def health(self) -> AuditHealth:
        """Whether the database took the last write or probe, and what waits in the outbox."""
        if self._delivery is not None:
            return self._delivery.health()
        try:
            self._probe()
        except SQLAlchemyError:
            return AuditHealth(reachable=False, pending=0, lost=0)
        return AuditHealth(reachable=True, pending=0, lost=0)

    def deliver_outbox(self) -> int:
        """Write what the outbox holds now (the delivery thread does it every retry period)."""
        return self._delivery.deliver() if self._delivery is not None else 0

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def schema(self) -> str | None:
        return self._schema

    def close(self, timeout_seconds: float | None = None) -> None:
        """Write what the worker holds for this store (all of it by default), then close."""
        if self._worker is not None:
            self._worker.drain(timeout_seconds)
        if self._delivery is not None:
            self._delivery.close()
        self._engine.dispose()

    def record(self, answer: Answer, principal: Principal) -> None:
        """Append the masked record of `answer`; raises `DuplicateAnswerError` for a known id
        (with a worker: masked and written by the worker, a duplicate logged there)."""
        if self._worker is None:
            self._write(answer, principal, self._guard.request_scope())
            return
        with self._pending:
            self._pending_ids.add(answer.answer_id)
        scope = self._guard.request_scope()
        self._worker.submit(lambda: self._write_queued(answer, principal, scope), overflow="block")

    def _write_queued(self, answer: Answer, principal: Principal, scope: RequestScope) -> None:
        try:
            self._write(answer, principal, scope)
        except DuplicateAnswerError:
            log.error("audit: answer %s is recorded already; the duplicate was not written",
                      answer.answer_id)  # fmt: skip
        finally:
            with self._pending:
                self._pending_ids.discard(answer.answer_id)
                self._pending.notify_all()

    def _write(self, answer: Answer, principal: Principal, scope: RequestScope) -> None:
        with self._guard.resume(scope):
            row = self._answer_row(answer, principal)
        try:
            if self._delivery is not None:
                self._delivery.write(row)
            else:
                self._insert(row)
        except IntegrityError as exc:
            raise DuplicateAnswerError(f"answer {answer.answer_id} is recorded already") from exc

    def _insert(self, row: AnswerRow) -> None:
        with OrmSession(self._engine) as session, session.begin():
            session.add(row)

    def _probe(self) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def get(self, answer_id: str) -> AuditRecord | None:
        with OrmSession(self._engine) as session:
            row = session.scalar(
                select(AnswerRow)
                .where(AnswerRow.answer_id == answer_id)
                .options(selectinload(AnswerRow.citations))
            )
            return None if row is None else _record(row)

    def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        status: AnswerStatus | Sequence[AnswerStatus] | None = None,
        min_support: float | None = None,
        max_support: float | None = None,
        user_pseudonym: str | None = None,
        conversation_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[AuditRecord]:
        """Records newest first. `since` is inclusive, `until` exclusive. `min_support` /
        `max_support` bound the *weakest* citation of an answer (answers without citations
        have none and are excluded by either bound): `max_support=0.5` finds weakly supported
        answers for review."""
        query = select(AnswerRow).options(selectinload(AnswerRow.citations))
        if since is not None:
            query = query.where(AnswerRow.created_at >= _utc(since))
        if until is not None:
            query = query.where(AnswerRow.created_at < _utc(until))
        if status is not None:
            statuses = [status] if isinstance(status, str) else builtins.list(status)
            query = query.where(AnswerRow.status.in_(statuses))
        if min_support is not None:
            query = query.where(AnswerRow.min_support >= min_support)
        if max_support is not None:
            query = query.where(AnswerRow.min_support <= max_support)
        if user_pseudonym is not None:
            query = query.where(AnswerRow.user_pseudonym == user_pseudonym)
        if conversation_id is not None:
            query = query.where(AnswerRow.conversation_id == conversation_id)
        query = query.order_by(AnswerRow.created_at.desc(), AnswerRow.answer_id)
        query = query.limit(max(0, min(limit, 1000))).offset(max(0, offset))
        with OrmSession(self._engine) as session:
            return [_record(row) for row in session.scalars(query)]

    def count(self) -> int:
        with OrmSession(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(AnswerRow)) or 0)

    def add_feedback(
        self,
        answer_id: str,
        rating: Rating,
        comment: str | None = None,
        *,
        principal: Principal | None = None,
    ) -> FeedbackRecord:
        """Append a rating (+1 / -1) and a masked comment to a recorded answer."""
        if rating not in (1, -1):
            raise ValueError("rating must be 1 or -1")
        with self._pending:  # its answer's row may still be with the worker
            self._pending.wait_for(
                lambda: answer_id not in self._pending_ids, _PENDING_WAIT_SECONDS
            )
        with self._guard.scope():
            masked = self._guard.mask_text(comment) if comment else None
            user = self._user(principal)
        row = FeedbackRow(
            feedback_id=str(uuid.uuid4()),
            answer_id=answer_id,
            created_at=_utc(self._clock()),
            user_pseudonym=user,
            rating=rating,
            comment=masked,
        )
        with OrmSession(self._engine, expire_on_commit=False) as session, session.begin():
            known = session.scalar(
                select(AnswerRow.answer_id).where(AnswerRow.answer_id == answer_id)
            )
            if known is None:
                raise UnknownAnswerError(f"no recorded answer {answer_id}")
            session.add(row)
        return _feedback(row)

    def feedback_for(self, answer_id: str) -> builtins.list[FeedbackRecord]:
        query = (
            select(FeedbackRow)
            .where(FeedbackRow.answer_id == answer_id)
            .order_by(FeedbackRow.created_at, FeedbackRow.feedback_id)
        )
        with OrmSession(self._engine) as session:
            return [_feedback(row) for row in session.scalars(query)]

    def delete_older_than(self, days: int) -> RetentionResult:
        """The retention job: delete answers (with their citations, feedback and citation
        reviews) and feedback older than `days` days, by age only. Runs in one transaction."""
        if days < 1:
            raise ValueError("retention must keep at least one day")
        cutoff = _utc(self._clock()) - timedelta(days=days)
        old_answers = select(AnswerRow.answer_id).where(AnswerRow.created_at < cutoff)
        token = str(uuid.uuid4())
        with OrmSession(self._engine) as session, session.begin():
            session.execute(insert(RetentionGrantRow).values(token=token))
            # The citation audit's picks and reviews of these answers go first (PostgreSQL
            # would cascade; SQLite enforces no foreign keys, and must not keep orphans).
            reviews = sum(_deleted(session, s) for s in review_deletes(old_answers))
            feedback = _deleted(
                session,
                delete(FeedbackRow).where(
                    (FeedbackRow.created_at < cutoff) | FeedbackRow.answer_id.in_(old_answers)
                ),
            )
            citations = _deleted(
                session, delete(CitationRow).where(CitationRow.answer_id.in_(old_answers))
            )
            answers = _deleted(session, delete(AnswerRow).where(AnswerRow.created_at < cutoff))
            session.execute(delete(RetentionGrantRow).where(RetentionGrantRow.token == token))
        return RetentionResult(
            cutoff=cutoff, answers=answers, citations=citations, feedback=feedback, reviews=reviews
        )

    def _user(self, principal: Principal | None) -> str | None:
        if principal is None or principal.user_id is None:
            return None
        return self._guard.pseudonymize(principal.user_id)

    def _answer_row(self, answer: Answer, principal: Principal) -> AnswerRow:
        mask = self._guard.mask_text
        self._guard.prefetch(
            [answer.question, answer.answer]
            + [text for c in answer.citations for text in (c.title, c.uri, c.quote)]
        )
        citations = [
            CitationRow(
                marker=c.marker,
                document_id=c.document_id,
                document_version=c.document_version,
                chunk_id=c.chunk_id,
                source_id=c.source_id,
                title=mask(c.title),
                uri=mask(c.uri),
                span_start=c.start,
                span_end=c.end,
                quote=mask(c.quote),
                support=float(c.support),
            )
            for c in answer.citations
        ]
        timings = {str(k): float(v) for k, v in answer.timings_ms.items()}
        return AnswerRow(
            answer_id=answer.answer_id,
            created_at=_utc(self._clock()),
            user_pseudonym=self._user(principal),
            conversation_id=self._guard.safe_id(answer.conversation_id),
            status=answer.status,
            question=mask(answer.question),
            answer=mask(answer.answer),
            handoff_summary=mask(answer.handoff_summary) if answer.handoff_summary else None,
            policy_version=answer.policy_version,
            index_version=answer.index_version,
            composer=mask(answer.composer),
            prompt_id=answer.prompt_id,
            prompt_version=answer.prompt_version,
            latency_ms=_latency(timings),
            timings_json=json.dumps(timings, sort_keys=True),
            prompt_tokens=answer.usage.prompt_tokens,
            completion_tokens=answer.usage.completion_tokens,
            cost_usd=float(answer.usage.cost_usd),
            trace_id=answer.trace_id,
            flags_json=json.dumps([mask(f) for f in answer.flags]),
            citation_count=len(citations),
            min_support=min((c.support for c in citations), default=None),
            citations=citations,
        )


def _deleted(session: OrmSession, statement: Delete) -> int:
    result = session.execute(statement)
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _latency(timings: dict[str, float]) -> float | None:
    if "total" in timings:
        return timings["total"]
    return sum(timings.values()) if timings else None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _record(row: AnswerRow) -> AuditRecord:
    return AuditRecord(
        answer_id=row.answer_id,
        created_at=_utc(row.created_at),
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
    )


def _feedback(row: FeedbackRow) -> FeedbackRecord:
    return FeedbackRecord(
        feedback_id=row.feedback_id,
        answer_id=row.answer_id,
        created_at=_utc(row.created_at),
        user_pseudonym=row.user_pseudonym,
        rating=row.rating,
        comment=row.comment,
    )


def _outbox_path(settings: AuditSettings) -> Path:
    if settings.outbox_path is not None:
        return settings.outbox_path
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(f"{url.database}.outbox")
    return Path(".proofdesk/audit-outbox.db")


def _ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
