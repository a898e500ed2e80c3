"""API test fixtures: the app as `proofdesk serve` builds it, live on loopback (`served`,
`client`); keys, tokens; and the stand-in app for tests that need a failing service."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
import uvicorn
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

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
from ingest.jobs import JobStore
from policies.access.principal import Principal
from retrieval.embedding.embedder import Embedder
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


# --- the stand-in: a hand-built app for tests that need a failing service -------------------
#
# Behaviour tests run on the app `proofdesk serve` builds (the `served` fixture below). This
# hand-built one stays for what the served app cannot be made to do: a chat service that raises
# (500) or hangs (504), and a start-up that fails or waits for the test (503 not_ready).


@dataclass
class Harness:
    """An app over real services and the given chat service (`RetrievalChat` unless given)."""

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
    build: Any = None,
) -> Harness:
    """`build`: a replacement start-up (to hold the runtime in 'starting')."""
    api = api or api_settings(keys)
    chat = chat or RetrievalChat(kb_index.retrieval)

    def start_up(_progress: Progress) -> Engines:
        return Engines(chat=chat)

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
    sync = SyncJobs(
        registry=kb_index.registry,
        jobs=JobStore(engine=engine),
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


@pytest.fixture
def client(served: ServedApp) -> Iterator[httpx.Client]:
    """An HTTP client on the shared served app."""
    with served.client() as http:
        yield http


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
