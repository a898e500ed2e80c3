"""`AuditOutbox`: audit rows the audit database could not take, kept on local disk until written.

A row reaches the outbox already masked (the same row the database would have held), so the
file holds nothing the audit database would not. It is a SQLite file next to the state
(`audit.outbox_path`); `AuditStore` writes into it when an insert fails for any reason but a
duplicate id, and a delivery thread moves its rows into the audit database, oldest first, once
that answers again. A process that dies keeps the file: the next one delivers it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, String, Text, create_engine, delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from agent.audit.models import AnswerRow, AskerRow, CitationRow

__all__ = ["AuditHealth", "AuditOutbox", "OutboxDelivery", "row_from_json", "row_to_json"]

log = logging.getLogger(__name__)
_BATCH = 100


@dataclass(frozen=True)
class AuditHealth:
    """What `/readyz` and the metrics say of the audit record (no host, port or driver text)."""

    reachable: bool
    pending: int  # rows kept in the outbox, waiting for the database
    lost: int  # rows neither written nor kept (the outbox itself failed), since start

    def summary(self) -> str:
        if self.reachable and not self.pending and not self.lost:
            return "ok"
        parts = ["database reachable" if self.reachable else "database unreachable"]
        if self.pending < 0:
            parts.append("the outbox cannot be read")
        elif self.pending:
            parts.append(f"{self.pending} records kept in the outbox until it is written")
        if self.lost:
            parts.append(f"{self.lost} records lost")
        return "; ".join(parts)


class _Base(DeclarativeBase):
    pass


class _OutboxRow(_Base):
    __tablename__ = "audit_outbox"
    answer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    payload: Mapped[str] = mapped_column(Text)


class AuditOutbox:
    """A local SQLite file of masked audit rows waiting for the audit database. Thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
        _Base.metadata.create_all(self._engine)

    def keep(self, answer_id: str, payload: str) -> None:
        """Keep a row (`row_to_json`); one of the same id replaces it (recorded once)."""
        with Session(self._engine) as session, session.begin():
            session.merge(
                _OutboxRow(answer_id=answer_id, kept_at=datetime.now(UTC), payload=payload)
            )

    def oldest(self, limit: int) -> list[AnswerRow]:
        with Session(self._engine) as session:
            payloads = session.scalars(
                select(_OutboxRow.payload).order_by(_OutboxRow.kept_at).limit(limit)
            )
            return [row_from_json(p) for p in payloads]

    def get(self, answer_id: str) -> AnswerRow | None:
        """The row kept for `answer_id`, if it is kept."""
        with Session(self._engine) as session:
            payload = session.scalar(
                select(_OutboxRow.payload).where(_OutboxRow.answer_id == answer_id)
            )
            return None if payload is None else row_from_json(payload)

    def remove(self, answer_id: str) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(delete(_OutboxRow).where(_OutboxRow.answer_id == answer_id))

    def count(self) -> int:
        with Session(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(_OutboxRow)) or 0)

    def close(self) -> None:
        self._engine.dispose()


class OutboxDelivery:
    """Writes rows through `insert`, keeping in the outbox those the database cannot take, and
    a daemon thread that every `every` seconds checks the database (`probe`) and moves the
    kept rows into it. Thread-safe."""

    def __init__(
        self,
        *,
        outbox: AuditOutbox,
        insert: Callable[[AnswerRow], None],
        probe: Callable[[], None],
        every: float,
    ) -> None:
        self._outbox = outbox
        self._insert = insert
        self._probe = probe
        self._every = every
        self._reachable = True
        self._lost = 0
        self._lock = threading.Lock()  # one delivery at a time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="audit-outbox", daemon=True)
        self._thread.start()

    def write(self, row: AnswerRow) -> None:
        """Insert `row`; when the database cannot take it, keep it. Raises IntegrityError
        (a duplicate id) as the database does."""
        payload = row_to_json(row)  # before the insert: a failed flush may expire the row
        try:
            self._insert(row)
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            self._unreachable(exc)
            self._keep(row.answer_id, payload)
        else:
            self._reachable = True

    def deliver(self) -> int:
        """Move the kept rows into the database, oldest first; stops at the first failure.
        Returns how many were written."""
        written = 0
        with self._lock:
            while batch := self._outbox.oldest(_BATCH):
                for row in batch:
                    answer_id = row.answer_id
                    try:
                        self._insert(row)
                    except IntegrityError:
                        log.error("audit outbox: answer %s is recorded already", answer_id)
                    except SQLAlchemyError as exc:
                        self._unreachable(exc)
                        return written
                    else:
                        written += 1
                    self._outbox.remove(answer_id)
        if written:
            log.info("audit outbox: %d kept records written to the audit database", written)
        return written

    def kept(self, answer_id: str) -> AnswerRow | None:
        """The row of `answer_id` while the outbox keeps it (None when it cannot be read)."""
        try:
            return self._outbox.get(answer_id)
        except SQLAlchemyError:
            return None

    def health(self) -> AuditHealth:
        try:
            pending = self._outbox.count()
        except SQLAlchemyError:
            pending = -1
        return AuditHealth(reachable=self._reachable, pending=pending, lost=self._lost)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _keep(self, answer_id: str, payload: str) -> None:
        try:
            self._outbox.keep(answer_id, payload)
        except (SQLAlchemyError, OSError) as exc:
            self._lost += 1
            log.error("audit: answer %s could be neither written nor kept (%s): it is lost",
                      answer_id, type(exc).__name__)  # fmt: skip

    def _unreachable(self, exc: Exception) -> None:
        if self._reachable:
            log.error("audit database unreachable (%s); records are kept in the outbox",
                      type(exc).__name__)  # fmt: skip
        self._reachable = False

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._probe()
            except SQLAlchemyError as exc:
                self._unreachable(exc)
                continue
            self._reachable = True
            try:
                self.deliver()
            except Exception:  # the outbox file itself failed: try again next time
                log.exception("audit outbox: delivery failed")


def row_to_json(row: AnswerRow) -> str:
    """An answer row, its citations and its asker as JSON (datetimes as ISO text)."""
    values = _columns(row, skip={"citations"})
    values["citations"] = [_columns(c, skip={"id", "answer_id"}) for c in row.citations]
    values["asker_pseudonym"] = row.asker.asker_pseudonym if row.asker is not None else None
    return json.dumps(values, sort_keys=True)


def row_from_json(payload: str) -> AnswerRow:
    values: dict[str, Any] = json.loads(payload)
    citations = [CitationRow(**c) for c in values.pop("citations")]
    asker = values.pop("asker_pseudonym", None)  # a row kept by an older version has none
    values["created_at"] = datetime.fromisoformat(values["created_at"])
    return AnswerRow(
        **values,
        citations=citations,
        asker=AskerRow(answer_id=values["answer_id"], asker_pseudonym=asker) if asker else None,
    )


def _columns(row: AnswerRow | CitationRow, *, skip: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values
