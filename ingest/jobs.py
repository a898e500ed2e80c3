"""Job records (every ingest run) and per-source leases, so no source syncs twice at once.

A lease is a row in the state database, taken with an atomic insert or a conditional update
of the row it replaces, so it works across processes and machines sharing the database. A
lease names its holder's host and process: one whose process is gone on this host is taken
over at once; on another host it is taken over when it expires. The holder renews it (a
heartbeat thread) while it runs, so a long run is never taken over while it is alive.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import (
    CursorResult,
    DateTime,
    Engine,
    Integer,
    String,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from infra.state_migrations import ensure_state_schema
from ingest.lease_holder import Heartbeat, ProcessIdentity

__all__ = [
    "JobRecord",
    "JobStatus",
    "JobStore",
    "LeaseInfo",
    "SourceBusyError",
    "Trigger",
    "default_holder",
]

log = logging.getLogger(__name__)

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
    # Who holds it, to take it over at once when that process is gone (null: an older row).
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    process_started: Mapped[str | None] = mapped_column(String(32), nullable=True)


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


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as stored: what it covers (a source id, or `task:NAME`), who holds it, until when."""

    name: str
    holder: str
    job_id: str
    expires_at: datetime
    host: str | None
    pid: int | None


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
    return ProcessIdentity.current().name


class JobStore:
    """Records runs and hands out per-source leases, renewed while held and taken over when
    their holder is gone (at once on this host, at expiry elsewhere)."""

    def __init__(
        self,
        *,
        engine: Engine,
        lease_seconds: float = 300.0,
        heartbeat_seconds: float | None = None,
        identity: ProcessIdentity | None = None,
    ) -> None:
        """`heartbeat_seconds`: how often a held lease is renewed (default a third of
        `lease_seconds`); `identity`: the process taking leases (default this one)."""
        ensure_state_schema(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lease = timedelta(seconds=lease_seconds)
        self._heartbeat = heartbeat_seconds if heartbeat_seconds is not None else lease_seconds / 3
        if self._heartbeat <= 0:
            raise ValueError("the lease and its heartbeat must last more than 0 seconds")
        self._identity = identity or ProcessIdentity.current()

    @contextmanager
    def run(
        self, source_id: str, *, trigger: Trigger, holder: str | None = None
    ) -> Iterator[JobHandle]:
        """Hold the source's lease and record the run; raises SourceBusyError if it is held."""
        holder = holder or self._identity.name
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
        beat = self._beat(job_id)
        try:
            yield handle
        except BaseException as exc:
            self._finish(job_id, "failed", handle.report, f"{type(exc).__name__}: {exc}")
            raise
        else:
            self._finish(job_id, handle.status, handle.report, handle.error)
        finally:
            beat.stop()
            self._release(source_id, job_id)

    @contextmanager
    def hold(self, source_ids: Iterable[str], *, holder: str | None = None) -> Iterator[None]:
        """Hold the leases of all these sources at once, recording no run: for maintenance
        that must not overlap any sync (`ingest.state_prune`). Raises SourceBusyError, holding
        nothing, if any of them is being synced."""
        holder = holder or self._identity.name
        lease_id = str(uuid.uuid4())
        taken: list[str] = []
        beat = self._beat(lease_id)
        try:
            for source_id in sorted(set(source_ids)):
                self._acquire(source_id, holder=holder, job_id=lease_id)
                taken.append(source_id)
            yield
        finally:
            beat.stop()
            for source_id in taken:
                self._release(source_id, lease_id)

    @contextmanager
    def hold_task(self, task: str, *, holder: str | None = None) -> Iterator[None]:
        """Hold the lease of a maintenance task (`retention`), so two runs of it never overlap,
        across processes too; raises SourceBusyError if it is held. Renewed like a sync's."""
        name = f"task:{task}"  # ':' is never in a source id, so no source shares the name
        lease_id = str(uuid.uuid4())
        self._acquire(name, holder=holder or self._identity.name, job_id=lease_id)
        beat = self._beat(lease_id)
        try:
            yield
        finally:
            beat.stop()
            self._release(name, lease_id)

    def renew(self, lease_id: str) -> int:
        """Push the expiry of every lease taken under `lease_id` (a job id) one lease period
        ahead; returns how many were renewed (0: it was taken over or released)."""
        with self._sessions.begin() as s:
            result = s.execute(
                update(_LeaseRow)
                .where(_LeaseRow.job_id == lease_id)
                .values(expires_at=datetime.now(UTC) + self._lease)
            )
            return cast("CursorResult[Any]", result).rowcount

    def leases(self) -> list[LeaseInfo]:
        """Every lease held now, by name."""
        with self._sessions.begin() as s:
            rows = s.scalars(select(_LeaseRow).order_by(_LeaseRow.source_id)).all()
            return [
                LeaseInfo(r.source_id, r.holder, r.job_id, _aware(r.expires_at), r.host, r.pid)
                for r in rows
            ]

    def _beat(self, lease_id: str) -> Heartbeat:
        return Heartbeat(lambda: self.renew(lease_id), every=self._heartbeat)

    def _acquire(self, source_id: str, *, holder: str, job_id: str) -> None:
        now = datetime.now(UTC)
        me = self._identity
        values = {
            "holder": holder,
            "job_id": job_id,
            "expires_at": now + self._lease,
            "host": me.host,
            "pid": me.pid,
            "process_started": me.started,
        }
        try:
            with self._sessions.begin() as s:
                s.add(_LeaseRow(source_id=source_id, **values))
            return
        except IntegrityError:
            pass
        with self._sessions.begin() as s:
            current = s.get(_LeaseRow, source_id)
            if current is not None and self._gone(current, now):
                held_by, held_for = current.holder, current.job_id  # the update refreshes it
                # Take it over: the update, conditional on the row read, succeeds for one taker.
                result = s.execute(
                    update(_LeaseRow)
                    .where(_LeaseRow.source_id == source_id, _LeaseRow.job_id == held_for)
                    .values(**values)
                )
                if cast("CursorResult[Any]", result).rowcount == 1:
                    s.execute(  # the run that held it is over: say so now, not at next start
                        update(_JobRow)
                        .where(_JobRow.job_id == held_for, _JobRow.status == "running")
                        .values(status="abandoned", finished_at=now)
                    )
                    log.warning("took over the lease of %s from %s", source_id, held_by)
                    return
        who = current.holder if current is not None else "another run"
        if source_id.startswith("task:"):
            raise SourceBusyError(f"{source_id.removeprefix('task:')} is already run by {who}")
        raise SourceBusyError(f"source {source_id!r} is already being synced by {who}")

    def _gone(self, lease: _LeaseRow, now: datetime) -> bool:
        """Whether the lease's holder is gone: it expired, or its process on this host ended."""
        if _aware(lease.expires_at) < now:
            return True
        if lease.host != self._identity.host or lease.pid is None:
            return False  # another host's process cannot be seen from here: wait for expiry
        return not ProcessIdentity.alive(lease.pid, lease.process_started)

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
