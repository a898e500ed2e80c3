"""Sources and sync jobs: list, start (202, then the job finishes), 404, 409, 503, jobs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from ingest.state import StateStore, create_state_engine
from tests.api.conftest import (
    BlockingChat,
    Harness,
    Keys,
    SyncIndex,
    bearer,
    build_harness,
    make_token,
    running,
    serve,
    stop,
)
from tests.kb_index import KbIndex


def test_list_sources(client: TestClient, keys: Keys) -> None:
    # The audit key's user is no auditor: the scope alone does not open the audit surface.
    assert client.get("/v1/sources", headers=keys.auth("audit")).status_code == 403
    for headers in (keys.auth("admin"), bearer(make_token("oscar"))):
        r = client.get("/v1/sources", headers=headers)
        assert r.status_code == 200
        assert [s["id"] for s in r.json()["sources"]] == ["demo-kb"]
        assert set(r.json()["sources"][0]) == {"id", "kind", "description", "enabled", "schedule"}


def test_sync_runs_in_the_background_and_is_recorded(harness: Harness) -> None:
    client, admin = harness.http, harness.keys.auth("admin")
    r = client.post("/v1/sources/demo-kb/sync", headers=admin)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["source_id"] == "demo-kb" and job["trigger"] == "api"
    assert job["status"] == "running"
    assert r.headers["Location"] == f"/v1/jobs/{job['job_id']}"
    finished = harness.sync.wait(job["job_id"], timeout=120)
    assert finished.status == "succeeded", finished.error
    r = client.get(f"/v1/jobs/{job['job_id']}", headers=admin)
    assert r.status_code == 200
    assert r.json()["status"] == "succeeded"
    assert r.json()["report"]["source_id"] == "demo-kb"
    listed = client.get("/v1/jobs", params={"source_id": "demo-kb", "limit": 5}, headers=admin)
    assert job["job_id"] in [j["job_id"] for j in listed.json()["jobs"]]
    assert "proofdesk_sync_jobs_started_total 1.0" in client.get("/metrics").text


def test_unknown_source_is_404(client: TestClient, keys: Keys) -> None:
    r = client.post("/v1/sources/not-approved/sync", headers=keys.auth("admin"))
    assert r.status_code == 404
    assert r.json()["error"] | {"message": ""} == {
        "type": "not_found_error",
        "code": "unknown_source",
        "message": "",
    }
    r = client.post("/v1/sources/Not..Valid/sync", headers=keys.auth("admin"))
    assert r.status_code == 422


def test_a_source_already_syncing_is_409(harness: Harness, sync_index: SyncIndex) -> None:
    # Another process (here: this test) holds the source's lease, as a CLI run would.
    with sync_index.job_store().run("demo-kb", trigger="cli", holder="other-host:1"):
        r = harness.http.post("/v1/sources/demo-kb/sync", headers=harness.keys.auth("admin"))
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["type"] == "conflict_error" and error["code"] == "source_busy"
    assert "other-host:1" in error["message"]


def test_jobs_listing_and_unknown_job(client: TestClient, keys: Keys) -> None:
    r = client.get("/v1/jobs", headers=bearer(make_token("oscar")))  # an auditor
    assert r.status_code == 200 and isinstance(r.json()["jobs"], list)
    r = client.get("/v1/jobs/00000000-0000-0000-0000-000000000000", headers=keys.auth("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found"
    assert (
        client.get("/v1/jobs", params={"limit": 0}, headers=keys.auth("admin")).status_code == 422
    )
    assert client.get("/v1/jobs", headers=bearer(make_token("bob"))).status_code == 403


def test_sync_while_the_index_is_not_ready_is_503(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, sync_index: SyncIndex
) -> None:
    chat = BlockingChat()

    def start_up_never_finishes(progress: object) -> object:
        chat.release.wait(30)
        raise RuntimeError("stopped")

    h = build_harness(
        kb_index=kb_index,
        keys=keys,
        tmp_path=tmp_path,
        sync_index=sync_index,
        build=start_up_never_finishes,
    )
    try:
        with running(h, wait_ready=False):
            r = h.http.post("/v1/sources/demo-kb/sync", headers=keys.auth("admin"))
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "not_ready"
            assert r.headers["Retry-After"]
            assert h.http.get("/v1/sources", headers=keys.auth("admin")).status_code == 200
            chat.release.set()
    finally:
        chat.release.set()


def test_prune_through_the_api_removes_what_no_chunk_uses(
    harness: Harness, sync_index: SyncIndex
) -> None:
    admin = harness.keys.auth("admin")
    state = StateStore(engine=create_state_engine(sync_index.engine_url))
    stale = {"f" * 64: np.ones(4, dtype=np.float32)}  # no chunk's embedding key
    state.cache_embeddings(stale)

    dry = harness.http.post("/v1/state/prune", params={"dry_run": "true"}, headers=admin)
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True
    assert dry.json()["tables"]["embedding_cache"]["removed"] == 1
    assert state.cached_embeddings(list(stale)) != {}  # a dry run removes nothing

    done = harness.http.post("/v1/state/prune", headers=admin)

    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["dry_run"], body["removed"], body["chunks"]) == (
        False,
        1,
        sync_index.store.count(),
    )
    assert state.cached_embeddings(list(stale)) == {}
    metrics = harness.http.get("/metrics").text  # the dry run counted nothing
    assert 'proofdesk_state_rows_pruned_total{table="embedding_cache"} 1.0' in metrics
    assert 'proofdesk_maintenance_last_success_timestamp_seconds{task="state:prune"}' in metrics


def test_prune_needs_the_admin_scope_and_waits_for_no_sync(
    harness: Harness, sync_index: SyncIndex
) -> None:
    r = harness.http.post("/v1/state/prune", headers=harness.keys.auth("audit"))
    assert r.status_code == 403
    # Another process syncing the source (it holds the lease): 409, nothing removed.
    with sync_index.job_store().run("demo-kb", trigger="cli", holder="other-host:1"):
        r = harness.http.post("/v1/state/prune", headers=harness.keys.auth("admin"))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "source_busy" and "other-host:1" in r.text
    assert (
        harness.http.post(
            "/v1/state/prune", params={"dry_run": "maybe"}, headers=harness.keys.auth("admin")
        ).status_code
        == 422
    )


def test_proofdesk_prune_through_a_running_server(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, sync_index: SyncIndex
) -> None:
    from typer.testing import CliRunner

    from api import cli

    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path, sync_index=sync_index)
    server = serve(h.app)
    try:
        assert h.runtime.wait_ready(30)

        def remote(key: str, *args: str) -> tuple[int, str]:
            result = CliRunner().invoke(
                cli.app, ["prune", "--server", server.url, "--api-key", key, *args]
            )
            return result.exit_code, result.output

        dry = CliRunner().invoke(
            cli.app,
            ["prune", "--server", server.url, "--api-key", keys.admin, "--dry-run", "--json"],
        )
        assert dry.exit_code == 0, dry.output
        assert json.loads(dry.stdout)["dry_run"] is True  # the JSON alone on stdout; logs: stderr
        code, output = remote(keys.admin)
        assert code == 0 and "rows removed" in output, output
        code, output = remote(keys.audit)
        assert code == 1 and "403" in output
    finally:
        stop(server)
    code, output = remote(keys.admin)
    assert code == 1 and "cannot reach" in output
