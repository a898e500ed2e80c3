"""`proofdesk migrate|retention|scheduler`: schema upgrades, the retention period, and the
scheduler that runs syncs, the state prune and retention on their schedules."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import (
    ConfigOption,
    JsonOption,
    command_settings,
    err,
    out,
    translated_errors,
)

if TYPE_CHECKING:
    from agent.audit.store import AuditStore
    from api.bootstrap.components import Components
    from ingest.jobs import JobStore

__all__ = ["migrate", "retention", "scheduler"]


def migrate(
    check: Annotated[
        bool, typer.Option("--check", help="only report; exit 1 when a database is behind")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring the state and audit databases to this version's schema (Alembic; the server and
    every command also do it when they open a database).

    The audit database first: the answers and feedback the API kept in the state database
    before the audit record served them are copied into it (masked) before the state
    migration drops their tables; a start-up refuses to drop tables that still hold rows."""
    from sqlalchemy import create_engine

    from agent.audit.migrations import audit_head_revision, audit_revision, upgrade_audit_db
    from api.bootstrap.components import Components
    from api.legacy_answers import AdoptionReport, adopt_api_answers
    from infra.state_migrations import state_head_revision, state_revision, upgrade_state_db

    settings = command_settings(config)
    # No PII findings store: opening it would migrate the state database before the copy.
    parts = Components(settings, findings=False)
    state_engine = parts.state_engine
    if settings.audit.url.startswith("sqlite:///"):  # as the audit store does: a new file
        Path(settings.audit.url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    audit_engine = create_engine(settings.audit.url)
    adopted = AdoptionReport()
    opened: list[AuditStore] = []

    def audit_store() -> AuditStore:  # the full masking: the copied answers are recorded
        opened.append(parts.audit_store())
        return opened[0]

    try:
        with translated_errors():
            before = {
                "state": state_revision(state_engine),
                "audit": audit_revision(audit_engine, schema=settings.audit.db_schema),
            }
            head = {"state": state_head_revision(), "audit": audit_head_revision()}
            if not check:
                upgrade_audit_db(settings.audit.url, schema=settings.audit.db_schema)
                adopted = adopt_api_answers(state_engine, audit_store)
                upgrade_state_db(state_engine)
            after = {
                "state": state_revision(state_engine),
                "audit": audit_revision(audit_engine, schema=settings.audit.db_schema),
            }
    finally:
        for store in opened:
            store.close()
        parts.close()
        audit_engine.dispose()
    behind = [name for name in head if after[name] != head[name]]
    if as_json:
        print(
            json.dumps(
                {
                    "databases": {
                        name: {"before": before[name], "now": after[name], "head": head[name]}
                        for name in head
                    },
                    "behind": behind,
                    "copied_from_api_store": adopted.as_dict(),
                },
                indent=2,
            )
        )
    else:
        for name, newest in head.items():
            moved = "" if before[name] == after[name] else f" (was {before[name] or 'empty'})"
            state = "up to date" if after[name] == newest else f"behind {newest}"
            out.print(f"{name}: {after[name] or 'empty'}{moved}, {state}")
        if adopted != AdoptionReport():
            copied = ", ".join(f"{k} {v}" for k, v in adopted.as_dict().items())
            out.print(f"copied the API's old answer store into the audit record: {copied}")
    if behind:
        raise typer.Exit(1)


def retention(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days (default: audit.retention_days)."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete recorded answers older than the retention period.

    The audit record: answers, citations, askers, feedback, citation reviews; the scheduler
    also runs this on audit.retention_schedule.
    """
    from api.bootstrap.components import Components
    from api.retention import run_retention

    settings = command_settings(config)
    keep = days or settings.audit.retention_days
    with (
        translated_errors(),
        Components(settings) as parts,
        _retention_stores(parts) as (audit, jobs),
    ):
        report = run_retention(keep, audit=audit, jobs=jobs)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return
    done = report.audit
    deleted = (
        f"{done.answers} audit answers ({done.citations} citations, {done.feedback} "
        f"feedback entries, {done.reviews} review rows) from before {done.cutoff:%Y-%m-%d %H:%M}"
        if done is not None
        else "no audit record"
    )
    out.print(f"retention {keep} days: deleted {deleted}")


@contextmanager
def _retention_stores(parts: Components) -> Iterator[tuple[AuditStore, JobStore]]:
    """The audit store, opened to delete (nothing is masked: a patterns-only guard saves
    loading spaCy), and the job store holding the task's lease."""
    from ingest.jobs import JobStore

    audit = parts.audit_store(masking="scanner")
    try:
        engine = parts.state_engine
        jobs = JobStore(engine=engine, lease_seconds=parts.settings.ingest.lease_seconds)
        yield audit, jobs
    finally:
        audit.close()


def scheduler(
    once: Annotated[bool, typer.Option(help="Run what is due now, then exit.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run every source on its cron schedule, the state prune on ingest.prune_schedule and the
    retention job on audit.retention_schedule (this process owns the index while it runs).

    With --once: run what is due now (and every source never run before), say what ran or that
    nothing was due, and exit; for a system cron job or CI.
    """
    from api.bootstrap.components import Components
    from api.bootstrap.index import build_ingest, maintenance_tasks, retention_tasks
    from ingest.scheduler import Scheduler

    settings = command_settings(config)
    parts = Components(settings)
    with translated_errors():
        ctx = build_ingest(parts)
    try:
        with _retention_stores(parts) as (audit, jobs):
            sched = Scheduler(
                registry=ctx.runner.service.registry,
                run_source=lambda sid: ctx.runner.run(sid, trigger="schedule"),
                last_run=ctx.runner.jobs.last_started,
                tasks=[
                    *maintenance_tasks(settings, ctx),
                    *retention_tasks(settings, audit=audit, jobs=jobs),
                ],
            )
            for name, when in sorted(sched.next_runs().items()):
                err.print(f"{name}: next run {when.isoformat()}")
            if once:
                ran = sched.tick()
                if ran:
                    err.print(f"ran: {', '.join(ran)}")
                else:
                    upcoming = min(sched.next_runs().items(), key=lambda kv: kv[1], default=None)
                    after = (
                        f"; next: {upcoming[0]} at {upcoming[1].isoformat()}" if upcoming else ""
                    )
                    err.print(f"nothing is due now{after}")
                return
            stop = threading.Event()
            try:
                sched.run_until(stop)
            except KeyboardInterrupt:
                stop.set()
    finally:
        parts.close()
