"""Fixtures of the agent tests: scripted LLM servers and a gateway factory for the gateway tests
(`primary`, `secondary`, `sleep`, `clock`, `make_gateway`), an audit world for the review tests
(`world`), and a Redis client on the test database (`redis_client`). The helpers live in
tests/fixtures/; a module's own fixture of the same name wins over these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from agent.llm.gateway import LLMGateway
from agent.llm.settings import EndpointSettings, LLMSettings
from tests.fixtures.audit_reviews import AuditWorld, build_world
from tests.fixtures.clocks import FakeClock, RecordingSleep
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.llm_gateway import GatewayFactory
from tests.fixtures.scripted_llm import FAST_RETRY, ScriptedLLM

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def primary() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(model="strong-model") as llm:
        yield llm


@pytest.fixture
def secondary() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(model="cheap-model") as llm:
        yield llm


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_gateway(sleep: RecordingSleep, clock: FakeClock) -> Iterator[GatewayFactory]:
    built: list[LLMGateway] = []

    def make(*endpoints: EndpointSettings, **settings: Any) -> LLMGateway:
        options: dict[str, Any] = {"retry": FAST_RETRY, **settings}
        usage_store = options.pop("usage_store", None)
        gateway = LLMGateway(
            settings=LLMSettings(enabled=True, endpoints=list(endpoints), **options),
            usage_store=usage_store,
            sleep=sleep,
            clock=clock,
        )
        built.append(gateway)
        return gateway

    yield make
    for gateway in built:
        gateway.close()


@pytest.fixture
def world(tmp_path: Path, kb_index: KbIndex) -> Iterator[AuditWorld]:
    built = build_world(tmp_path, kb_index)
    yield built
    built.close()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is required for this test but is not reachable at {REDIS_URL}: {exc}. "
            "Start it (e.g. `redis-server --port 6379`) and re-run."
        )
    yield client
    client.close()
