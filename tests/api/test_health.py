"""/healthz, /readyz (503 with reasons until the index and model are up), /metrics.

/healthz, /readyz and /metrics run on the app as `proofdesk serve` builds it
(`tests/fixtures/served_app.py`), not ready while another process holds its index. A failed start-up
and the log of readiness changes use the stand-in app (`build_harness`): they need a start-up
that fails, or is held until the test lets it finish, which the served app's real start-up
cannot be made to do.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from api.runtime import Engines, Progress, ServiceRuntime
from ingest.scheduler import Scheduler
from retrieval.embedding.embedder import Embedder
from tests.fixtures.credentials import Keys, bearer, make_token
from tests.fixtures.harness import build_harness, running
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.retrieval_chat import RetrievalChat
from tests.fixtures.served_app import STAFF_QUESTION, ServedApp, start_served

CHAT = {"question": "How do I set up the VPN client?"}


def test_healthz_and_readyz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    checks = {"model": "ok", "index": "ok", "policy": "ok", "rate_limits": "ok"}
    # The served app keeps an audit record of every answer: its database is checked too.
    assert r.json() == {"status": "ready", "checks": checks | {"audit": "ok"}}


def test_not_ready_is_503_with_reasons_then_ready(embedder: Embedder, tmp_path: Path) -> None:
    """The index is held by another process at first (here: this one): 503 with why; once it
    is let go, the served app opens it on its next try and answers."""
    chat = {"question": STAFF_QUESTION}
    bob = bearer(make_token("bob"))
    api = {"store_retry_seconds": 0.2}
    with start_served(tmp_path, embedder, api=api, index_held=True) as app, app.client() as http:
        deadline = time.monotonic() + 120  # the model loads first, then the index is tried
        while True:
            r = http.get("/readyz")
            message = r.json()["error"]["message"] if r.status_code == 503 else ""
            if "held by another process" in message or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["type"] == "unavailable_error" and error["code"] == "not_ready"
        assert "index: held by another process" in error["message"]
        assert "model" not in error["message"]  # loaded: only the index is missing
        assert r.headers["Retry-After"]
        r = http.post("/v1/chat", json=chat, headers=bob)
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        app.release_index()
        assert app.runtime.wait_ready(60), app.runtime.readiness()
        assert http.get("/readyz").status_code == 200
        r = http.post("/v1/chat", json=chat, headers=bob)
        assert r.status_code == 200 and r.json()["status"] == "answered", r.text


def test_a_failed_start_up_stays_not_ready(kb_index: KbIndex, keys: Keys, tmp_path: Path) -> None:
    def start_up(progress: Progress) -> Engines:
        raise ValueError("model file is corrupt")

    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path, build=start_up)
    with running(h, wait_ready=False):
        h.runtime.close()  # joins the start-up thread: it has given up
        r = h.http.get("/readyz")
        assert r.status_code == 503
        message = r.json()["error"]["message"]
        assert "startup: failed: ValueError (the server log has the details)" in message
        assert "corrupt" not in message  # an exception's text may name hosts or hold secrets


def test_the_runtime_runs_the_scheduler_once_ready(kb_index: KbIndex) -> None:
    ran = threading.Event()

    def run_source(source_id: str) -> object:
        ran.set()
        return None

    scheduler = Scheduler(registry=kb_index.registry, run_source=run_source)
    runtime = ServiceRuntime(
        build=lambda _p: Engines(chat=RetrievalChat(kb_index.retrieval), scheduler=scheduler)
    )
    runtime.start()
    try:
        assert runtime.wait_ready(30)
        assert ran.wait(30), "the scheduler did not run the due sources"
    finally:
        runtime.close()
    assert runtime.readiness().ready is False


def _answer_404s(metrics: str) -> float:
    """How many GET /v1/answers/{answer_id} were answered 404, by the route's template."""
    sample = (
        'proofdesk_http_request_duration_seconds_count{method="GET",'
        'route="/v1/answers/{answer_id}",status="404"} '
    )
    found = re.search(re.escape(sample) + r"(\S+)", metrics)
    return float(found[1]) if found else 0.0


def test_metrics_label_routes_by_template_without_user_data(
    client: httpx.Client, served: ServedApp
) -> None:
    before = _answer_404s(client.get("/metrics").text)  # the served app is shared
    client.get("/v1/answers/user-secret-id-123", headers=served.auth("chat"))
    client.get("/v1/unknown/alice@example.com")
    client.post("/v1/chat", json={"question": "my ssn is 078-05-1120"}, headers=served.auth("chat"))
    text = client.get("/metrics").text
    assert _answer_404s(text) == before + 1
    assert 'route="<unmatched>",status="404"' in text
    assert 'proofdesk_answers_total{status="' in text
    for secret in ("user-secret-id-123", "alice@example.com", "078-05-1120"):
        assert secret not in text


def test_readiness_polls_log_the_change_not_each_poll(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proceed = threading.Event()

    def start_up(progress: Progress) -> Engines:
        proceed.wait(30)
        return Engines(chat=RetrievalChat(kb_index.retrieval))

    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path, build=start_up)
    caplog.set_level(logging.INFO)
    try:
        with running(h, wait_ready=False):
            polls = [h.http.get("/readyz").status_code for _ in range(5)]
            proceed.set()
            assert h.runtime.wait_ready(30)
            polls += [h.http.get("/readyz").status_code for _ in range(3)]
    finally:
        proceed.set()

    assert polls == [503] * 5 + [200] * 3
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "readiness: not ready: index: starting; model: starting"
    ]  # today: one WARNING per 503 poll
    assert "readiness: ready" in [r.getMessage() for r in caplog.records]
