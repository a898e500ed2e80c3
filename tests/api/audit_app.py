"""A minimal FastAPI app with the audit routers and the API's real authentication (API keys
stored hashed, HS256 tokens, the Casbin policy of the sample KB), for the audit API, CLI,
browser and benchmark runs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import jwt
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from agent.review.service import ReviewService
from api import audit_api, audit_web
from api.api_settings import JwtSettings
from api.audit_api import AUDIT_STATE_KEY, AuditApp
from api.audit_sessions import AuditSessions
from api.auth import ApiKeyEntry, ApiKeyStore, Authenticator, JwtVerifier, generate_api_key
from api.auth import hash_api_key as hashed
from api.errors import install_error_handlers
from api.ratelimit import RateLimiter
from policies.access.engine import PolicyEngine

__all__ = ["AuditKeys", "LiveServer", "audit_app", "make_authenticator", "serve"]

JWT = JwtSettings(
    secret=SecretStr("audit-tests-only-0123456789abcdefXYZ"),
    issuer="https://idp.audit.test",
    audience="proofdesk-api",
)


@dataclass(frozen=True)
class AuditKeys:
    oscar: str  # audit scope, runs as oscar (an auditor)
    bob_audit: str  # audit scope, runs as bob (no auditor role)
    bob_chat: str  # chat scope only
    act_as: str  # audit + act_as, a service account acting for whoever it names

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def make_authenticator(policy: PolicyEngine) -> tuple[Authenticator, AuditKeys]:
    keys = AuditKeys(*(generate_api_key() for _ in range(4)))
    entries = [
        ApiKeyEntry(
            id="oscar", hash=hashed(keys.oscar), scopes=frozenset({"audit"}), user_id="oscar"
        ),
        ApiKeyEntry(
            id="bob-audit", hash=hashed(keys.bob_audit), scopes=frozenset({"audit"}), user_id="bob"
        ),
        ApiKeyEntry(
            id="bob-chat", hash=hashed(keys.bob_chat), scopes=frozenset({"chat"}), user_id="bob"
        ),
        ApiKeyEntry(
            id="audit-tool",
            hash=hashed(keys.act_as),
            scopes=frozenset({"audit", "act_as"}),
            user_id="svc-audit-tool",
        ),
    ]
    authenticator = Authenticator(
        policy=policy,
        keys=ApiKeyStore(entries),
        jwt_verifier=JwtVerifier(JWT),
        jwt_settings=JWT,
    )
    return authenticator, keys


def token(user: str, groups: tuple[str, ...] = ()) -> str:
    now = int(time.time())
    claims = {
        "sub": user,
        "groups": list(groups),
        "iss": JWT.issuer,
        "aud": JWT.audience,
        "iat": now,
        "exp": now + 600,
    }
    assert JWT.secret is not None
    return jwt.encode(claims, JWT.secret.get_secret_value(), algorithm="HS256")


def audit_app(
    review: ReviewService,
    authenticator: Authenticator,
    *,
    rate_limiter: RateLimiter | None = None,
    sessions: AuditSessions | None = None,
) -> FastAPI:
    """The audit routers, as `create_app` includes them, over the given service."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, AuditApp]]:
        yield {
            AUDIT_STATE_KEY: AuditApp(
                reviews=lambda: review,
                authenticator=authenticator,
                rate_limiter=rate_limiter,
                sessions=sessions,
            )
        }

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(audit_api.router)
    app.include_router(audit_web.router)
    return app


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive(), "the server did not stop"


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
