"""The answer cache: in-process LRU, or Redis shared by every replica.

The key is a sha256 over the normalised question, the principal's access fingerprint, the index
version and the prompt version. Two principals with different access never share an entry (a
cached answer may quote documents only one of them may read); a re-index or a new prompt
starts a fresh key space. Entries expire after the TTL.

Cached values hold answer and question text: the Redis instance must be as protected as the
index itself. Redis errors never fail a request: the cache then behaves as a miss.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import redis
from cachetools import TLRUCache
from redis.backoff import NoBackoff
from redis.retry import Retry

from agent.llm.settings import AnswerCacheSettings
from agent.types import Answer, Citation, TokenUsage
from policies.access.filters import AccessFilter

__all__ = [
    "AnswerCache",
    "CacheBackend",
    "MemoryCacheBackend",
    "RedisCacheBackend",
    "access_fingerprint",
    "answer_cache_key",
    "answer_from_json",
    "answer_to_json",
    "build_answer_cache",
    "normalise_question",
]

log = logging.getLogger(__name__)

_KEY_SCHEMA = "answer-cache/1"  # bump when the key recipe or the stored format changes
_TRAILING = "?!.。？！ \t"


def normalise_question(question: str) -> str:
    """NFKC, case-folded, whitespace collapsed, trailing ?!. dropped."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return " ".join(text.split()).rstrip(_TRAILING)


def access_fingerprint(access: AccessFilter) -> str:
    """Everything that decides what the principal may read, in a canonical form."""
    canonical = {
        "holds": sorted(access.holds),
        "denied_sources": sorted(access.denied_sources),
        "allowed_sources": None
        if access.allowed_sources is None
        else sorted(access.allowed_sources),
        "policy_version": access.policy_version,
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def answer_cache_key(
    *, question: str, access: AccessFilter, index_version: str, prompt_version: str
) -> str:
    """sha256 hex of the normalised question + access fingerprint + index and prompt versions.

    `prompt_version` should name the exact prompt (e.g. "answer.v1:<fingerprint>") or the
    composer when no prompt is used (e.g. "extractive").
    """
    parts = [
        _KEY_SCHEMA,
        normalise_question(question),
        access_fingerprint(access),
        index_version,
        prompt_version,
    ]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def answer_to_json(answer: Answer) -> str:
    return json.dumps(dataclasses.asdict(answer), separators=(",", ":"))


def answer_from_json(raw: str | bytes) -> Answer:
    data: dict[str, Any] = json.loads(raw)
    data["citations"] = [Citation(**c) for c in data["citations"]]
    data["usage"] = TokenUsage(**data["usage"])
    data["flags"] = tuple(data["flags"])
    return Answer(**data)


class CacheBackend(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl_seconds: int) -> None: ...


class _Entry(NamedTuple):
    value: str
    ttl_seconds: float


def _expires(_key: str, entry: _Entry, now: float) -> float:
    return now + entry.ttl_seconds


class MemoryCacheBackend:
    """LRU with per-entry expiry, for one process: a cachetools `TLRUCache` (each entry's
    time-to-use is the TTL it was set with) behind a lock, since cachetools caches are not
    thread-safe. When full, expired entries go before the least recently used live one.
    """

    def __init__(self, *, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._entries: TLRUCache[str, _Entry] | None = (
            TLRUCache(maxsize=max_entries, ttu=_expires, timer=clock) if max_entries > 0 else None
        )

    def get(self, key: str) -> str | None:
        if self._entries is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else entry.value

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        if self._entries is None:  # nothing is kept
            return
        with self._lock:
            self._entries[key] = _Entry(value, ttl_seconds)


class RedisCacheBackend:
    """`SET key value EX ttl` / `GET key` on a Redis shared by the replicas."""

    def __init__(self, *, client: redis.Redis, key_prefix: str = "proofdesk:answer:") -> None:
        self._client = client
        self._prefix = key_prefix

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str = "proofdesk:answer:") -> RedisCacheBackend:
        # Fail fast when Redis is down (redis-py's default retries for ~4 s): one retry, no backoff.
        client = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 1)
        )
        return cls(client=client, key_prefix=key_prefix)

    def get(self, key: str) -> str | None:
        try:
            raw = self._client.get(self._prefix + key)
        except redis.RedisError:
            log.warning("answer cache: Redis unreachable on get; treating as a miss")
            return None
        if raw is None:
            return None
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        try:
            self._client.set(self._prefix + key, value, ex=ttl_seconds)
        except redis.RedisError:
            log.warning("answer cache: Redis unreachable on set; entry not cached")


class AnswerCache:
    """Cached `Answer`s by question, access, index version and prompt version.

    On a hit the caller replaces the per-request fields (answer_id, conversation_id, question,
    trace_id, timings) and adds a "cache_hit" flag; the cache stores the answer as given.
    """

    def __init__(self, *, backend: CacheBackend, ttl_seconds: int) -> None:
        self._backend = backend
        self._ttl = ttl_seconds

    def get(
        self, *, question: str, access: AccessFilter, index_version: str, prompt_version: str
    ) -> Answer | None:
        key = answer_cache_key(
            question=question,
            access=access,
            index_version=index_version,
            prompt_version=prompt_version,
        )
        raw = self._backend.get(key)
        if raw is None:
            return None
        try:
            return answer_from_json(raw)
        except (ValueError, TypeError, KeyError):
            log.warning("answer cache: unreadable entry ignored")
            return None

    def put(
        self,
        *,
        question: str,
        access: AccessFilter,
        index_version: str,
        prompt_version: str,
        answer: Answer,
    ) -> None:
        key = answer_cache_key(
            question=question,
            access=access,
            index_version=index_version,
            prompt_version=prompt_version,
        )
        self._backend.set(key, answer_to_json(answer), self._ttl)


def build_answer_cache(settings: AnswerCacheSettings) -> AnswerCache | None:
    """The configured cache, or None when caching is off."""
    if not settings.enabled:
        return None
    backend: CacheBackend
    if settings.backend == "redis":
        backend = RedisCacheBackend.from_url(
            settings.redis_url.get_secret_value(), key_prefix=settings.key_prefix
        )
    else:
        backend = MemoryCacheBackend(max_entries=settings.max_entries)
    return AnswerCache(backend=backend, ttl_seconds=settings.ttl_seconds)
