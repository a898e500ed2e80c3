"""The app exactly as `proofdesk serve` builds it, on a small knowledge base of its own.

`serve` builds `build_services(settings, settings.api)` and
runs `create_app(settings, services=services)` under uvicorn; `start_served` does the same, on a
loopback port, over a temp directory holding its sources, policy file, keys file, state, audit
database and Qdrant Edge index (ingested once, before the server opens it). Behaviour tests of
the API use it through HTTP, so what they check is what is served: the real embedding model,
the agent's answer pipeline, Casbin, Presidio, SQLite.

The knowledge base: `staff-kb` (all staff: lockers) and `hr-kb` (group hr: salary bands). The
policy file is a copy of the bundled one (dave is in hr, bob in all-staff, oscar an auditor,
trent an admin); `policy_edited` changes it for one test and puts it back.

Settings beyond the defaults, shared by every served app: the answer pipeline's question limit
(`agent.max_question_chars`, 1,500) is below the API's (2,000), so both refusals are reachable
(the API's 422 before the pipeline runs, the pipeline's own), and one browser origin is allowed
(CORS). `start_served(..., api={...})` overrides API settings (rate limits, JWT keys) for a
server of its own.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from agent.audit.store import AuditSettings
from agent.settings import AgentSettings
from api.answer_store import SqlAnswerStore
from api.api_settings import ApiSettings, JwtSettings, RateLimitSettings
from api.app import create_app
from api.auth import generate_api_key, hash_api_key
from api.bootstrap.components import Components
from api.bootstrap.index import build_ingest
from api.bootstrap.server import build_services
from api.runtime import ServiceRuntime
from api.services import ApiServices
from api.settings import Settings
from api.sync_jobs import SyncJobs
from ingest.settings import IngestSettings
from policies.access.settings import PolicySettings
from policies.pii.settings import RedactionSettings
from retrieval.embedding.embedder import Embedder
from retrieval.store import VectorStore
from retrieval.store_factory import StoreSettings, open_store
from tests.api.conftest import AUDIENCE, ISSUER, JWT_SECRET, LiveServer, serve, stop
from tests.kb_index import KB

__all__ = [
    "CORS_ORIGIN",
    "HR_QUESTION",
    "PIPELINE_MAX_QUESTION_CHARS",
    "STAFF_QUESTION",
    "ServedApp",
    "served_settings",
    "start_served",
]

STAFF_QUESTION = "How do I open a day locker?"
HR_QUESTION = "When are salary bands reviewed?"
CORS_ORIGIN = "https://helpdesk.example.com"
PIPELINE_MAX_QUESTION_CHARS = 1500

_DOCS = {
    "staff/lockers.md": """\
        # Lockers
        Day lockers on the second floor open with your staff badge.
        Keys for long-term lockers are issued by reception on request.
        """,
    "hr/salary-bands.md": """\
        # Salary bands
        Salary bands are reviewed every April by the compensation committee.
        A change of band takes effect on the first payroll after the review.
        """,
}

# name → (scopes, user); the raw keys are generated per run.
_KEYS: dict[str, tuple[list[str], str | None]] = {
    "ops": (["admin"], "svc-ops"),
    "widget_a": (["chat"], None),  # two integrations, neither with a user of its own
    "widget_b": (["chat"], None),
    "audit_keyonly": (["audit", "chat"], None),  # the audit scope, no user
    "audit_svc": (["audit", "chat"], "svc-audit"),  # the audit scope, not an auditor
    "audit_oscar": (["audit"], "oscar"),  # the audit scope, an auditor in the policy
    "chat": (["chat"], "svc-widget"),  # a user in no group: public documents only
    "act_as": (["chat", "act_as"], "svc-ticket-bot"),  # asks for the users it names
    "none": ([], None),  # no scope at all
    "everything": (["chat", "act_as", "admin", "audit"], "bob"),
}


@dataclass
class ServedApp:
    root: Path
    settings: Settings
    services: ApiServices
    live: LiveServer
    keys: dict[str, str]  # name → raw API key
    held: VectorStore | None = None  # the index, held open here (`start_served(index_held=True)`)

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def runtime(self) -> ServiceRuntime:
        runtime = self.services.readiness
        assert isinstance(runtime, ServiceRuntime)
        return runtime

    def release_index(self) -> None:
        """Let go of the index this process held: the server opens it on its next try."""
        assert self.held is not None, "the index is not held"
        self.held.close()
        self.held = None

    @property
    def policy_file(self) -> Path:
        return self.settings.policy.policy_path

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[key]}"}

    @property
    def sync(self) -> SyncJobs:
        sync = self.services.sources
        assert isinstance(sync, SyncJobs)
        return sync

    @property
    def answers(self) -> SqlAnswerStore:
        answers = self.services.answers
        assert isinstance(answers, SqlAnswerStore)
        return answers

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)

    @contextmanager
    def policy_edited(self, edit: Callable[[str], str]) -> Iterator[None]:
        """The policy file changed by `edit` for the block, then restored."""
        original = self.policy_file.read_text(encoding="utf-8")
        changed = edit(original)
        assert changed != original, "the edit changed nothing"
        self.policy_file.write_text(changed, encoding="utf-8")
        try:
            yield
        finally:
            self.policy_file.write_text(original, encoding="utf-8")


def served_settings(
    root: Path,
    *,
    policy: PolicySettings | None = None,
    keys: dict[str, str] | None = None,
    api: dict[str, Any] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Settings over a fresh small knowledge base under `root`, and the raw API keys (`keys`:
    the same raw keys as another served app's, e.g. a second replica); `api`: API settings
    that replace the defaults."""
    for name, text in _DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    sources = {
        "sources": [
            {
                "id": "staff-kb",
                "kind": "filesystem",
                "root": "./docs/staff",
                "read": ["group:all-staff"],
            },
            {"id": "hr-kb", "kind": "filesystem", "root": "./docs/hr", "read": ["group:hr"]},
        ]
    }
    (root / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    shutil.copy(KB / "policy.csv", root / "policy.csv")
    raw = keys or {name: generate_api_key() for name in _KEYS}
    entries = [
        {"id": name.replace("_", "-"), "hash": hash_api_key(raw[name]), "scopes": scopes}
        | ({"user_id": user} if user else {})
        for name, (scopes, user) in _KEYS.items()
    ]
    (root / "api_keys.yaml").write_text(yaml.safe_dump({"keys": entries}), encoding="utf-8")
    api_values: dict[str, Any] = {
        "api_keys_file": root / "api_keys.yaml",
        "jwt": JwtSettings(secret=JWT_SECRET, issuer=ISSUER, audience=AUDIENCE),
        "rate_limits": RateLimitSettings(per_key="100000/minute", per_user="100000/minute"),
        "cors_origins": [CORS_ORIGIN],
        "run_scheduler": False,
    } | (api or {})
    settings = Settings(
        ingest=IngestSettings(
            sources_file=root / "sources.yaml",
            state_url=f"sqlite:///{root / 'state.db'}",
            flag_pii=False,
            precompute_pii=False,
            prune_schedule=None,
        ),
        store=StoreSettings(path=root / "index"),
        policy=policy or PolicySettings(policy_path=root / "policy.csv"),
        audit=AuditSettings(url=f"sqlite:///{root / 'audit.db'}", retention_schedule=None),
        redaction=RedactionSettings(analysis_processes=0),
        agent=AgentSettings(max_question_chars=PIPELINE_MAX_QUESTION_CHARS),
        api=ApiSettings(**api_values),
    )
    return settings, raw


def _ingest(settings: Settings, embedder: Embedder) -> None:
    """Index every source once, then let go of the index (the server opens it next)."""
    with Components(settings, embedder=embedder) as parts:
        ctx = build_ingest(parts)
        for source in ctx.runner.service.registry.enabled():
            result = ctx.runner.run(source.id, trigger="cli")
            assert result.report.status == "succeeded", result.report
        ctx.store.optimize()


@contextmanager
def start_served(
    root: Path,
    embedder: Embedder,
    *,
    policy: PolicySettings | None = None,
    keys: dict[str, str] | None = None,
    api: dict[str, Any] | None = None,
    index_held: bool = False,
) -> Iterator[ServedApp]:
    """The served app over HTTP on 127.0.0.1, built as `proofdesk serve` builds it.

    `index_held`: this process holds the index open, as another process would, while the
    server starts (the server is yielded not ready; `ServedApp.release_index` lets go)."""
    settings, keys = served_settings(root, policy=policy, keys=keys, api=api)
    _ingest(settings, embedder)
    held = open_store(settings.store, dimension=embedder.dimension) if index_held else None
    services = build_services(settings, settings.api)
    live = serve(create_app(settings, services=services))
    app = ServedApp(
        root=root, settings=settings, services=services, live=live, keys=keys, held=held
    )
    try:
        if held is None:
            assert app.runtime.wait_ready(300), app.runtime.readiness()
        yield app
    finally:
        stop(live)
        if app.held is not None:
            app.release_index()
