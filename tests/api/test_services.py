"""The production wiring: `build_services` from settings (real model, index, policy, ingest),
and `create_app` building its own services in the lifespan."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from agent.pipeline import AnswerService
from api.api_settings import ApiSettings, InsecureSettingsError, JwtSettings
from api.app import create_app
from api.bootstrap.server import build_services
from api.runtime import GatedChat, ServiceRuntime
from api.settings import Settings
from api.sync_jobs import SyncJobs
from tests.fixtures.credentials import AUDIENCE, ISSUER, JWT_SECRET, Keys, bearer, make_token
from tests.fixtures.live_server import serve, stop
from tests.fixtures.served_lockers import lockers_settings


def _api(keys: Keys) -> ApiSettings:
    return ApiSettings(
        api_keys_file=keys.file,
        jwt=JwtSettings(secret=JWT_SECRET, issuer=ISSUER, audience=AUDIENCE),
        run_scheduler=False,
    )


def test_built_services_sync_and_answer_end_to_end(keys: Keys, tmp_path: Path) -> None:
    settings = lockers_settings(tmp_path)
    services = build_services(settings, _api(keys))
    runtime, sync = services.readiness, services.sources
    assert isinstance(runtime, ServiceRuntime) and isinstance(sync, SyncJobs)
    server = serve(create_app(settings, api_settings=_api(keys), services=services))
    try:
        assert runtime.wait_ready(120), runtime.readiness()
        bob = bearer(make_token("bob"))
        with httpx.Client(base_url=server.url, timeout=60) as http:
            ready = http.get("/readyz").json()
            assert ready["checks"] == {
                "model": "ok",
                "index": "ok",
                "policy": "ok",
                "rate_limits": "ok",
                "audit": "ok",  # the agent's pipeline keeps an audit record of every answer
            }
            before = http.post("/v1/chat", json={"question": "day lockers"}, headers=bob).json()
            assert before["status"] == "refused_no_evidence"
            r = http.post("/v1/sources/lockers-kb/sync", headers=keys.auth("admin"))
            assert r.status_code == 202, r.text
            assert sync.wait(r.json()["job_id"], timeout=120).status == "succeeded"
            after = http.post("/v1/chat", json={"question": "day lockers"}, headers=bob).json()
            assert after["status"] == "answered"
            assert after["citations"][0]["source_id"] == "lockers-kb"
            judy = bearer(make_token("judy"))  # a contractor: not in all-staff
            hidden = http.post("/v1/chat", json={"question": "day lockers"}, headers=judy)
            assert hidden.json()["status"] == "refused_no_evidence"
            # The pipeline counts every answer it gives (no wrapper in between does it).
            metrics = http.get("/metrics").text
            assert 'proofdesk_pipeline_answers_total{status="answered"} 1.0' in metrics
            assert 'proofdesk_pipeline_answers_total{status="refused_no_evidence"} 2.0' in metrics
        # The walk of a chat request: ChatApi -> the readiness gate -> AnswerService.
        assert isinstance(services.chat, GatedChat)
        assert type(runtime.engines().chat) is AnswerService
    finally:
        stop(server)


def test_create_app_builds_and_closes_its_own_services(keys: Keys, tmp_path: Path) -> None:
    settings = lockers_settings(tmp_path)
    app = create_app(settings, api_settings=_api(keys))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)
        assert (
            client.get("/v1/sources", headers=keys.auth("admin")).json()["sources"][0]["id"]
            == "lockers-kb"
        )
    # Closed: the index opens again (Qdrant Edge allows one holder at a time).
    services = build_services(settings, _api(keys))
    runtime = services.readiness
    assert isinstance(runtime, ServiceRuntime)
    with TestClient(create_app(settings, api_settings=_api(keys), services=services)) as client:
        assert runtime.wait_ready(120), runtime.readiness()
        r = client.post("/v1/chat", json={"question": "lockers"}, headers=bearer(make_token("bob")))
        assert r.status_code == 200
        assert r.json()["composer"] == "extractive"


def test_production_refuses_insecure_settings(keys: Keys, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no credentials"):
        Settings(environment="production")  # the settings themselves refuse to build
    settings = Settings(environment="production", api=ApiSettings(api_keys_file=keys.file))
    weak = ApiSettings(jwt=JwtSettings(secret="short", issuer=ISSUER, audience=AUDIENCE))
    with pytest.raises(InsecureSettingsError, match="shorter than 32"):
        create_app(settings, api_settings=weak)
    placeholder = "changeme-changeme-changeme-changeme-changeme"
    with pytest.raises(InsecureSettingsError, match="placeholder"):
        ApiSettings(
            jwt=JwtSettings(secret=placeholder, issuer=ISSUER, audience=AUDIENCE)
        ).check_for("production")
    with pytest.raises(InsecureSettingsError, match="no credentials"):
        ApiSettings().check_for("production")
    with pytest.raises(InsecureSettingsError, match="cors"):
        ApiSettings(api_keys_file=keys.file, cors_origins=["*"]).check_for("production")
    ApiSettings(
        api_keys_file=keys.file,
        jwt=JwtSettings(secret=JWT_SECRET, issuer=ISSUER, audience=AUDIENCE),
    ).check_for("production")
    ApiSettings().check_for("development")  # anything goes outside production


@pytest.mark.parametrize(
    "jwt",
    [
        {"secret": JWT_SECRET},  # no issuer / audience
        {"secret": JWT_SECRET, "public_key_file": "k.pem", "issuer": "i", "audience": "a"},
        {"public_key_file": "k.pem", "algorithms": ["HS256"], "issuer": "i", "audience": "a"},
        {"secret": JWT_SECRET, "algorithms": ["RS256"], "issuer": "i", "audience": "a"},
    ],
)
def test_jwt_settings_are_validated(jwt: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="jwt"):
        JwtSettings.model_validate(jwt)


def test_rate_limit_strings_are_validated() -> None:
    with pytest.raises(ValueError, match="invalid rate limit"):
        ApiSettings.model_validate({"rate_limits": {"per_key": "lots per minute"}})


def test_the_served_app_feeds_rated_answers_into_the_audit_review(
    keys: Keys, tmp_path: Path
) -> None:
    # The whole path as deployed: ingest through the API, answer, a negative rating, and the
    # answer in the auditors' queue, on the API and on the review page.
    settings = lockers_settings(tmp_path)
    services = build_services(settings, _api(keys))
    runtime = services.readiness
    assert isinstance(runtime, ServiceRuntime)
    auditor = keys.auth("everything") | {"X-Proofdesk-User": "oscar"}  # act_as + audit scopes
    with TestClient(create_app(settings, api_settings=_api(keys), services=services)) as client:
        assert runtime.wait_ready(120), runtime.readiness()
        job = client.post("/v1/sources/lockers-kb/sync", headers=keys.auth("admin"))
        assert job.status_code == 202, job.text
        for _ in range(600):
            state = client.get(job.headers["Location"], headers=keys.auth("admin")).json()
            if state["status"] != "running":
                break
            runtime.wait_ready(0.1)  # a bounded wait between polls, not a synchronisation
        assert state["status"] == "succeeded", state
        asked = client.post(
            "/v1/chat",
            json={"question": "Where do I get a key for a long-term locker?"},
            headers=bearer(make_token("bob", ("all-staff",))),
        )
        assert asked.status_code == 200 and asked.json()["status"] == "answered", asked.text
        answer_id = asked.json()["answer_id"]
        rated = client.post(
            f"/v1/answers/{answer_id}/feedback",
            json={"rating": -1, "comment": "Call me on +1 503 555 0143, this is wrong"},
            headers=bearer(make_token("bob", ("all-staff",))),
        )
        assert rated.status_code in (200, 201), rated.text
        queue = client.get("/v1/audit/queue", headers=auditor)
        assert queue.status_code == 200, queue.text
        items = {item["answer_id"]: item for item in queue.json()["items"]}
        assert "negative_feedback" in items[answer_id]["reasons"]
        # The review page signs in with the auditor's own credential (no acting for someone).
        oscar = bearer(make_token("oscar", ("all-staff", "auditors")))
        page = client.get(f"/audit/answers/{answer_id}", headers=oscar)
        assert page.status_code == 200, page.text
        assert "long-term" in page.text and "555 0143" not in page.text
        # Not an auditor: the policy decides, whatever the key's scopes.
        bob = keys.auth("everything") | {"X-Proofdesk-User": "bob"}
        assert client.get("/v1/audit/queue", headers=bob).status_code == 403
    # At rest, the audit record (the one store of answers and feedback) holds the comment
    # masked, and the state database holds no comment at all.
    dumps = {}
    for database in ("state.db", "audit.db"):
        with sqlite3.connect(tmp_path / database) as connection:
            dumps[database] = "\n".join(connection.iterdump())
        assert "555 0143" not in dumps[database], database
    assert "this is wrong" in dumps["audit.db"] and "this is wrong" not in dumps["state.db"]


def _analysis_workers() -> set[int]:
    """This process's PII analysis worker processes (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent == os.getpid() and b"policies.pii.analysis_worker" in command:
            found.add(int(entry.name))
    return found


def test_a_served_api_analyses_pii_in_worker_processes_it_stops_on_close(
    keys: Keys, tmp_path: Path
) -> None:
    before = _analysis_workers()
    services = build_services(lockers_settings(tmp_path), _api(keys))
    try:
        started = _analysis_workers() - before
        assert len(started) == (2 if (os.cpu_count() or 1) >= 2 else 0)
    finally:
        services.close()
    assert not _analysis_workers() & started
