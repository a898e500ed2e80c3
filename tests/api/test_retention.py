"""The retention job over the audit record, the one store of what users asked (answers, their
askers, feedback); run by hand (`proofdesk retention`) and as the scheduler's `audit:retention`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from agent.audit.store import AuditSettings, AuditStore
from api.bootstrap.index import retention_tasks
from api.metrics import ApiMetrics
from api.retention import run_retention
from api.settings import Settings
from ingest.jobs import JobStore, SourceBusyError
from ingest.state import create_state_engine
from policies.access.principal import Principal
from tests.fixtures.answers import make_answer, wifi_answer
from tests.fixtures.audit_reviews import START
from tests.fixtures.cli import run_cli
from tests.fixtures.clocks import WallClock
from tests.fixtures.pii import make_guard


@dataclass
class Stores:
    audit: AuditStore
    clock: WallClock


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    clock = WallClock(START)
    audit = AuditStore(url=f"sqlite:///{tmp_path / 'audit.db'}", guard=make_guard(), clock=clock)
    yield Stores(audit, clock)
    audit.close()


def _record_two(stores: Stores) -> tuple[str, str]:
    """One answer 40 days ago, one now, each asked by `user:u1`; returns the old and new ids."""
    old, new = wifi_answer(), wifi_answer()
    start = stores.clock.now
    stores.audit.record(
        make_answer("old", answer_id=old.answer_id), Principal(user_id="u1"), owner="user:u1"
    )
    stores.clock.now = start + timedelta(days=40)
    stores.audit.record(
        make_answer("new", answer_id=new.answer_id), Principal(user_id="u1"), owner="user:u1"
    )
    return old.answer_id, new.answer_id


def test_one_retention_period_covers_answers_their_askers_and_feedback(stores: Stores) -> None:
    old, new = _record_two(stores)
    stores.audit.add_feedback(old, -1, "late, on the old answer", principal=Principal("u1"))
    stores.audit.add_feedback(new, 1, principal=Principal("u1"))

    report = run_retention(30, audit=stores.audit)

    assert report.audit is not None and report.audit.answers == 1
    assert stores.audit.get(old) is None and stores.audit.feedback_for(old) == []
    kept = stores.audit.get(new)
    assert kept is not None and stores.audit.asked_by(kept, "user:u1")
    assert [f.rating for f in stores.audit.feedback_for(new)] == [1]
    assert report.as_dict()["audit"] == {"answers": 1, "citations": 2, "feedback": 1, "reviews": 0}
    # The asker row went with its answer (SQLite enforces no foreign keys: no orphan is left).
    with stores.audit.engine.connect() as connection:
        askers = connection.exec_driver_sql("SELECT answer_id FROM audit_answer_askers").all()
    assert askers == [(new,)]


def test_the_scheduled_task_runs_the_job_with_the_settings_period(stores: Stores) -> None:
    old, _ = _record_two(stores)
    settings = Settings(audit=AuditSettings(retention_days=30, retention_schedule="0 4 * * *"))

    [task] = retention_tasks(settings, audit=stores.audit)
    task.run()

    assert (task.name, task.schedule) == ("audit:retention", "0 4 * * *")
    assert stores.audit.get(old) is None
    off = Settings(audit=AuditSettings(retention_schedule=None))
    assert retention_tasks(off, audit=stores.audit) == []
    assert retention_tasks(settings, audit=None) == []


def test_the_scheduled_job_reports_to_the_metrics(stores: Stores) -> None:
    _record_two(stores)
    metrics = ApiMetrics()
    settings = Settings(audit=AuditSettings(retention_days=30))
    [task] = retention_tasks(settings, audit=stores.audit, on_done=metrics.observe_retention)

    task.run()

    text = metrics.render().decode()
    for kind, count in (("audit_answers", 1), ("audit_citations", 2), ("audit_feedback", 0)):
        assert f'proofdesk_retention_rows_deleted_total{{kind="{kind}"}} {count}.0' in text
    assert 'proofdesk_maintenance_last_success_timestamp_seconds{task="audit:retention"}' in text


def test_an_invalid_retention_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid cron expression 'daily'"):
        AuditSettings(retention_schedule="daily")


def test_proofdesk_retention_runs_on_the_configured_databases(tmp_path: Path) -> None:
    config = tmp_path / "proofdesk.yaml"
    config.write_text(
        json.dumps(
            {
                "ingest": {"state_url": f"sqlite:///{tmp_path / 'state.db'}"},
                "audit": {"url": f"sqlite:///{tmp_path / 'audit.db'}"},
            }
        ),
        encoding="utf-8",
    )

    done = run_cli(config, "retention", "--json")
    refused = run_cli(config, "retention", "--days", "0")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["days"] == 365 and set(report) == {"days", "cutoff", "audit"}
    assert report["audit"] == {"answers": 0, "citations": 0, "feedback": 0, "reviews": 0}
    assert refused.returncode == 2


def test_retention_runs_under_its_task_lease(stores: Stores, tmp_path: Path) -> None:
    old, _ = _record_two(stores)
    jobs = JobStore(engine=create_state_engine(f"sqlite:///{tmp_path / 'jobs.db'}"))
    settings = Settings(audit=AuditSettings(retention_days=30))
    [task] = retention_tasks(settings, audit=stores.audit, jobs=jobs)

    with jobs.hold_task("retention"), pytest.raises(SourceBusyError, match="retention"):
        task.run()  # another run of the job (alive) holds the lease: nothing is deleted
    assert stores.audit.get(old) is not None

    task.run()
    assert stores.audit.get(old) is None and jobs.leases() == []


def test_proofdesk_retention_exits_3_while_another_run_holds_the_lease(tmp_path: Path) -> None:
    config = tmp_path / "proofdesk.yaml"
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    config.write_text(
        json.dumps(
            {"ingest": {"state_url": state_url}, "audit": {"url": f"sqlite:///{tmp_path / 'a.db'}"}}
        ),
        encoding="utf-8",
    )
    jobs = JobStore(engine=create_state_engine(state_url))

    with jobs.hold_task("retention", holder="the nightly retention"):
        busy = run_cli(config, "retention")
    done = run_cli(config, "retention")

    assert busy.returncode == 3, busy.stderr
    assert "retention is already run by the nightly retention" in busy.stderr
    assert done.returncode == 0, done.stderr
