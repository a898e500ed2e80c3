"""The served app (`create_app` as `proofdesk serve` builds it, over HTTP) with its audit record
on real PostgreSQL behind a loopback TCP proxy: started while the database is down, it becomes
ready when it comes back; answers given during an outage are kept in the outbox (their askers
read them back from there) and written after it; `/readyz` and `/metrics` say so, without
hosts, ports or driver messages."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agent.audit.store import AuditSettings
from api.api_settings import ApiSettings
from api.app import create_app
from api.bootstrap.server import build_services
from api.runtime import ServiceRuntime
from api.sync_jobs import SyncJobs
from tests.fixtures.credentials import Keys, api_settings, bearer, make_token
from tests.fixtures.databases import audit_row_exists
from tests.fixtures.live_server import serve, stop
from tests.fixtures.served_lockers import lockers_settings
from tests.fixtures.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    tcp = TcpProxy(("127.0.0.1", 5432))
    yield tcp
    tcp.stop()


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def _pending(http: httpx.Client) -> float:
    found = re.search(r"^proofdesk_audit_records_pending (\S+)$", http.get("/metrics").text, re.M)
    assert found is not None
    return float(found.group(1))


def test_the_served_app_keeps_audit_records_through_a_database_outage(
    keys: Keys,
    tmp_path: Path,
    proxy: TcpProxy,
    schema: str,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test?connect_timeout=5"
    settings = lockers_settings(tmp_path).model_copy(
        update={
            "audit": AuditSettings(
                url=url, db_schema=schema, outbox_path=tmp_path / "outbox.db", retry_seconds=0.1
            )
        }
    )
    api: ApiSettings = api_settings(keys).model_copy(update={"store_retry_seconds": 0.2})
    services = build_services(settings, api)
    runtime, sync = services.readiness, services.sources
    assert isinstance(runtime, ServiceRuntime) and isinstance(sync, SyncJobs)
    server = serve(create_app(settings, api_settings=api, services=services))
    bob = bearer(make_token("bob", ("all-staff",)))
    question = {"question": "Where do I get a key for a long-term locker?"}
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            # Started while the audit database is down: not ready, and it says why, no more.
            _wait_for(lambda: "unreachable" in http.get("/readyz").text)
            down = http.get("/readyz")
            assert down.status_code == 503
            assert str(proxy.port) not in down.text and "127.0.0.1" not in down.text
            assert "psycopg" not in down.text.lower() and "refused" not in down.text.lower()

            proxy.start()  # it comes back: ready without a restart
            assert runtime.wait_ready(120), runtime.readiness()
            assert http.get("/readyz").json()["checks"]["audit"] == "ok"
            job = http.post("/v1/sources/lockers-kb/sync", headers=keys.auth("admin"))
            assert job.status_code == 202, job.text
            assert sync.wait(job.json()["job_id"], timeout=120).status == "succeeded"

            proxy.stop()  # an outage while serving
            asked = http.post("/v1/chat", json=question, headers=bob)
            assert asked.status_code == 200 and asked.json()["status"] == "answered", asked.text
            answer_id = asked.json()["answer_id"]
            _wait_for(lambda: _pending(http) == 1.0)
            # Its asker reads it back meanwhile: from the outbox, as it will be recorded.
            kept = http.get(f"/v1/answers/{answer_id}", headers=bob)
            assert kept.status_code == 200, kept.text
            shown, given = kept.json(), asked.json()
            assert (shown["answer_id"], shown["status"]) == (answer_id, given["status"])
            assert [c["chunk_id"] for c in shown["citations"]] == [
                c["chunk_id"] for c in given["citations"]
            ]
            outage = http.get("/readyz")
            assert outage.status_code == 503  # audit.required (the default): out of rotation
            assert "database unreachable; 1 records kept in the outbox" in outage.text
            assert str(proxy.port) not in outage.text

            proxy.start()
            _wait_for(lambda: _pending(http) == 0.0)
            assert audit_row_exists(schema, answer_id)
            assert http.get("/readyz").status_code == 200
    finally:
        stop(server)
        proxy.stop()
