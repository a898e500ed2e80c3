"""Job records, per-source leases (across processes) and the cron scheduler."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from ingest.jobs import JobStore, SourceBusyError
from ingest.lease_holder import ProcessIdentity
from ingest.scheduler import ScheduledTask, Scheduler
from ingest.sources import SourceRegistry, load_sources
from ingest.state import create_state_engine
from tests.fixtures.clocks import WallClock


@pytest.fixture
def jobs(tmp_path: Path) -> JobStore:
    return JobStore(engine=create_state_engine(f"sqlite:///{tmp_path / 'state.db'}"))


def test_a_run_is_recorded_with_its_outcome(jobs: JobStore) -> None:
    with jobs.run("it-kb", trigger="cli") as job:
        job.report = {"added": 3}
        job.status = "partial"

    [record] = jobs.list()
    assert (record.source_id, record.trigger, record.status) == ("it-kb", "cli", "partial")
    assert record.report == {"added": 3}
    assert record.finished_at is not None and record.finished_at >= record.started_at


def test_a_run_that_raises_is_recorded_as_failed_and_releases_the_lease(jobs: JobStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), jobs.run("it-kb", trigger="cli"):
        raise RuntimeError("boom")

    [record] = jobs.list()
    assert record.status == "failed" and record.error == "RuntimeError: boom"
    with jobs.run("it-kb", trigger="cli"):
        pass  # the lease was released


def test_the_same_source_cannot_run_twice_at_once(jobs: JobStore) -> None:
    with (
        jobs.run("it-kb", trigger="cli"),
        pytest.raises(SourceBusyError, match="already being synced"),
        jobs.run("it-kb", trigger="schedule"),
    ):
        pass
    with jobs.run("it-kb", trigger="cli"), jobs.run("hr-kb", trigger="schedule"):
        pass  # other sources are independent


def test_the_lease_excludes_another_process(tmp_path: Path, jobs: JobStore) -> None:
    script = textwrap.dedent(
        f"""
        from ingest.jobs import JobStore, SourceBusyError
        from ingest.state import create_state_engine
        store = JobStore(engine=create_state_engine("sqlite:///{tmp_path / "state.db"}"))
        try:
            with store.run("it-kb", trigger="schedule"):
                print("ran")
        except SourceBusyError as exc:
            print("busy:", exc)
        """
    )
    with jobs.run("it-kb", trigger="cli"):
        held = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
    free = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert held.stdout.startswith("busy: source 'it-kb' is already being synced by")
    assert free.stdout.strip() == "ran"


HOLD_AND_WAIT = """
import sys, threading
from ingest.jobs import JobStore
from ingest.state import create_state_engine
store = JobStore(engine=create_state_engine(sys.argv[1]))
with store.run("it-kb", trigger="cli"):
    print("held", flush=True)
    sys.stdin.read()  # holds the lease until its stdin closes, or it is killed
"""


def _holding_child(url: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_WAIT, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_lease_of_a_killed_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    jobs = JobStore(engine=create_state_engine(url), lease_seconds=3600)
    child = _holding_child(url)
    try:
        with pytest.raises(SourceBusyError, match="already being synced"):
            jobs.run("it-kb", trigger="cli").__enter__()  # a live holder keeps its lease
        [lease] = jobs.leases()
        assert (lease.host, lease.pid) == (socket.gethostname(), child.pid)
    finally:
        child.kill()  # SIGKILL: no cleanup runs, the lease row stays
        child.wait()
    assert [lease.pid for lease in jobs.leases()] == [child.pid]

    with jobs.run("it-kb", trigger="schedule"):  # an hour before the lease would expire
        assert [lease.pid for lease in jobs.leases()] == [os.getpid()]
    assert sorted(r.status for r in jobs.list()) == ["abandoned", "succeeded"]


def test_a_lease_of_another_host_is_taken_over_only_when_it_expires(tmp_path: Path) -> None:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    elsewhere = ProcessIdentity(host="other-host", pid=os.getpid() + 10**6)
    far = JobStore(engine=engine, lease_seconds=3600, identity=elsewhere)
    held = far.run("it-kb", trigger="cli")
    held.__enter__()  # a run on a host whose processes are not visible from here
    jobs = JobStore(engine=engine)
    with pytest.raises(SourceBusyError, match="other-host"):
        jobs.run("it-kb", trigger="cli").__enter__()

    expired = JobStore(
        engine=engine, lease_seconds=1e-6, heartbeat_seconds=3600, identity=elsewhere
    )
    stale = expired.run("hr-kb", trigger="cli")
    stale.__enter__()
    with jobs.run("hr-kb", trigger="schedule"):
        pass


def test_a_held_lease_is_renewed_by_its_heartbeat(tmp_path: Path) -> None:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    holder = JobStore(engine=engine, lease_seconds=0.6, heartbeat_seconds=0.05)
    # Another process's view: same host, the holder's process alive, so only expiry counts.
    other = JobStore(engine=engine, identity=ProcessIdentity(socket.gethostname(), os.getpid()))
    with holder.run("it-kb", trigger="cli"):
        [first] = holder.leases()
        _wait_for(lambda: datetime.now(UTC) > first.expires_at + timedelta(seconds=0.2))
        [now] = holder.leases()
        assert now.expires_at > first.expires_at  # renewed past its first expiry
        with pytest.raises(SourceBusyError):
            other.run("it-kb", trigger="schedule").__enter__()
    assert holder.leases() == []


def test_renew_extends_only_the_named_lease(jobs: JobStore) -> None:
    with jobs.run("it-kb", trigger="cli") as job, jobs.hold(["hr-kb"]):
        before = {lease.name: lease.expires_at for lease in jobs.leases()}
        assert jobs.renew(job.job_id) == 1
        after = {lease.name: lease.expires_at for lease in jobs.leases()}
    assert after["it-kb"] > before["it-kb"] and after["hr-kb"] == before["hr-kb"]
    assert jobs.renew(job.job_id) == 0  # released


def test_a_task_lease_excludes_a_second_run_of_the_task(jobs: JobStore) -> None:
    with jobs.hold_task("retention"):
        with pytest.raises(SourceBusyError, match="retention is already run by"):
            jobs.hold_task("retention").__enter__()
        with jobs.run("it-kb", trigger="cli"):
            pass  # sources are independent of the task
    with jobs.hold_task("retention"):
        pass


def test_leases_of_an_older_table_gain_the_holder_columns(tmp_path: Path) -> None:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE pd_source_leases (source_id VARCHAR(64) PRIMARY KEY, "
                "holder VARCHAR(256), job_id VARCHAR(36), expires_at DATETIME)"
            )
        )
    jobs = JobStore(engine=engine)
    with jobs.run("it-kb", trigger="cli"):
        [lease] = jobs.leases()
    assert lease.pid == os.getpid()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture
def registry(tmp_path: Path) -> SourceRegistry:
    (tmp_path / "a").mkdir()
    root = tmp_path / "a"
    entries = [
        {"id": "hourly", "schedule": "0 * * * *"},
        {"id": "nightly", "schedule": "30 2 * * *"},
        {"id": "manual"},
    ]
    sources = [{"kind": "filesystem", "root": str(root), "read": ["public"], **e} for e in entries]
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    return load_sources(path)


def test_scheduler_runs_sources_when_due_and_never_unscheduled_ones(
    registry: SourceRegistry,
) -> None:
    clock = WallClock(datetime(2026, 11, 21, 10, 5, tzinfo=UTC))
    last = {
        "hourly": datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        "nightly": datetime(2026, 11, 21, 2, 30, tzinfo=UTC),
    }
    ran: list[str] = []
    sched = Scheduler(registry=registry, run_source=ran.append, last_run=last.get, clock=clock)

    assert sched.tick() == []
    clock.now += timedelta(minutes=55)
    assert sched.tick() == ["hourly"]
    assert sched.tick() == []  # once per due time
    clock.now = datetime(2026, 11, 22, 2, 31, tzinfo=UTC)
    assert sorted(sched.tick()) == ["hourly", "nightly"]  # missed hours run once, not 16 times
    assert "manual" not in ran


def test_scheduler_runs_a_never_run_source_at_once(registry: SourceRegistry) -> None:
    ran: list[str] = []
    sched = Scheduler(
        registry=registry,
        run_source=ran.append,
        clock=WallClock(datetime(2026, 11, 21, 10, 5, tzinfo=UTC)),
    )
    assert sorted(sched.tick()) == ["hourly", "nightly"]


def test_scheduler_skips_a_source_busy_elsewhere_and_keeps_going(registry: SourceRegistry) -> None:
    def run(source_id: str) -> None:
        if source_id == "hourly":
            raise SourceBusyError("source 'hourly' is already being synced by host:1")

    sched = Scheduler(
        registry=registry,
        run_source=run,
        clock=WallClock(datetime(2026, 11, 21, 10, 5, tzinfo=UTC)),
    )
    assert sched.tick() == ["nightly"]
    assert sched.next_runs()["hourly"] == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)


def test_a_task_waits_for_its_first_due_time_then_runs_once_per_due_time(
    registry: SourceRegistry,
) -> None:
    clock = WallClock(datetime(2026, 11, 21, 10, 5, tzinfo=UTC))
    last = {
        "hourly": datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        "nightly": datetime(2026, 11, 21, 2, 30, tzinfo=UTC),
    }
    ran: list[str] = []
    prune = ScheduledTask("state:prune", "30 3 * * *", lambda: ran.append("prune"))
    sched = Scheduler(
        registry=registry, run_source=ran.append, last_run=last.get, clock=clock, tasks=[prune]
    )

    assert sched.tick() == []  # never run: due at 03:30, not at every first start
    assert sched.next_runs()["state:prune"] == datetime(2026, 11, 22, 3, 30, tzinfo=UTC)
    clock.now = datetime(2026, 11, 22, 3, 31, tzinfo=UTC)
    assert sorted(sched.tick()) == ["hourly", "nightly", "state:prune"]
    assert sched.tick() == [] and ran.count("prune") == 1


def test_a_task_busy_elsewhere_is_skipped_and_a_bad_task_name_is_refused(
    registry: SourceRegistry,
) -> None:
    def busy() -> None:
        raise SourceBusyError("source 'hourly' is already being synced by host:1")

    clock = WallClock(datetime(2026, 11, 21, 10, 5, tzinfo=UTC))
    task = ScheduledTask("state:prune", "0 * * * *", busy, last_run=clock.now - timedelta(hours=2))
    sched = Scheduler(registry=registry, run_source=lambda _sid: None, clock=clock, tasks=[task])

    assert "state:prune" not in sched.tick()  # skipped, not crashed
    assert sched.next_runs()["state:prune"] == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="colon"):
        Scheduler(
            registry=registry, run_source=print, tasks=[ScheduledTask("hourly", "* * * * *", print)]
        )
