"""The LLM gateway against scripted OpenAI-compatible servers over real HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from agent.llm.breaker import CircuitBreaker
from agent.llm.budget import MemoryDailyUsage, RedisDailyUsage, cost_usd
from agent.llm.client import PromptMessage, parse_retry_after
from agent.llm.errors import (
    BudgetExceededError,
    BudgetUnavailableError,
    LLMUnavailableError,
    NoLLMRouteError,
)
from agent.llm.gateway import LLMGateway
from agent.llm.routing import Router
from agent.llm.settings import (
    BreakerSettings,
    BudgetSettings,
    EndpointSettings,
    LLMSettings,
    RoutingRule,
    RoutingSettings,
)
from tests.fixtures.clocks import FakeClock, RecordingSleep
from tests.fixtures.scripted_llm import FAST_RETRY, Reply, ScriptedLLM, endpoint_for

REDIS_URL = "redis://127.0.0.1:6379/15"
MESSAGES = [PromptMessage("system", "Answer with citations."), PromptMessage("user", "Question?")]

GatewayFactory = Callable[..., LLMGateway]


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


# -- success, retries, no retries ----------------------------------------------------------------


def test_answer_with_reported_usage_is_costed_from_the_price_table(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    primary.script(Reply.answer("Blue [1].", prompt_tokens=1000, completion_tokens=200))
    gateway = make_gateway(
        endpoint_for(
            primary, "strong", price_per_1k_prompt_tokens=0.5, price_per_1k_completion_tokens=1.5
        )
    )

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.text == "Blue [1]."
    assert (reply.endpoint, reply.model) == ("strong", "strong-model")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (1000, 200)
    assert reply.usage.cost_usd == pytest.approx(0.5 + 0.3)
    assert not reply.usage_estimated
    assert reply.requests == 1


def test_request_is_explicit_and_never_leaks_the_environment_openai_key(
    primary: ScriptedLLM, make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-that-must-not-leak")
    primary.script(Reply.answer("Blue [1]."), Reply.answer("Blue [1]."))
    keyless = make_gateway(endpoint_for(primary, "local", max_completion_tokens=300))
    keyed = make_gateway(endpoint_for(primary, "cloud", api_key="sk-configured"))

    keyless.chat(MESSAGES, user_key="u1")
    keyed.chat(MESSAGES, user_key="u1")

    first, second = primary.chat_requests
    assert first.headers["authorization"] == "Bearer not-needed"
    assert second.headers["authorization"] == "Bearer sk-configured"
    assert first.body["model"] == "strong-model"
    assert first.body["max_tokens"] == 300
    assert first.body["temperature"] == 0.0
    assert [m["role"] for m in first.messages] == ["system", "user"]


def test_http_500_is_retried_with_backoff_then_succeeds(
    primary: ScriptedLLM, make_gateway: GatewayFactory, sleep: RecordingSleep
) -> None:
    primary.script(Reply.error(500), Reply.error(503), Reply.answer("Blue [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong", max_retries=2))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.text == "Blue [1]."
    assert len(primary.chat_requests) == 3
    assert reply.requests == 3
    assert len(sleep.waits) == 2
    assert all(0.0 <= w <= FAST_RETRY.backoff_max_seconds for w in sleep.waits)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(
    status: int, primary: ScriptedLLM, make_gateway: GatewayFactory, sleep: RecordingSleep
) -> None:
    primary.script(Reply.error(status), Reply.answer("never sent [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong", max_retries=3))

    with pytest.raises(LLMUnavailableError) as caught:
        gateway.chat(MESSAGES, user_key="u1")

    assert len(primary.chat_requests) == 1
    assert sleep.waits == []
    (failure,) = caught.value.failures
    assert (failure.kind, failure.status, failure.attempts) == ("client", status, 1)
    assert gateway.breaker_state("strong") == "closed"


def test_timeout_is_retried_then_fails_over_to_the_secondary(
    primary: ScriptedLLM, secondary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    release = threading.Event()
    primary.script(Reply.stalled(release), Reply.stalled(release))
    secondary.script(Reply.answer("Blue [1]."))
    gateway = make_gateway(
        endpoint_for(primary, "strong", timeout_seconds=0.2, max_retries=1),
        endpoint_for(secondary, "cheap"),
    )

    reply = gateway.chat(MESSAGES, user_key="u1")
    release.set()

    assert reply.endpoint == "cheap"
    assert len(primary.chat_requests) == 2
    assert reply.requests == 3
    assert "failover: strong: timeout after 2 request(s)" in reply.notes


def test_malformed_body_is_not_retried_and_fails_over(
    primary: ScriptedLLM, secondary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    primary.script(Reply.garbage())
    secondary.script(Reply.answer("Blue [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong"), endpoint_for(secondary, "cheap"))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.endpoint == "cheap"
    assert len(primary.chat_requests) == 1
    assert "failover: strong: malformed after 1 request(s)" in reply.notes


def test_every_endpoint_failing_raises_llm_unavailable(
    primary: ScriptedLLM, secondary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    primary.script(*[Reply.error(500)] * 3)
    secondary.script(Reply.error(502), Reply.error(502), Reply.error(502))
    gateway = make_gateway(endpoint_for(primary, "strong"), endpoint_for(secondary, "cheap"))

    with pytest.raises(LLMUnavailableError) as caught:
        gateway.chat(MESSAGES, user_key="u1")

    assert [(f.endpoint, f.kind, f.attempts) for f in caught.value.failures] == [
        ("strong", "server", 3),
        ("cheap", "server", 3),
    ]


# -- 429 and Retry-After ---------------------------------------------------------------------------


def test_429_retry_after_is_honoured(
    primary: ScriptedLLM, make_gateway: GatewayFactory, sleep: RecordingSleep
) -> None:
    primary.script(Reply.rate_limited("1"), Reply.answer("Blue [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong"))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.text == "Blue [1]."
    assert sleep.waits == [1.0]
    assert len(primary.chat_requests) == 2


def test_429_asking_for_longer_than_the_bound_fails_over_without_waiting(
    primary: ScriptedLLM,
    secondary: ScriptedLLM,
    make_gateway: GatewayFactory,
    sleep: RecordingSleep,
) -> None:
    primary.script(Reply.rate_limited("120"), Reply.answer("never sent [1]."))
    secondary.script(Reply.answer("Blue [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong"), endpoint_for(secondary, "cheap"))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.endpoint == "cheap"
    assert len(primary.chat_requests) == 1
    assert sleep.waits == []
    assert "failover: strong: rate_limited HTTP 429 after 1 request(s)" in reply.notes


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "Thu, 01 Jan 1970 00:00:30 GMT"}, 20.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=10.0) == expected


# -- circuit breaker -------------------------------------------------------------------------------


def test_persistent_500_opens_the_breaker_and_the_next_call_fails_fast(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    primary.script(*[Reply.error(500)] * 3)
    gateway = make_gateway(
        endpoint_for(primary, "strong", max_retries=5),
        breaker=BreakerSettings(failure_threshold=3, reset_timeout_seconds=30.0),
    )

    with pytest.raises(LLMUnavailableError) as first:
        gateway.chat(MESSAGES, user_key="u1")
    assert [(f.kind, f.attempts) for f in first.value.failures] == [("circuit_open", 3)]
    assert gateway.breaker_state("strong") == "open"

    with pytest.raises(LLMUnavailableError) as second:
        gateway.chat(MESSAGES, user_key="u1")
    assert [(f.kind, f.attempts) for f in second.value.failures] == [("circuit_open", 0)]
    assert len(primary.chat_requests) == 3  # the second call never reached the server


def test_open_breaker_recovers_through_half_open_after_the_cool_down(
    primary: ScriptedLLM, make_gateway: GatewayFactory, clock: FakeClock
) -> None:
    primary.script(Reply.error(500), Reply.error(500), Reply.error(500), Reply.answer("Back [1]."))
    gateway = make_gateway(
        endpoint_for(primary, "strong", max_retries=0),
        breaker=BreakerSettings(failure_threshold=2, reset_timeout_seconds=30.0),
    )
    for _ in range(2):
        with pytest.raises(LLMUnavailableError):
            gateway.chat(MESSAGES, user_key="u1")
    assert gateway.breaker_state("strong") == "open"

    clock.advance(30.0)
    assert gateway.breaker_state("strong") == "half_open"
    with pytest.raises(LLMUnavailableError):  # the trial call fails: open again
        gateway.chat(MESSAGES, user_key="u1")
    assert gateway.breaker_state("strong") == "open"
    assert len(primary.chat_requests) == 3

    clock.advance(30.0)
    reply = gateway.chat(MESSAGES, user_key="u1")  # the trial call succeeds: closed
    assert reply.text == "Back [1]."
    assert gateway.breaker_state("strong") == "closed"
    assert len(primary.chat_requests) == 4


def test_half_open_breaker_lets_a_single_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_seconds=5.0, clock=clock)
    breaker.record_failure()
    assert not breaker.allow()
    clock.advance(5.0)

    assert breaker.allow()  # the trial
    assert not breaker.allow()  # others fail fast while it is in flight
    breaker.record_neutral()  # e.g. a 400: says nothing about health
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()
    assert breaker.allow()


# -- budgets ---------------------------------------------------------------------------------------


def test_request_token_budget_refuses_before_any_request(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    gateway = make_gateway(
        endpoint_for(primary, "strong", max_completion_tokens=512),
        budget=BudgetSettings(max_tokens_per_request=100),
    )

    with pytest.raises(BudgetExceededError) as caught:
        gateway.chat(MESSAGES, user_key="u1")

    assert caught.value.scope == "request"
    assert primary.chat_requests == []


def test_request_cost_budget_skips_the_expensive_endpoint(
    primary: ScriptedLLM, secondary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    secondary.script(Reply.answer("Blue [1]."))
    gateway = make_gateway(
        endpoint_for(primary, "strong", price_per_1k_completion_tokens=10.0),
        endpoint_for(secondary, "cheap", price_per_1k_completion_tokens=0.01),
        budget=BudgetSettings(max_cost_per_request_usd=0.05),
    )

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.endpoint == "cheap"
    assert primary.chat_requests == []
    assert "failover: strong: over_budget after 0 request(s)" in reply.notes


def test_prompt_beyond_the_context_window_is_not_sent(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    gateway = make_gateway(
        endpoint_for(primary, "strong", context_window=256, max_completion_tokens=200)
    )
    long_prompt = [PromptMessage("user", "word " * 400)]

    with pytest.raises(BudgetExceededError):
        gateway.chat(long_prompt, user_key="u1")
    assert primary.chat_requests == []


def test_daily_user_budget_is_per_user_and_settles_to_real_usage(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    usage = MemoryDailyUsage()
    primary.script(Reply.answer("Blue [1].", prompt_tokens=300, completion_tokens=50))
    primary.script(Reply.answer("Blue [1].", prompt_tokens=300, completion_tokens=50))
    gateway = make_gateway(
        endpoint_for(primary, "strong", max_completion_tokens=200),
        budget=BudgetSettings(daily_tokens_per_user=500),
        usage_store=usage,
    )

    gateway.chat(MESSAGES, user_key="alice")
    assert usage.used("alice") == 350  # the reservation settled to the reported usage

    with pytest.raises(BudgetExceededError) as caught:
        gateway.chat(MESSAGES, user_key="alice")  # 350 + estimate + 200 > 500
    assert caught.value.scope == "user_daily"
    assert len(primary.chat_requests) == 1

    gateway.chat(MESSAGES, user_key="bob")  # another user's budget is untouched
    assert len(primary.chat_requests) == 2


def test_failed_call_releases_its_daily_reservation(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    usage = MemoryDailyUsage()
    primary.script(Reply.error(400))
    gateway = make_gateway(
        endpoint_for(primary, "strong"),
        budget=BudgetSettings(daily_tokens_per_user=10_000),
        usage_store=usage,
    )

    with pytest.raises(LLMUnavailableError):
        gateway.chat(MESSAGES, user_key="alice")
    assert usage.used("alice") == 0


def test_missing_usage_is_estimated_with_the_local_tokenizer(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    primary.script(Reply.answer_without_usage("The sky is blue [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong", price_per_1k_prompt_tokens=1.0))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.usage_estimated
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens == gateway.count_tokens("The sky is blue [1].")
    assert reply.usage.cost_usd == pytest.approx(reply.usage.prompt_tokens / 1000)
    assert "usage estimated locally (endpoint reported none)" in reply.notes


def test_streaming_endpoint_reads_the_text_and_the_usage_chunk(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    text = "Reset it from the self-service portal [1]. The link expires in a day [2]."
    primary.script(Reply.answer(text, prompt_tokens=77, completion_tokens=18))
    gateway = make_gateway(endpoint_for(primary, "strong", stream=True))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.text == text
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (77, 18)
    (request,) = primary.chat_requests
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


def test_streaming_endpoint_errors_are_retried_like_any_other(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    primary.script(Reply.error(502), Reply.answer("Blue [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong", stream=True))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.text == "Blue [1]."
    assert len(primary.chat_requests) == 2


def test_cost_is_computed_per_1k_tokens() -> None:
    endpoint = EndpointSettings(
        name="x",
        base_url="http://127.0.0.1:1/v1",
        model="m",
        price_per_1k_prompt_tokens=0.003,
        price_per_1k_completion_tokens=0.015,
    )
    assert cost_usd(endpoint, 2000, 1000) == pytest.approx(0.006 + 0.015)


# -- routing ---------------------------------------------------------------------------------------

ROUTING = RoutingSettings(
    rules=[
        RoutingRule(
            name="short_factual",
            max_words=8,
            exclude_terms=["why", "how", "compare", "difference between"],
            route=["cheap"],
        ),
        RoutingRule(name="greeting", require_terms=["hello", "thanks"], route=[]),
    ],
    default_route=["strong", "cheap"],
)


@pytest.mark.parametrize(
    ("question", "rule", "endpoints"),
    [
        ("What is the VPN port?", "short_factual", ("cheap",)),
        ("Why does the VPN drop?", "default", ("strong", "cheap")),
        ("What is the difference between VPN A and B?", "default", ("strong", "cheap")),
        ("What is the difference of A and B?", "short_factual", ("cheap",)),
        ("Hello there, could you walk me through every step of the setup?", "greeting", ()),
        (
            "What are all the steps to configure the VPN client on a new laptop?",
            "default",
            ("strong", "cheap"),
        ),
    ],
)
def test_routing_rules(question: str, rule: str, endpoints: tuple[str, ...]) -> None:
    route = Router(settings=ROUTING, endpoint_names=["strong", "cheap"]).route(question)
    assert (route.rule, route.endpoints) == (rule, endpoints)


def test_routed_question_goes_only_to_its_endpoints(
    primary: ScriptedLLM, secondary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    secondary.script(Reply.answer("Port 443 [1]."))
    gateway = make_gateway(
        endpoint_for(primary, "strong"), endpoint_for(secondary, "cheap"), routing=ROUTING
    )

    route = gateway.route("What is the VPN port?")
    reply = gateway.chat(MESSAGES, user_key="u1", route=route)

    assert reply.endpoint == "cheap"
    assert primary.chat_requests == []
    assert "route: short_factual" in reply.notes
    with pytest.raises(NoLLMRouteError):
        gateway.chat(
            MESSAGES,
            user_key="u1",
            route=gateway.route("Hello, and thanks for all the help so far!"),
        )


def test_settings_reject_routes_to_unknown_endpoints() -> None:
    with pytest.raises(ValueError, match="unknown endpoints"):
        LLMSettings(
            endpoints=[EndpointSettings(name="a", base_url="http://127.0.0.1:1/v1", model="m")],
            routing=RoutingSettings(rules=[RoutingRule(name="r", route=["b"])]),
        )


# -- the shared (Redis) daily budget -----------------------------------------------------------


@pytest.mark.redis
def test_redis_daily_budget_is_shared_between_gateways(
    primary: ScriptedLLM, make_gateway: GatewayFactory, redis_client: redis.Redis
) -> None:
    prefix = f"test:llm-usage:{uuid.uuid4().hex}:"
    primary.script(Reply.answer("Blue [1].", prompt_tokens=300, completion_tokens=50))
    budget = BudgetSettings(daily_tokens_per_user=500)
    replica_a = make_gateway(
        endpoint_for(primary, "strong", max_completion_tokens=200),
        budget=budget,
        usage_store=RedisDailyUsage(client=redis_client, key_prefix=prefix),
    )
    replica_b = make_gateway(
        endpoint_for(primary, "strong", max_completion_tokens=200),
        budget=budget,
        usage_store=RedisDailyUsage(client=redis_client, key_prefix=prefix),
    )
    try:
        replica_a.chat(MESSAGES, user_key="alice")
        with pytest.raises(BudgetExceededError):
            replica_b.chat(MESSAGES, user_key="alice")
        assert len(primary.chat_requests) == 1
        (key,) = redis_client.keys(prefix + "*")
        assert int(redis_client.get(key) or 0) == 350
        assert 0 < int(redis_client.ttl(key)) <= 2 * 24 * 3600
    finally:
        for key in redis_client.keys(prefix + "*"):
            redis_client.delete(key)


def test_unreachable_usage_store_fails_closed(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    store = RedisDailyUsage.from_url("redis://127.0.0.1:1/0", key_prefix="unused:")
    gateway = make_gateway(
        endpoint_for(primary, "strong"),
        budget=BudgetSettings(daily_tokens_per_user=1000),
        usage_store=store,
    )

    with pytest.raises(BudgetUnavailableError):
        gateway.chat(MESSAGES, user_key="alice")
    assert primary.chat_requests == []
