"""Rate limits: per key, per end user, 429 with Retry-After; shared by replicas through Redis.

On the app as `proofdesk serve` builds it (`tests/fixtures/served_app.py`), with low limits: one
served app for this module (4 requests a minute per key, 2 per end user; each test uses keys and
users of its own: a key's own user or the user it acts for is counted too, so the per-key test
spreads its requests over users), and two replicas sharing Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from api.api_settings import RateLimitSettings
from retrieval.embedding.embedder import Embedder
from tests.fixtures.served_app import ServedApp, start_served

REDIS_URL = "redis://127.0.0.1:6379/0"
PER_KEY, PER_USER = 4, 2


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[ServedApp]:
    limits = RateLimitSettings(per_key=f"{PER_KEY}/minute", per_user=f"{PER_USER}/minute")
    root = tmp_path_factory.mktemp("served-limited")
    with start_served(root, embedder, api={"rate_limits": limits}) as app:
        yield app


def _assert_429(r: Any) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert r.json()["error"]["code"] == "rate_limited"


def test_per_key_limit(limited: ServedApp) -> None:
    def as_user(n: int) -> dict[str, str]:  # one request per user: only the key adds up
        return {**limited.auth("act_as"), "X-Proofdesk-User": f"visitor{n}"}

    with limited.client() as client:
        statuses = [
            client.get("/v1/answers/none", headers=as_user(n)).status_code for n in range(PER_KEY)
        ]
        assert statuses == [404] * PER_KEY
        _assert_429(client.get("/v1/answers/none", headers=as_user(PER_KEY)))
        # Another key is counted on its own.
        assert client.get("/v1/sources", headers=limited.auth("ops")).status_code == 200
        metrics = client.get("/metrics").text
        assert 'proofdesk_rate_limited_requests_total{limit="key"} 1.0' in metrics


def test_per_user_limit_for_a_key_acting_for_users(limited: ServedApp) -> None:
    with limited.client() as client:
        bob = {**limited.auth("everything"), "X-Proofdesk-User": "bob"}
        alice = {**limited.auth("everything"), "X-Proofdesk-User": "alice"}
        for _ in range(PER_USER):
            assert client.get("/v1/answers/none", headers=bob).status_code == 404
        _assert_429(client.get("/v1/answers/none", headers=bob))
        assert client.get("/v1/answers/none", headers=alice).status_code == 404
        metrics = client.get("/metrics").text
        assert 'proofdesk_rate_limited_requests_total{limit="user"} 1.0' in metrics


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
    embedder: Embedder, tmp_path: Path, redis_server: redis.Redis
) -> None:
    namespace = f"pdtest-{uuid.uuid4().hex[:12]}"
    limits = RateLimitSettings(per_key="3/minute", per_user="100/minute", namespace=namespace)
    api = {"rate_limits": limits, "redis_url": SecretStr(REDIS_URL)}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    try:
        with ExitStack() as stack:
            first = stack.enter_context(start_served(tmp_path / "a", embedder, api=api))
            # The second replica: the same keys (an API key counts wherever it is used).
            second = stack.enter_context(
                start_served(tmp_path / "b", embedder, api=api, keys=first.keys)
            )
            a, b = (stack.enter_context(app.client()) for app in (first, second))
            admin = first.auth("ops")
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
