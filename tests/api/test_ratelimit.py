"""Rate limits: per key, per end user, 429 with Retry-After; shared by replicas through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.api_settings import RateLimitSettings
from tests.api.conftest import Keys, api_settings, build_harness, running
from tests.kb_index import KbIndex

REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def _limited(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, *, per_key: str, per_user: str
) -> Iterator[TestClient]:
    limits = RateLimitSettings(per_key=per_key, per_user=per_user)
    h = build_harness(
        kb_index=kb_index, keys=keys, tmp_path=tmp_path, api=api_settings(keys, rate_limits=limits)
    )
    with running(h):
        yield h.http


def _assert_429(r: Any) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert r.json()["error"]["code"] == "rate_limited"


def test_per_key_limit(kb_index: KbIndex, keys: Keys, tmp_path: Path) -> None:
    with _limited(kb_index, keys, tmp_path, per_key="3/minute", per_user="100/minute") as client:
        admin = keys.auth("admin")
        assert [client.get("/v1/sources", headers=admin).status_code for _ in range(3)] == [200] * 3
        _assert_429(client.get("/v1/sources", headers=admin))
        # Another key is counted on its own.
        assert client.get("/v1/sources", headers=keys.auth("everything")).status_code == 200
        metrics = client.get("/metrics").text
        assert 'proofdesk_rate_limited_requests_total{limit="key"} 1.0' in metrics


def test_per_user_limit_for_a_key_acting_for_users(
    kb_index: KbIndex, keys: Keys, tmp_path: Path
) -> None:
    with _limited(kb_index, keys, tmp_path, per_key="100/minute", per_user="2/minute") as client:
        bob = {**keys.auth("act_as"), "X-Proofdesk-User": "bob"}
        alice = {**keys.auth("act_as"), "X-Proofdesk-User": "alice"}
        for _ in range(2):
            assert client.get("/v1/answers/none", headers=bob).status_code == 404
        _assert_429(client.get("/v1/answers/none", headers=bob))
        assert client.get("/v1/answers/none", headers=alice).status_code == 404


@pytest.fixture
def redis_server() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); start it (e.g. .ci/run)")
    yield client
    client.close()


@pytest.mark.redis
def test_limits_are_shared_by_replicas_through_redis(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, redis_server: redis.Redis
) -> None:
    namespace = f"pdtest-{uuid.uuid4().hex[:12]}"
    limits = RateLimitSettings(per_key="3/minute", per_user="100/minute", namespace=namespace)
    settings = api_settings(keys, rate_limits=limits, redis_url=SecretStr(REDIS_URL))
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    replicas = [
        build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path / name, api=settings)
        for name in ("a", "b")
    ]
    admin = keys.auth("admin")
    try:
        with ExitStack() as stack:
            a, b = (stack.enter_context(running(h)).http for h in replicas)
            assert a.get("/v1/sources", headers=admin).status_code == 200
            assert b.get("/v1/sources", headers=admin).status_code == 200
            assert a.get("/v1/sources", headers=admin).status_code == 200
            _assert_429(b.get("/v1/sources", headers=admin))
            _assert_429(a.get("/v1/sources", headers=admin))
            assert a.get("/readyz").json()["checks"]["rate_limits"] == "ok"
            assert redis_server.keys(f"{namespace}*"), "nothing counted in Redis"
    finally:
        for key in redis_server.scan_iter(f"{namespace}*"):
            redis_server.delete(key)
