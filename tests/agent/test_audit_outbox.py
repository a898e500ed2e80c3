"""Audit records survive an unreachable audit database: kept, masked, in a local outbox and
written once it answers again; a server started while it is down becomes ready when it comes
back. Real PostgreSQL behind a loopback TCP proxy that the tests stop and start."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.audit.outbox import AuditOutbox
from agent.audit.store import AuditSettings, AuditStore, DuplicateAnswerError
from agent.types import Answer
from api.runtime import Engines, ServiceRuntime
from policies.access.principal import Principal
from policies.pii.masking_worker import MaskingWorker
from tests.fixtures.answers import make_answer
from tests.fixtures.databases import audit_row_exists
from tests.fixtures.pii import make_guard
from tests.fixtures.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

EMAIL = "jane.doe@example.com"
USER = Principal(user_id="u1")


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    tcp = TcpProxy(("127.0.0.1", 5432))
    tcp.start()
    yield tcp
    tcp.stop()


def _url(proxy: TcpProxy) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test?connect_timeout=5"


def _store(
    proxy: TcpProxy, schema: str, tmp_path: Path, *, worker: MaskingWorker | None = None
) -> AuditStore:
    return AuditStore(
        url=_url(proxy),
        guard=make_guard(),
        schema=schema,
        worker=worker,
        outbox=AuditOutbox(tmp_path / "audit-outbox.db"),
        retry_seconds=0.05,
    )


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.mark.parametrize("queued", [False, True], ids=["in the request", "on the worker"])
def test_a_record_made_while_the_database_is_unreachable_is_kept_and_written_later(
    proxy: TcpProxy, schema: str, tmp_path: Path, queued: bool
) -> None:
    worker = MaskingWorker() if queued else None
    store = _store(proxy, schema, tmp_path, worker=worker)
    before = make_answer("printer queue")
    store.record(before, USER)
    if worker is not None:
        assert worker.drain(30)
    assert audit_row_exists(schema, before.answer_id)
    proxy.stop()
    during = make_answer(f"mail {EMAIL} about the printer")

    store.record(during, USER, owner="user:u1")  # the answer is served: recording does not fail
    if worker is not None:
        assert worker.drain(30)
    # Its asker reads it back meanwhile (`GET /v1/answers/{id}`): from the outbox, masked.
    kept = store.get(during.answer_id)
    assert kept is not None and EMAIL not in kept.question and len(kept.citations) == 2
    assert store.asked_by(kept, "user:u1") and not store.asked_by(kept, "user:u2")

    health = store.health()
    assert (health.reachable, health.pending, health.lost) == (False, 1, 0)
    assert "unreachable" in health.summary() and "1 records kept" in health.summary()
    assert EMAIL.encode() not in (tmp_path / "audit-outbox.db").read_bytes()  # masked only
    assert not audit_row_exists(schema, during.answer_id)

    proxy.start()
    _wait_for(lambda: store.health().pending == 0)  # the delivery thread writes it

    assert audit_row_exists(schema, during.answer_id) and audit_row_exists(schema, before.answer_id)
    record = store.get(during.answer_id)
    assert record is not None and EMAIL not in record.question
    assert store.asked_by(record, "user:u1")  # the asker travelled with the kept row
    assert len(record.citations) == 2 and store.health().summary() == "ok"
    store.close()
    if worker is not None:
        worker.close()


def test_kept_records_outlive_the_process_and_a_duplicate_is_not_written_twice(
    proxy: TcpProxy, schema: str, tmp_path: Path
) -> None:
    first = _store(proxy, schema, tmp_path)
    proxy.stop()
    answer = make_answer("kept across a restart")
    first.record(answer, USER)
    first.close()  # the process ends with the record still in the outbox

    proxy.start()
    second = _store(proxy, schema, tmp_path)
    assert second.deliver_outbox() == 1
    assert audit_row_exists(schema, answer.answer_id) and second.health().pending == 0
    with pytest.raises(DuplicateAnswerError):
        second.record(answer, USER)  # the same id again: refused, as without an outbox
    second.close()


def _runtime_building(
    proxy: TcpProxy, schema: str, tmp_path: Path, *, required: bool
) -> tuple[ServiceRuntime, list[AuditStore]]:
    stores: list[AuditStore] = []

    def build(progress: Callable[[str, str], None]) -> Engines:
        store = _store(proxy, schema, tmp_path)  # migrations connect: fails while it is down
        stores.append(store)
        return Engines(chat=_NoChat(), audit=store, closers=[store.close])

    runtime = ServiceRuntime(build=build, retry_seconds=0.05, audit_required=required)
    return runtime, stores


class _NoChat:
    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer:
        raise AssertionError("not called")


def test_a_server_started_while_the_audit_database_is_down_becomes_ready_when_it_returns(
    proxy: TcpProxy, schema: str, tmp_path: Path
) -> None:
    proxy.stop()
    runtime, _ = _runtime_building(proxy, schema, tmp_path, required=True)
    runtime.start()
    _wait_for(lambda: "unreachable" in runtime.readiness().checks.get("startup", ""))

    reasons = " ".join(runtime.readiness().checks.values())
    assert not runtime.readiness().ready
    assert str(proxy.port) not in reasons and "127.0.0.1" not in reasons  # no host or port
    assert "psycopg" not in reasons and "Connection refused" not in reasons

    proxy.start()
    assert runtime.wait_ready(30)
    assert runtime.readiness().checks["audit"] == "ok"
    runtime.close()


@pytest.mark.parametrize("required", [True, False])
def test_readiness_reports_the_audit_database(
    proxy: TcpProxy, schema: str, tmp_path: Path, required: bool
) -> None:
    runtime, stores = _runtime_building(proxy, schema, tmp_path, required=required)
    runtime.start()
    assert runtime.wait_ready(30)
    proxy.stop()
    stores[0].record(make_answer("while down"), USER)

    readiness = runtime.readiness()

    assert readiness.ready is not required  # required: out of the load balancer meanwhile
    assert readiness.checks["audit"].startswith("database unreachable; 1 records kept")
    proxy.start()
    _wait_for(lambda: runtime.readiness().ready)
    runtime.close()


def test_the_outbox_is_on_by_default_next_to_a_sqlite_audit_database(tmp_path: Path) -> None:
    settings = AuditSettings(url=f"sqlite:///{tmp_path / 'audit.db'}")
    store = AuditStore.from_settings(settings, guard=make_guard())
    assert (tmp_path / "audit.db.outbox").exists() and store.health().summary() == "ok"
    store.close()
    off = AuditStore.from_settings(
        settings.model_copy(update={"outbox": False}), guard=make_guard()
    )
    off.close()
