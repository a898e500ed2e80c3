"""Per-key and per-user rate limits with `limits`: in-process, or in Redis shared by replicas."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from api.api_settings import RateLimitSettings
from api.errors import NotReadyError, RateLimitedError

__all__ = ["RateLimiter"]

LimitKind = Literal["key", "user", "login"]
_WHAT: dict[LimitKind, str] = {
    "key": "requests for this API key",
    "user": "requests for this user",
    "login": "sign-in attempts from this address",
}


class RateLimiter:
    """Checks a request against the per-key and per-user limits (moving windows).

    With `redis_url`, every replica counts in the same Redis; a Redis that cannot be reached
    makes requests fail with 503 rather than letting them through unlimited.
    """

    def __init__(
        self,
        *,
        settings: RateLimitSettings,
        redis_url: str | None = None,
        on_limited: Callable[[LimitKind], None] = lambda _kind: None,
    ) -> None:
        self._storage: Storage = (
            RedisStorage(
                redis_url,
                key_prefix=settings.namespace,
                wrap_exceptions=True,
                socket_timeout=2,
                socket_connect_timeout=2,
            )
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._limits: dict[LimitKind, list[RateLimitItem]] = {
            "key": parse_many(settings.per_key),
            "user": parse_many(settings.per_user),
            "login": parse_many(settings.login),
        }
        self._on_limited = on_limited

    def hit(self, *, client: str, user: str) -> None:
        """Count one request; raise `RateLimitedError` (with Retry-After) when over a limit."""
        pairs: tuple[tuple[LimitKind, str], ...] = (("key", client), ("user", user))
        for kind, identifier in pairs:
            for item in self._limits[kind]:
                self._hit(kind, item, identifier)

    def hit_login(self, *, client_address: str) -> None:
        """Count one sign-in attempt from a client address (`RateLimitedError` when over)."""
        for item in self._limits["login"]:
            self._hit("login", item, client_address)

    def _hit(self, kind: LimitKind, item: RateLimitItem, identifier: str) -> None:
        try:
            if self._limiter.hit(item, kind, identifier):
                return
            reset_at, _remaining = self._limiter.get_window_stats(item, kind, identifier)
        except StorageError as exc:
            raise NotReadyError(
                "the rate limit storage is unreachable", code="rate_limiter_unavailable"
            ) from exc
        self._on_limited(kind)
        raise RateLimitedError(
            f"too many {_WHAT[kind]} (limit {item})",
            retry_after=math.ceil(reset_at - time.time()),
        )

    def check(self) -> bool:
        """Whether the storage answers (for readiness)."""
        try:
            return bool(self._storage.check())
        except Exception:  # noqa: BLE001 - a failing health check is an answer, not an error
            return False
