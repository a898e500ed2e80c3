"""Job records (every ingest run) and per-source leases, so no source syncs twice at once.

A lease is a row in the state database, taken with an atomic insert or a conditional update
of an expired row, so it works across processes and machines sharing the database.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, DateTime, Engine, String, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = ["JobRecord", "JobStatus", "JobStore", "SourceBusyError", "Trigger"]

JobStatus = Literal["running", "succeeded", "partial", "failed", "abandoned"]
Trigger = Literal["cli", "schedule", "api"]


class SourceBusyError(RuntimeError):
    """Another run of the same source holds its lease."""


class _Base(DeclarativeBase):
    pass


class _JobRow(_Base):
    __tablename__ = "pd_jobs"
    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    holder: Mapped[str] = mapped_column(String(256))
    report_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class _LeaseRow(_Base):
    __tablename__ = "pd_source_leases"
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    job_id: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    source_id: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    holder: str
    report: dict[str, Any] | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "source_id": self.source_id,
            "trigger": self.trigger,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "holder": self.holder,
            "report": self.report,
            "error": self.error,
        }


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _record(row: _JobRow) -> JobRecord:
    return JobRecord(
        job_id=row.job_id,
        source_id=row.source_id,
        trigger=row.trigger,
        status=row.status,
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at) if row.finished_at else None,
        holder=row.holder,
        report=json.loads(row.report_json) if row.report_json else None,
        error=row.error,
    )


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobStore:
    """Records runs and hands out per-source leases (expiring, so a killed run does not block)."""

    def __init__(self, *, engine: Engine, lease_seconds: float = 3600.0) -> None:
        _Base.metadata.create_all(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lease = timedelta(seconds=lease_seconds)

    @contextmanager
    def run(
        self, source_id: str, *, trigger: Trigger, holder: str | None = None
    ) -> Iterator[JobHandle]:
        """Hold the source's lease and record the run; raises SourceBusyError if it is held."""
        holder = holder or default_holder()
        job_id = str(uuid.uuid4())
        self._acquire(source_id, holder=holder, job_id=job_id)
        now = datetime.now(UTC)
        with self._sessions.begin() as s:
            s.add(
                _JobRow(
                    job_id=job_id,
                    source_id=source_id,
                    trigger=trigger,
                    status="running",
                    started_at=now,
                    holder=holder,
                )
            )
        handle = JobHandle(job_id=job_id)
        try:
            yield handle
        except BaseException as exc:
            self._finish(job_id, "failed", handle.report, f"{type(exc).__name__}: {exc}")
            raise
        else:
            self._finish(job_id, handle.status, handle.report, handle.error)
        finally:
            self._release(source_id, job_id)

    @contextmanager
    def hold(self, source_ids: Iterable[str], *, holder: str | None = None) -> Iterator[None]:
        """Hold the leases of all these sources at once, recording no run: for maintenance
        that must not overlap any sync (`ingest.state_prune`). Raises SourceBusyError, holding
        nothing, if any of them is being synced."""
        holder = holder or default_holder()
        lease_id = str(uuid.uuid4())
        taken: list[str] = []
        try:
            for source_id in sorted(set(source_ids)):
                self._acquire(source_id, holder=holder, job_id=lease_id)
                taken.append(source_id)
            yield
        finally:
            for source_id in taken:
                self._release(source_id, lease_id)

    def _acquire(self, source_id: str, *, holder: str, job_id: str) -> None:
        now = datetime.now(UTC)
        expires = now + self._lease
        try:
            with self._sessions.begin() as s:
                s.add(
                    _LeaseRow(source_id=source_id, holder=holder, job_id=job_id, expires_at=expires)
                )
            return
        except IntegrityError:
            pass
        with self._sessions.begin() as s:
            # Take over an expired lease: the conditional update succeeds for one taker only.
            result = s.execute(
                update(_LeaseRow)
                .where(_LeaseRow.source_id == source_id, _LeaseRow.expires_at < now)
                .values(holder=holder, job_id=job_id, expires_at=expires)
            )
            taken = cast("CursorResult[Any]", result).rowcount
            if taken == 1:
                return
            current = s.get(_LeaseRow, source_id)
        who = current.holder if current is not None else "another run"
        raise SourceBusyError(f"source {source_id!r} is already being synced by {who}")

    def _release(self, source_id: str, job_id: str) -> None:
        with self._sessions.begin() as s:
            s.execute(
                delete(_LeaseRow).where(
                    _LeaseRow.source_id == source_id, _LeaseRow.job_id == job_id
                )
            )

    def _finish(
        self, job_id: str, status: str, report: dict[str, Any] | None, error: str | None
    ) -> None:
        with self._sessions.begin() as s:
            row = s.get(_JobRow, job_id)
            if row is None:
                return
            row.status = status
            row.finished_at = datetime.now(UTC)
            row.report_json = json.dumps(report) if report is not None else None
            row.error = error

    def abandon_stale(self) -> int:
        """Mark runs whose lease is gone (the process died) as abandoned; returns how many."""
        with self._sessions.begin() as s:
            live = set(s.scalars(select(_LeaseRow.job_id)))
            rows = s.scalars(select(_JobRow).where(_JobRow.status == "running")).all()
            stale = [r for r in rows if r.job_id not in live]
            for r in stale:
                r.status = "abandoned"
            return len(stale)

    def list(self, *, source_id: str | None = None, limit: int = 50) -> list[JobRecord]:
        with self._sessions.begin() as s:
            query = select(_JobRow).order_by(_JobRow.started_at.desc()).limit(limit)
            if source_id is not None:
                query = query.where(_JobRow.source_id == source_id)
            return [_record(r) for r in s.scalars(query)]

    def last_started(self, source_id: str) -> datetime | None:
        """When the source's latest run that did not fail to start began."""
        with self._sessions.begin() as s:
            started = s.scalar(
                select(_JobRow.started_at)
                .where(_JobRow.source_id == source_id)
                .order_by(_JobRow.started_at.desc())
                .limit(1)
            )
            return _aware(started) if started is not None else None

    def get(self, job_id: str) -> JobRecord | None:
        with self._sessions.begin() as s:
            row = s.get(_JobRow, job_id)
            return _record(row) if row is not None else None


@dataclass
class JobHandle:
    """What the body of a run fills in; the store writes it when the run ends."""

    job_id: str
    status: JobStatus = "succeeded"
    report: dict[str, Any] | None = None
    error: str | None = None
