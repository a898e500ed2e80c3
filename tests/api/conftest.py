"""API test fixtures: real keys file, real policy, real retrieval and ingest, the app over HTTP."""

from __future__ import annotations

import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import uvicorn
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from agent.pipeline import AnswerService
from agent.types import Answer
from api.answer_store import SqlAnswerStore
from api.api_settings import ApiSettings, JwtSettings, RateLimitSettings
from api.app import create_app
from api.auth import ApiKeyStore, Authenticator, JwtVerifier, generate_api_key, hash_api_key
from api.metrics import ApiMetrics
from api.ports import ChatService
from api.ratelimit import RateLimiter
from api.runtime import Engines, GatedChat, Progress, ServiceRuntime
from api.services import ApiServices, readiness_checks
from api.settings import Settings
from api.sync_jobs import SyncJobs
from ingest.chunking import Chunker
from ingest.connector_factory import connector_for
from ingest.jobs import JobStore
from ingest.runner import SyncRunner
from ingest.sources import SourceConfig, SourceRegistry
from ingest.state import StateStore, create_state_engine
from ingest.state_prune import StatePruner
from ingest.sync import IngestService
from policies.access.principal import Principal
from retrieval.embedding.embedder import Embedder
from retrieval.store import VectorStore
from retrieval.store_factory import StoreSettings, open_store
from tests.api.retrieval_chat import RetrievalChat

if TYPE_CHECKING:
    from tests.api.served_app import ServedApp
from tests.ingest.sync_fixtures import write_source_tree, write_sources_file
from tests.kb_index import KbIndex

JWT_SECRET = "pR7v-9qLw2xZ4nB8sK1mT6yH3cF5gJ0dQe"  # test-only, 34 characters
ISSUER = "https://idp.proofdesk.test"
AUDIENCE = "proofdesk-api"


@dataclass(frozen=True)
class Keys:
    """One raw key per role (the file holds only their hashes)."""

    chat: str
    act_as: str
    admin: str
    audit: str
    none: str
    everything: str
    file: Path

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, name)}"}


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    names = ("chat", "act_as", "admin", "audit", "none", "everything")
    raw = {n: generate_api_key() for n in names}
    entries = [
        {"id": "widget", "scopes": ["chat"], "user_id": "svc-widget"},
        {"id": "ticket-bot", "scopes": ["chat", "act_as"], "user_id": "svc-ticket-bot"},
        {"id": "ops", "scopes": ["admin"], "user_id": "svc-ops"},
        {"id": "audit-tool", "scopes": ["audit", "chat"], "user_id": "svc-audit"},
        {"id": "nothing", "scopes": []},
        {"id": "all-scopes", "scopes": ["chat", "act_as", "admin", "audit"], "user_id": "bob"},
    ]
    for entry, name in zip(entries, raw, strict=True):
        entry["hash"] = hash_api_key(raw[name])
    path = tmp_path_factory.mktemp("keys") / "api_keys.yaml"
    path.write_text(yaml.safe_dump({"keys": entries}), encoding="utf-8")
    return Keys(**raw, file=path)


def make_token(
    sub: str,
    groups: tuple[str, ...] = (),
    *,
    key: Any = JWT_SECRET,
    algorithm: str = "HS256",
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    expires_in: int = 300,
    headers: dict[str, Any] | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "groups": list(groups), "iss": issuer, "aud": audience}
    claims |= {"iat": now, "exp": now + expires_in}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_settings(keys: Keys, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "api_keys_file": keys.file,
        "jwt": JwtSettings(secret=JWT_SECRET, issuer=ISSUER, audience=AUDIENCE),
        "rate_limits": RateLimitSettings(per_key="100000/minute", per_user="100000/minute"),
        "run_scheduler": False,
    }
    values.update(overrides)
    return ApiSettings(**values)


# --- a small index of its own for sync jobs (the shared kb index stays untouched) -----------


@dataclass
class SyncIndex:
    registry: SourceRegistry
    runner: SyncRunner
    store: VectorStore
    engine_url: str
    pruner: StatePruner

    def job_store(self) -> JobStore:
        return JobStore(engine=create_state_engine(self.engine_url))


@pytest.fixture(scope="session")
def sync_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[SyncIndex]:
    tmp = tmp_path_factory.mktemp("sync-index")
    root = tmp / "docs"
    root.mkdir()
    (root / "printers.md").write_text(
        textwrap.dedent("""\
            # Printers
            Every floor has two printers. Send jobs to the FOLLOW-ME queue and badge at a device.
            """),
        encoding="utf-8",
    )
    (root / "wifi.md").write_text(
        "# Wi-Fi\nConnect to NW-Staff with your staff account.\n", encoding="utf-8"
    )
    source = SourceConfig(id="demo-kb", kind="filesystem", root=root, read=["group:all-staff"])
    registry = SourceRegistry([source])
    url = f"sqlite:///{tmp / 'state.db'}"
    engine = create_state_engine(url)
    store = open_store(StoreSettings(path=tmp / "index"), dimension=embedder.dimension)
    service = IngestService(
        registry=registry,
        store=store,
        embedder=embedder,
        chunker=Chunker(tokens=embedder),
        state=StateStore(engine=engine),
        connector_for=connector_for,
    )
    jobs = JobStore(engine=engine)
    runner = SyncRunner(service=service, jobs=jobs)
    pruner = StatePruner(
        store=store,
        state=StateStore(engine=engine),
        jobs=jobs,
        source_ids=lambda: [s.id for s in registry],
        chunker=Chunker(tokens=embedder),
        model_id=embedder.model_id,
    )
    yield SyncIndex(registry=registry, runner=runner, store=store, engine_url=url, pruner=pruner)
    store.close()


# --- the app ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def answer_service(kb_index: KbIndex, embedder: Embedder) -> AnswerService:
    """The agent's real answer pipeline (extractive) over the shared sample index."""
    return AnswerService(
        retrieval=kb_index.retrieval,
        policy=kb_index.policy,
        embedder=embedder,
        index_version=kb_index.state.index_version,
    )


@pytest.fixture
def agent_harness(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, answer_service: AnswerService
) -> Iterator[Harness]:
    """The app over the real answer pipeline."""
    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path, chat=answer_service)
    with running(h):
        yield h


@dataclass
class Harness:
    """An app over real services. The chat service is `RetrievalChat` (fast, deterministic
    citations) unless given; `agent_harness` runs the agent's real pipeline."""

    app: FastAPI
    services: ApiServices
    runtime: ServiceRuntime
    sync: SyncJobs
    answers: SqlAnswerStore
    keys: Keys
    client: TestClient | None = field(default=None)

    @property
    def http(self) -> TestClient:
        assert self.client is not None, "enter the harness first"
        return self.client


def build_harness(
    *,
    kb_index: KbIndex,
    keys: Keys,
    tmp_path: Path,
    api: ApiSettings | None = None,
    chat: ChatService | None = None,
    sync_index: SyncIndex | None = None,
    build: Any = None,
) -> Harness:
    """`build`: a replacement start-up (to hold the runtime in 'starting')."""
    api = api or api_settings(keys)
    chat = chat or RetrievalChat(kb_index.retrieval)
    runner = sync_index.runner if sync_index is not None else None
    pruner = sync_index.pruner if sync_index is not None else None

    def start_up(_progress: Progress) -> Engines:
        return Engines(chat=chat, runner=runner, pruner=pruner)

    metrics = ApiMetrics()
    limiter = RateLimiter(
        settings=api.rate_limits,
        redis_url=api.redis_url.get_secret_value() if api.redis_url else None,
        on_limited=lambda kind: metrics.rate_limited.labels(kind).inc(),
    )
    runtime = ServiceRuntime(
        build=build or start_up,
        checks=readiness_checks(kb_index.policy, limiter),
        retry_seconds=0.05,
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'api.db'}")
    answers = SqlAnswerStore(engine=engine)
    jobs = sync_index.job_store() if sync_index is not None else JobStore(engine=engine)
    sync = SyncJobs(
        registry=sync_index.registry if sync_index is not None else kb_index.registry,
        jobs=jobs,
        runner=runtime.runner,
        pruner=runtime.pruner,
        sync_lock=threading.Lock(),
        on_start=metrics.sync_jobs.inc,
        on_prune=metrics.observe_prune,
    )
    services = ApiServices(
        authenticator=Authenticator(
            policy=kb_index.policy,
            keys=ApiKeyStore.load(keys.file),
            jwt_verifier=JwtVerifier(api.jwt) if api.jwt.enabled else None,
            jwt_settings=api.jwt,
        ),
        rate_limiter=limiter,
        chat=GatedChat(runtime),
        answers=answers,
        feedback=answers,
        sources=sync,
        readiness=runtime,
        metrics=metrics,
        policy=kb_index.policy,  # the served policy, as `build_services` passes it
        on_start=[runtime.start],
        on_close=[sync.close, runtime.close, engine.dispose],
    )
    app = create_app(Settings(), api_settings=api, services=services)
    return Harness(app, services, runtime, sync, answers, keys)


@contextmanager
def running(h: Harness, *, wait_ready: bool = True) -> Iterator[Harness]:
    """The app's lifespan running, with a TestClient (HTTP through the ASGI app)."""
    with TestClient(h.app) as client:
        if wait_ready:
            assert h.runtime.wait_ready(30), "the runtime did not start"
        h.client = client
        yield h
    h.client = None


@pytest.fixture
def harness(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, sync_index: SyncIndex
) -> Iterator[Harness]:
    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path, sync_index=sync_index)
    with running(h):
        yield h


@pytest.fixture
def client(harness: Harness) -> TestClient:
    return harness.http


# --- a real server on loopback ------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def serve(app: FastAPI) -> LiveServer:
    """uvicorn in a thread on 127.0.0.1, on a socket bound here: connections made before the
    server accepts wait in the listen backlog, so there is nothing to poll for."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return LiveServer(url=f"http://127.0.0.1:{port}", server=server, thread=thread)


def stop(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(30)
    assert not live.thread.is_alive(), "the server did not stop"


class BlockingChat:
    """A chat service that waits for the test to release it (timeouts, readiness)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer:
        self.entered.set()
        self.release.wait(30)
        raise RuntimeError("released")


# --- the app as `proofdesk serve` builds it (tests/api/served_app.py) ---------------------------


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[ServedApp]:
    """One live served app for the session; tests that edit its policy put it back."""
    from tests.api.served_app import start_served

    with start_served(tmp_path_factory.mktemp("served"), embedder) as app:
        yield app


def write_cli_config(tmp_path: Path, policy: str) -> Path:
    """A settings file for CLI tests: the sync fixtures' source tree as source `it-kb`, the
    given policy, and SQLite state, audit and index under `tmp_path`."""
    kb = tmp_path / "kb"
    write_source_tree(kb)
    sources = write_sources_file(tmp_path / "sources.yaml", kb / "it")
    (tmp_path / "policy.csv").write_text(policy, encoding="utf-8")
    path = tmp_path / "proofdesk.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "ingest": {
                    "sources_file": str(sources),
                    "state_url": f"sqlite:///{tmp_path / 'state.db'}",
                    "flag_pii": False,
                },
                "store": {"path": str(tmp_path / "index")},
                "policy": {"policy_path": str(tmp_path / "policy.csv")},
                "audit": {"url": f"sqlite:///{tmp_path / 'audit.db'}"},
            }
        ),
        encoding="utf-8",
    )
    return path
