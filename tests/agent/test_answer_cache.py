"""The answer cache: keys that never cross access boundaries, LRU + TTL, and the Redis backend."""

from __future__ import annotations

import uuid
from typing import TypedDict

import pytest
import redis

from agent.answer_cache import (
    AnswerCache,
    MemoryCacheBackend,
    RedisCacheBackend,
    access_fingerprint,
    answer_cache_key,
    answer_from_json,
    answer_to_json,
    build_answer_cache,
    normalise_question,
)
from agent.llm.settings import AnswerCacheSettings
from agent.types import Answer, Citation, TokenUsage
from policies.access.filters import AccessFilter
from tests.fixtures.clocks import FakeClock

REDIS_URL = "redis://127.0.0.1:6379/15"
SUPPORT = AccessFilter(holds=frozenset({"public", "group:support"}), policy_version="p1")
FINANCE = AccessFilter(holds=frozenset({"public", "group:finance"}), policy_version="p1")


class Scope(TypedDict):
    access: AccessFilter
    index_version: str
    prompt_version: str


def scope(
    access: AccessFilter = SUPPORT, index_version: str = "i1", prompt_version: str = "answer.v1"
) -> Scope:
    return Scope(access=access, index_version=index_version, prompt_version=prompt_version)


def make_answer(text: str = "Reset it from the portal [1].") -> Answer:
    return Answer(
        answer_id="a-1",
        status="answered",
        answer=text,
        citations=[
            Citation(
                marker=1,
                document_id="doc-1",
                title="Password reset",
                source_id="kb",
                uri="file:///kb/reset.md",
                chunk_id="chunk-1",
                quote="Reset your password from the portal.",
                start=10,
                end=46,
                support=0.93,
                document_version="v1",
            )
        ],
        conversation_id="c-1",
        question="How do I reset my password?",
        policy_version="p1",
        index_version="i1",
        composer="llm:strong/strong-model",
        prompt_id="answer",
        prompt_version="v1",
        usage=TokenUsage(prompt_tokens=400, completion_tokens=20, cost_usd=0.01),
        timings_ms={"compose": 12.5},
        flags=("question_injection_suspected",),
    )


def memory_cache(clock: FakeClock | None = None, *, max_entries: int = 16) -> AnswerCache:
    backend = MemoryCacheBackend(max_entries=max_entries, clock=clock or FakeClock())
    return AnswerCache(backend=backend, ttl_seconds=60)


def test_miss_then_hit() -> None:
    cache = memory_cache()
    where = scope()

    assert cache.get(question="How do I reset my password?", **where) is None
    cache.put(question="How do I reset my password?", answer=make_answer(), **where)

    assert cache.get(question="how do i   reset my password", **where) == make_answer()


@pytest.mark.parametrize(
    "other",
    [
        FINANCE,
        AccessFilter(holds=SUPPORT.holds | {"user:bob"}, policy_version="p1"),
        AccessFilter(holds=SUPPORT.holds, denied_sources=frozenset({"hr"}), policy_version="p1"),
        AccessFilter(holds=SUPPORT.holds, allowed_sources=frozenset(), policy_version="p1"),
        AccessFilter(holds=SUPPORT.holds, policy_version="p2"),
    ],
    ids=["other-group", "extra-principal", "denied-source", "allow-list", "new-policy"],
)
def test_different_access_never_shares_an_answer(other: AccessFilter) -> None:
    cache = memory_cache()
    cache.put(
        question="What is the salary band?",
        access=SUPPORT,
        index_version="i1",
        prompt_version="answer.v1",
        answer=make_answer(),
    )

    assert access_fingerprint(other) != access_fingerprint(SUPPORT)
    assert (
        cache.get(
            question="What is the salary band?",
            access=other,
            index_version="i1",
            prompt_version="answer.v1",
        )
        is None
    )


def test_fingerprint_ignores_order_but_not_content() -> None:
    shuffled = AccessFilter(holds=frozenset(["group:support", "public"]), policy_version="p1")
    assert access_fingerprint(shuffled) == access_fingerprint(SUPPORT)


@pytest.mark.parametrize(
    ("index_version", "prompt_version"),
    [("i2", "answer.v1"), ("i1", "answer.v2"), ("i1", "extractive")],
)
def test_index_or_prompt_version_change_invalidates(
    index_version: str, prompt_version: str
) -> None:
    cache = memory_cache()
    cache.put(
        question="q",
        access=SUPPORT,
        index_version="i1",
        prompt_version="answer.v1",
        answer=make_answer(),
    )

    assert (
        cache.get(
            question="q",
            access=SUPPORT,
            index_version=index_version,
            prompt_version=prompt_version,
        )
        is None
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("How do I reset my password?", "  how do I RESET my password ", True),
        ("Ｒeset VPN", "reset vpn", True),  # NFKC folds the full-width letter
        ("reset my password", "reset your password", False),
        ("reset password?", "reset password", True),
    ],
)
def test_question_normalisation(a: str, b: str, same: bool) -> None:
    assert (normalise_question(a) == normalise_question(b)) is same
    key = scope()
    assert (answer_cache_key(question=a, **key) == answer_cache_key(question=b, **key)) is same


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = memory_cache(clock)
    where = scope()
    cache.put(question="q", answer=make_answer(), **where)

    clock.advance(59.0)
    assert cache.get(question="q", **where) is not None
    clock.advance(1.0)
    assert cache.get(question="q", **where) is None


def test_least_recently_used_entry_is_evicted() -> None:
    cache = memory_cache(max_entries=2)
    where = scope()
    for question in ("a", "b"):
        cache.put(question=question, answer=make_answer(question), **where)
    assert cache.get(question="a", **where) is not None  # "b" is now the oldest

    cache.put(question="c", answer=make_answer("c"), **where)

    assert cache.get(question="b", **where) is None
    assert cache.get(question="a", **where) is not None
    assert cache.get(question="c", **where) is not None


def test_each_memory_entry_keeps_the_ttl_it_was_set_with() -> None:
    clock = FakeClock()
    backend = MemoryCacheBackend(max_entries=4, clock=clock)
    backend.set("short", "1", 10)
    backend.set("long", "2", 100)

    clock.advance(10.0)

    assert backend.get("short") is None
    assert backend.get("long") == "2"


def test_a_full_memory_cache_drops_an_expired_entry_before_a_live_one() -> None:
    clock = FakeClock()
    backend = MemoryCacheBackend(max_entries=2, clock=clock)
    backend.set("expiring", "1", 5)
    backend.set("live", "2", 100)
    assert backend.get("expiring") == "1"  # the most recently used, yet expired below
    clock.advance(5.0)

    backend.set("new", "3", 100)

    assert backend.get("live") == "2"
    assert backend.get("new") == "3"


def test_a_memory_cache_without_room_keeps_nothing() -> None:
    backend = MemoryCacheBackend(max_entries=0)
    backend.set("k", "v", 60)
    assert backend.get("k") is None


def test_answer_round_trips_through_json() -> None:
    answer = make_answer()
    assert answer_from_json(answer_to_json(answer)) == answer


def test_unreachable_redis_is_a_miss_not_a_failure() -> None:
    backend = RedisCacheBackend.from_url("redis://127.0.0.1:1/0", key_prefix="unused:")
    cache = AnswerCache(backend=backend, ttl_seconds=60)
    where = scope()

    cache.put(question="q", answer=make_answer(), **where)
    assert cache.get(question="q", **where) is None


def test_build_from_settings() -> None:
    assert build_answer_cache(AnswerCacheSettings(enabled=False)) is None
    assert isinstance(build_answer_cache(AnswerCacheSettings()), AnswerCache)


@pytest.mark.redis
def test_redis_backend_is_shared_between_cache_instances(redis_client: redis.Redis) -> None:
    prefix = f"test:answer:{uuid.uuid4().hex}:"
    settings = AnswerCacheSettings(
        backend="redis", redis_url=REDIS_URL, key_prefix=prefix, ttl_seconds=120
    )
    replica_a, replica_b = build_answer_cache(settings), build_answer_cache(settings)
    assert replica_a is not None and replica_b is not None
    where = scope()
    try:
        replica_a.put(question="How do I reset my password?", answer=make_answer(), **where)

        assert replica_b.get(question="how do I reset my password", **where) == make_answer()
        assert (
            replica_b.get(question="How do I reset my password?", **scope(access=FINANCE)) is None
        )
        (key,) = redis_client.keys(prefix + "*")
        assert 0 < int(redis_client.ttl(key)) <= 120
    finally:
        for key in redis_client.keys(prefix + "*"):
            redis_client.delete(key)
