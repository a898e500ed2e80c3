"""Sources and sync jobs: list, start (202, then the job finishes), 404, 409, 503, jobs; state
prune.

On the app as `proofdesk serve` builds it (`tests/fixtures/served_app.py`: sources staff-kb and
hr-kb). The 503 while the index is not ready uses the stand-in app (`build_harness`): it needs a
start-up that never finishes, which the served app's real start-up cannot be made to do.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import numpy as np

from ingest.jobs import JobStore
from ingest.state import StateStore, create_state_engine
from tests.fixtures.credentials import Keys, bearer, make_token
from tests.fixtures.harness import BlockingChat, build_harness, running
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.served_app import ServedApp

SOURCES = ["staff-kb", "hr-kb"]  # as the served app's sources file lists them


def _jobs(served: ServedApp) -> JobStore:
    """The served app's job store, as another process (a CLI sync) sees it."""
    return JobStore(engine=create_state_engine(served.settings.ingest.state_url))


def _sample(metrics: str, name: str) -> float:
    """The value of the sample `name` (with its labels) in the Prometheus text; 0 if absent."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def _closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_list_sources(client: httpx.Client, served: ServedApp) -> None:
    # The audit key's user is no auditor: the scope alone does not open the audit surface.
    assert client.get("/v1/sources", headers=served.auth("audit_svc")).status_code == 403
    for headers in (served.auth("ops"), bearer(make_token("oscar"))):
        r = client.get("/v1/sources", headers=headers)
        assert r.status_code == 200
        assert [s["id"] for s in r.json()["sources"]] == SOURCES
        assert set(r.json()["sources"][0]) == {"id", "kind", "description", "enabled", "schedule"}


def test_sync_runs_in_the_background_and_is_recorded(
    client: httpx.Client, served: ServedApp
) -> None:
    admin = served.auth("ops")
    started = "proofdesk_sync_jobs_started_total"
    before = _sample(client.get("/metrics").text, started)  # the served app is shared
    r = client.post("/v1/sources/staff-kb/sync", headers=admin)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["source_id"] == "staff-kb" and job["trigger"] == "api"
    assert job["status"] == "running"
    assert r.headers["Location"] == f"/v1/jobs/{job['job_id']}"
    finished = served.sync.wait(job["job_id"], timeout=120)
    assert finished.status == "succeeded", finished.error
    r = client.get(f"/v1/jobs/{job['job_id']}", headers=admin)
    assert r.status_code == 200
    assert r.json()["status"] == "succeeded"
    assert r.json()["report"]["source_id"] == "staff-kb"
    listed = client.get("/v1/jobs", params={"source_id": "staff-kb", "limit": 5}, headers=admin)
    assert job["job_id"] in [j["job_id"] for j in listed.json()["jobs"]]
    assert _sample(client.get("/metrics").text, started) == before + 1


def test_unknown_source_is_404(client: httpx.Client, served: ServedApp) -> None:
    r = client.post("/v1/sources/not-approved/sync", headers=served.auth("ops"))
    assert r.status_code == 404
    assert r.json()["error"] | {"message": ""} == {
        "type": "not_found_error",
        "code": "unknown_source",
        "message": "",
    }
    r = client.post("/v1/sources/Not..Valid/sync", headers=served.auth("ops"))
    assert r.status_code == 422


def test_a_source_already_syncing_is_409(client: httpx.Client, served: ServedApp) -> None:
    # Another process (here: this test) holds the source's lease, as a CLI run would.
    with _jobs(served).run("staff-kb", trigger="cli", holder="other-host:1"):
        r = client.post("/v1/sources/staff-kb/sync", headers=served.auth("ops"))
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["type"] == "conflict_error" and error["code"] == "source_busy"
    assert "other-host:1" in error["message"]


def test_jobs_listing_and_unknown_job(client: httpx.Client, served: ServedApp) -> None:
    r = client.get("/v1/jobs", headers=bearer(make_token("oscar")))  # an auditor
    assert r.status_code == 200 and isinstance(r.json()["jobs"], list)
    r = client.get("/v1/jobs/00000000-0000-0000-0000-000000000000", headers=served.auth("ops"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found"
    r = client.get("/v1/jobs", params={"limit": 0}, headers=served.auth("ops"))
    assert r.status_code == 422
    assert client.get("/v1/jobs", headers=bearer(make_token("bob"))).status_code == 403


def test_sync_while_the_index_is_not_ready_is_503(
    kb_index: KbIndex, keys: Keys, tmp_path: Path
) -> None:
    chat = BlockingChat()

    def start_up_never_finishes(progress: object) -> object:
        chat.release.wait(30)
        raise RuntimeError("stopped")

    h = build_harness(
        kb_index=kb_index, keys=keys, tmp_path=tmp_path, build=start_up_never_finishes
    )
    try:
        with running(h, wait_ready=False):
            r = h.http.post("/v1/sources/it-kb/sync", headers=keys.auth("admin"))
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "not_ready"
            assert r.headers["Retry-After"]
            assert h.http.get("/v1/sources", headers=keys.auth("admin")).status_code == 200
            chat.release.set()
    finally:
        chat.release.set()


def test_prune_through_the_api_removes_what_no_chunk_uses(
    client: httpx.Client, served: ServedApp
) -> None:
    admin = served.auth("ops")
    rows = 'proofdesk_state_rows_pruned_total{table="embedding_cache"}'
    before = _sample(client.get("/metrics").text, rows)  # the served app is shared
    state = StateStore(engine=create_state_engine(served.settings.ingest.state_url))
    stale = {"f" * 64: np.ones(4, dtype=np.float32)}  # no chunk's embedding key
    state.cache_embeddings(stale)

    dry = client.post("/v1/state/prune", params={"dry_run": "true"}, headers=admin)
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True
    assert dry.json()["tables"]["embedding_cache"]["removed"] == 1
    assert state.cached_embeddings(list(stale)) != {}  # a dry run removes nothing

    done = client.post("/v1/state/prune", headers=admin)

    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["dry_run"], body["removed"]) == (False, 1)
    # The index's chunks are kept (each of the two documents has one at least).
    assert body["chunks"] == dry.json()["chunks"] >= len(SOURCES)
    assert state.cached_embeddings(list(stale)) == {}
    metrics = client.get("/metrics").text  # the dry run counted nothing
    assert _sample(metrics, rows) == before + 1
    assert 'proofdesk_maintenance_last_success_timestamp_seconds{task="state:prune"}' in metrics


def test_prune_needs_the_admin_scope_and_waits_for_no_sync(
    client: httpx.Client, served: ServedApp
) -> None:
    r = client.post("/v1/state/prune", headers=served.auth("audit_svc"))
    assert r.status_code == 403
    # Another process syncing the source (it holds the lease): 409, nothing removed.
    with _jobs(served).run("staff-kb", trigger="cli", holder="other-host:1"):
        r = client.post("/v1/state/prune", headers=served.auth("ops"))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "source_busy" and "other-host:1" in r.text
    r = client.post("/v1/state/prune", params={"dry_run": "maybe"}, headers=served.auth("ops"))
    assert r.status_code == 422


def test_proofdesk_prune_through_a_running_server(served: ServedApp) -> None:
    from typer.testing import CliRunner

    from api import cli

    admin, audit = served.keys["ops"], served.keys["audit_svc"]

    def remote(key: str, *args: str, url: str = served.url) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, ["prune", "--server", url, "--api-key", key, *args])
        return result.exit_code, result.output

    dry = CliRunner().invoke(
        cli.app, ["prune", "--server", served.url, "--api-key", admin, "--dry-run", "--json"]
    )
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dry_run"] is True  # the JSON alone on stdout; logs: stderr
    code, output = remote(admin)
    assert code == 0 and "rows removed" in output, output
    code, output = remote(audit)
    assert code == 1 and "403" in output
    code, output = remote(admin, url=_closed_port_url())  # no server there
    assert code == 1 and "cannot reach" in output
