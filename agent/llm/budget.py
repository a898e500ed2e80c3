"""Token and cost accounting, and the per-user daily token counters (in-process or Redis).

A call reserves its estimated tokens (prompt estimate + max completion tokens) before it goes
out, and settles to the real usage afterwards, so concurrent requests of one user cannot
overshoot the daily budget together. Unknown usage is estimated with a local tokenizer.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from agent.llm.errors import BudgetUnavailableError
from agent.llm.settings import BudgetSettings, EndpointSettings
from retrieval.embedding.embedder import TokenCounter

__all__ = [
    "CountTokens",
    "DailyUsageStore",
    "MemoryDailyUsage",
    "RedisDailyUsage",
    "build_usage_store",
    "cost_usd",
    "counter_from_embedder",
    "default_token_counter",
]

CountTokens = Callable[[str], int]
_TWO_DAYS_SECONDS = 2 * 24 * 3600


def cost_usd(endpoint: EndpointSettings, prompt_tokens: int, completion_tokens: int) -> float:
    """The price of one call from the endpoint's price table (USD per 1k tokens)."""
    return (
        prompt_tokens * endpoint.price_per_1k_prompt_tokens
        + completion_tokens * endpoint.price_per_1k_completion_tokens
    ) / 1000.0


def default_token_counter() -> CountTokens:
    """cl100k via llama-index-core's bundled tiktoken cache: offline, never downloads."""
    from llama_index.core.utils import get_tokenizer

    encode = get_tokenizer()
    return lambda text: len(encode(text))


def counter_from_embedder(counter: TokenCounter) -> CountTokens:
    """Estimate with the embedding model's own tokenizer (word pieces; an approximation)."""
    return lambda text: counter.count([text])[0]


def _utc_day() -> str:
    return datetime.now(UTC).date().isoformat()


class DailyUsageStore(Protocol):
    """Tokens used per pseudonymous user key and UTC day."""

    def reserve(self, user_key: str, tokens: int, limit: int) -> bool:
        """Add `tokens` if the day's total stays within `limit`; report whether it did."""

    def adjust(self, user_key: str, delta: int) -> None:
        """Correct today's total (settle a reservation to the real usage, or release it)."""

    def used(self, user_key: str) -> int: ...


class MemoryDailyUsage:
    """Counters of this process only (one replica)."""

    def __init__(self, *, day: Callable[[], str] = _utc_day) -> None:
        self._day = day
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def reserve(self, user_key: str, tokens: int, limit: int) -> bool:
        with self._lock:
            key = self._key(user_key)
            if self._counts.get(key, 0) + tokens > limit:
                return False
            self._counts[key] = self._counts.get(key, 0) + tokens
            return True

    def adjust(self, user_key: str, delta: int) -> None:
        with self._lock:
            key = self._key(user_key)
            self._counts[key] = max(self._counts.get(key, 0) + delta, 0)

    def used(self, user_key: str) -> int:
        with self._lock:
            return self._counts.get(self._key(user_key), 0)

    def _key(self, user_key: str) -> tuple[str, str]:
        today = self._day()
        if any(day != today for day, _ in self._counts):  # forget earlier days
            self._counts = {k: v for k, v in self._counts.items() if k[0] == today}
        return today, user_key


class RedisDailyUsage:
    """Counters shared by every replica: one Redis key per user and day, expiring after two days.

    Redis being unreachable raises `BudgetUnavailableError`: without the shared counter the
    budget cannot be enforced, so the LLM is not called (the fallback composer answers).
    """

    def __init__(
        self,
        *,
        client: redis.Redis,
        key_prefix: str = "proofdesk:llm-usage:",
        day: Callable[[], str] = _utc_day,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._day = day

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str = "proofdesk:llm-usage:") -> RedisDailyUsage:
        # Fail fast when Redis is down (redis-py's default retries for ~4 s): one retry, no backoff.
        client = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 1)
        )
        return cls(client=client, key_prefix=key_prefix)

    def reserve(self, user_key: str, tokens: int, limit: int) -> bool:
        key = self._key(user_key)
        try:
            pipe = self._client.pipeline()
            pipe.incrby(key, tokens)
            pipe.expire(key, _TWO_DAYS_SECONDS)
            total = int(pipe.execute()[0])
            if total > limit:
                self._client.decrby(key, tokens)
                return False
        except redis.RedisError as exc:
            raise BudgetUnavailableError("the shared usage store is unreachable") from exc
        return True

    def adjust(self, user_key: str, delta: int) -> None:
        if delta == 0:
            return
        try:
            self._client.incrby(self._key(user_key), delta)
        except redis.RedisError as exc:
            raise BudgetUnavailableError("the shared usage store is unreachable") from exc

    def used(self, user_key: str) -> int:
        try:
            raw = self._client.get(self._key(user_key))
        except redis.RedisError as exc:
            raise BudgetUnavailableError("the shared usage store is unreachable") from exc
        return int(raw) if raw is not None else 0

    def _key(self, user_key: str) -> str:
        # Hash again: the key is pseudonymous already, but Redis key names show up in tooling.
        digest = hashlib.sha256(user_key.encode("utf-8")).hexdigest()[:32]
        return f"{self._prefix}{self._day()}:{digest}"


def build_usage_store(settings: BudgetSettings) -> DailyUsageStore:
    if settings.usage_backend == "redis":
        return RedisDailyUsage.from_url(
            settings.redis_url.get_secret_value(), key_prefix=settings.redis_key_prefix
        )
    return MemoryDailyUsage()
