"""Server-side sessions of the audit page: the browser holds a signed random id, never the key.

Signing in exchanges the auditor's API key or token for a session: the cookie carries
`<id>.<HMAC-SHA256 of the id>` (a key drawn per process), the credential stays in this
process's memory and is checked again on every request (a revoked key or an expired token ends
the session at once). A session lasts `ttl_seconds` from sign-in, whatever its use; signing out
ends it. Sessions live in one process: behind several replicas, route an auditor to one of them
(sticky sessions) or sign in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import FIFOCache

__all__ = ["AuditSession", "AuditSessions"]


@dataclass(frozen=True)
class AuditSession:
    credential: str  # the API key or token it was opened with (never sent back)
    csrf: str  # the token every form of this session carries
    expires_at: float


class AuditSessions:
    """Thread-safe, bounded (the oldest sessions go first beyond `max_sessions`): a cachetools
    `FIFOCache` behind a lock (cachetools caches are not thread-safe). Not a `TTLCache`: when
    full that drops the least recently *used* session, not the oldest; expiry is checked
    against the session's own `expires_at`, fixed at sign-in."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 3600.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_sessions
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._sessions: FIFOCache[str, AuditSession] = FIFOCache(maxsize=max(max_sessions, 1))

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def open(self, credential: str) -> tuple[str, AuditSession]:
        """A new session for `credential`: (the cookie value, the session)."""
        session_id = secrets.token_urlsafe(32)
        session = AuditSession(
            credential=credential,
            csrf=secrets.token_hex(16),
            expires_at=self._clock() + self._ttl,
        )
        if self._max > 0:  # with no room, no session is kept
            with self._lock:
                self._sessions[session_id] = session
        return f"{session_id}.{self._sign(session_id)}", session

    def get(self, cookie: str) -> AuditSession | None:
        """The live session the cookie names; None when unsigned, unknown or expired."""
        session_id = self._verified(cookie)
        if session_id is None:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires_at <= self._clock():
                del self._sessions[session_id]
                return None
            return session

    def close(self, cookie: str) -> None:
        session_id = self._verified(cookie)
        if session_id is not None:
            with self._lock:
                self._sessions.pop(session_id, None)

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()

    def _verified(self, cookie: str) -> str | None:
        session_id, _, signature = cookie.rpartition(".")
        if not session_id or not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        return session_id
