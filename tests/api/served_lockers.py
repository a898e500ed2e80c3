"""The app exactly as `proofdesk serve` builds it (`build_services` + `create_app`, real model,
index, policy file, Presidio and audit store), on uvicorn over loopback, with one small source
("lockers-kb", readable by group:all-staff) synced through the API."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from agent.audit.store import AuditSettings
from api.app import create_app
from api.bootstrap.server import build_services
from api.runtime import ServiceRuntime
from api.settings import Settings
from api.sync_jobs import SyncJobs
from ingest.settings import IngestSettings
from policies.access.settings import PolicySettings
from policies.pii.settings import RedactionSettings
from retrieval.store_factory import StoreSettings
from tests.api.conftest import Keys, api_settings, bearer, make_token, serve, stop
from tests.kb_index import KB

LOCKERS = textwrap.dedent("""\
    # Lockers
    Day lockers on the second floor open with your staff badge. Keys for long-term
    lockers are issued by reception on request.
    """)


@dataclass
class Served:
    url: str
    root: Path  # docs/lockers.md, policy.csv (both may be edited)
    sync: SyncJobs
    keys: Keys

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=120) as http:
            return http.post(path, json=body, headers=headers)

    def ask(self, user: str, question: str) -> dict[str, Any]:
        r = self.post("/v1/chat", {"question": question}, bearer(make_token(user)))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def resync(self) -> None:
        r = self.post("/v1/sources/lockers-kb/sync", {}, self.keys.auth("admin"))
        assert r.status_code == 202, r.text
        assert self.sync.wait(r.json()["job_id"], timeout=300).status == "succeeded"

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=30)


@contextmanager
def served_app(keys: Keys, root: Path) -> Iterator[Served]:
    (root / "docs").mkdir()
    (root / "docs" / "lockers.md").write_text(LOCKERS, encoding="utf-8")
    source = {
        "id": "lockers-kb",
        "kind": "filesystem",
        "root": "./docs",
        "read": ["group:all-staff"],
    }
    (root / "sources.yaml").write_text(yaml.safe_dump({"sources": [source]}), encoding="utf-8")
    shutil.copy(KB / "policy.csv", root / "policy.csv")
    settings = Settings(
        ingest=IngestSettings(
            sources_file=root / "sources.yaml",
            state_url=f"sqlite:///{root / 'state.db'}",
            flag_pii=False,
        ),
        store=StoreSettings(path=root / "index"),
        policy=PolicySettings(policy_path=root / "policy.csv"),
        audit=AuditSettings(url=f"sqlite:///{root / 'audit.db'}"),
        redaction=RedactionSettings(analysis_processes=0),
        api=api_settings(keys),
    )
    # Exactly as `proofdesk serve` builds the app.
    services = build_services(settings, settings.api)
    runtime, sync = services.readiness, services.sources
    assert isinstance(runtime, ServiceRuntime) and isinstance(sync, SyncJobs)
    server = serve(create_app(settings, services=services))
    try:
        assert runtime.wait_ready(300), runtime.readiness()
        s = Served(url=server.url, root=root, sync=sync, keys=keys)
        s.resync()
        yield s
    finally:
        stop(server)
