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
record once it is written (`worker.drain()` to wait for it); `get` of an answer still with the
worker waits for its row, so the asker reads back what the chat just returned.

With an `AuditOutbox` (`audit.outbox_path`), a row the database cannot take (unreachable,
refusing) is kept, masked, in that local file and written by a delivery thread once the
database answers again (`health()` says how many wait); without one, the write raises. `get`
reads a record kept in the outbox from there: an answer given during an outage is readable
(by its asker and auditors) before it reaches the database.

The record is also the one store of answers for their askers (`GET /v1/answers/{id}`): `record`
takes the `owner` (`user:<id>` or `key:<id>`) and keeps its keyed pseudonym (`asked_by` checks
it). Without `redaction.hmac_secret` the pseudonyms are per process: after a restart an asker
no longer reads back older answers (auditors still do).
"""

from __future__ import annotations

import builtins
import hmac
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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
    AskerRow,
    AuditCitation,
    AuditRecord,
    CitationRow,
    FeedbackRecord,
    FeedbackRow,
    RetentionGrantRow,
    RetentionResult,
    feedback_of,
    record_of,
)
from agent.audit.outbox import AuditHealth, AuditOutbox, OutboxDelivery
from agent.audit.settings import AuditSettings
from agent.review.store import review_deletes
from agent.types import Answer, AnswerStatus
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
        outbox = AuditOutbox(settings.outbox_file()) if settings.outbox else None
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

    def record(self, answer: Answer, principal: Principal, *, owner: str | None = None) -> None:
        """Append the masked record of `answer`; raises `DuplicateAnswerError` for a known id
        (with a worker: masked and written by the worker, a duplicate logged there). `owner`:
        who may read it back (`user:<id>` or `key:<id>`, kept as its keyed pseudonym)."""
        if self._worker is None:
            self._write(answer, principal, owner, self._guard.request_scope())
            return
        with self._pending:
            self._pending_ids.add(answer.answer_id)
        scope = self._guard.request_scope()
        self._worker.submit(
            lambda: self._write_queued(answer, principal, owner, scope), overflow="block"
        )

    def adopt(
        self, answer: Answer, principal: Principal, *, owner: str, created_at: datetime
    ) -> None:
        """Record an answer given before this record kept it (an upgrade copies the API's old
        answer store), masked as `record` masks, with its own time; no worker."""
        with self._guard.scope():
            row = self._answer_row(answer, principal, owner, created_at=created_at)
        self._insert(row)

    def adopt_asker(self, answer_id: str, owner: str) -> bool:
        """Name the asker of a recorded answer that has none (recorded before askers were
        kept); False when the answer is not recorded or has one already."""
        with OrmSession(self._engine) as session, session.begin():
            known = session.scalar(
                select(AnswerRow.answer_id).where(AnswerRow.answer_id == answer_id)
            )
            if known is None or session.get(AskerRow, answer_id) is not None:
                return False
            session.add(AskerRow(answer_id=answer_id, asker_pseudonym=self._asker(owner)))
        return True

    def _write_queued(
        self, answer: Answer, principal: Principal, owner: str | None, scope: RequestScope
    ) -> None:
        try:
            self._write(answer, principal, owner, scope)
        except DuplicateAnswerError:
            log.error("audit: answer %s is recorded already; the duplicate was not written",
                      answer.answer_id)  # fmt: skip
        finally:
            with self._pending:
                self._pending_ids.discard(answer.answer_id)
                self._pending.notify_all()

    def _write(
        self, answer: Answer, principal: Principal, owner: str | None, scope: RequestScope
    ) -> None:
        with self._guard.resume(scope):
            row = self._answer_row(answer, principal, owner)
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
        """The record of `answer_id`: once its row is written (an answer still with the worker
        is waited for, up to 30 s), from the outbox while it is kept there."""
        self._wait_written(answer_id)
        if self._delivery is not None:
            kept = self._delivery.kept(answer_id)
            if kept is not None:
                return record_of(kept)
        with OrmSession(self._engine) as session:
            row = session.scalar(
                select(AnswerRow)
                .where(AnswerRow.answer_id == answer_id)
                .options(selectinload(AnswerRow.citations), selectinload(AnswerRow.asker))
            )
            return None if row is None else record_of(row)

    def asked_by(self, record: AuditRecord, owner: str) -> bool:
        """Whether `owner` (`user:<id>` or `key:<id>`) asked for the answer of `record`."""
        recorded = record.asker_pseudonym
        return recorded is not None and hmac.compare_digest(recorded, self._asker(owner))

    def _wait_written(self, answer_id: str) -> None:
        with self._pending:  # its row may still be with the worker
            self._pending.wait_for(
                lambda: answer_id not in self._pending_ids, _PENDING_WAIT_SECONDS
            )

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
        query = select(AnswerRow).options(
            selectinload(AnswerRow.citations), selectinload(AnswerRow.asker)
        )
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
            return [record_of(row) for row in session.scalars(query)]

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
        created_at: datetime | None = None,
    ) -> FeedbackRecord:
        """Append a rating (+1 / -1) and a masked comment to a recorded answer (`created_at`:
        now, unless an upgrade copies older feedback)."""
        if rating not in (1, -1):
            raise ValueError("rating must be 1 or -1")
        self._wait_written(answer_id)
        with self._guard.scope():
            masked = self._guard.mask_text(comment) if comment else None
            user = self._user(principal)
        row = FeedbackRow(
            feedback_id=str(uuid.uuid4()),
            answer_id=answer_id,
            created_at=_utc(created_at or self._clock()),
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
        return feedback_of(row)

    def feedback_for(self, answer_id: str) -> builtins.list[FeedbackRecord]:
        query = (
            select(FeedbackRow)
            .where(FeedbackRow.answer_id == answer_id)
            .order_by(FeedbackRow.created_at, FeedbackRow.feedback_id)
        )
        with OrmSession(self._engine) as session:
            return [feedback_of(row) for row in session.scalars(query)]

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
            session.execute(delete(AskerRow).where(AskerRow.answer_id.in_(old_answers)))
            answers = _deleted(session, delete(AnswerRow).where(AnswerRow.created_at < cutoff))
            session.execute(delete(RetentionGrantRow).where(RetentionGrantRow.token == token))
        return RetentionResult(
            cutoff=cutoff, answers=answers, citations=citations, feedback=feedback, reviews=reviews
        )

    def _user(self, principal: Principal | None) -> str | None:
        if principal is None or principal.user_id is None:
            return None
        return self._guard.pseudonymize(principal.user_id)

    def _asker(self, owner: str) -> str:
        return self._guard.pseudonymize(owner)

    def _answer_row(
        self,
        answer: Answer,
        principal: Principal,
        owner: str | None,
        *,
        created_at: datetime | None = None,
    ) -> AnswerRow:
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
            created_at=_utc(created_at or self._clock()),
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
            asker=(
                AskerRow(answer_id=answer.answer_id, asker_pseudonym=self._asker(owner))
                if owner is not None
                else None
            ),
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


def _ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
