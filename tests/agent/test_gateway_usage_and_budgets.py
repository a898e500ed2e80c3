"""The LLM gateway's usage and budgets against scripted OpenAI-compatible servers over real HTTP
on 127.0.0.1: costs, locally estimated usage, streamed usage, per-request and daily budgets
(in memory and shared in Redis)."""

from __future__ import annotations

import uuid

import pytest
import redis

from agent.llm.budget import MemoryDailyUsage, RedisDailyUsage, cost_usd
from agent.llm.client import PromptMessage
from agent.llm.errors import BudgetExceededError, BudgetUnavailableError, LLMUnavailableError
from agent.llm.settings import BudgetSettings, EndpointSettings
from tests.fixtures.llm_gateway import MESSAGES, GatewayFactory
from tests.fixtures.scripted_llm import Reply, ScriptedLLM, endpoint_for


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


def test_cost_is_computed_per_1k_tokens() -> None:
    endpoint = EndpointSettings(
        name="x",
        base_url="http://127.0.0.1:1/v1",
        model="m",
        price_per_1k_prompt_tokens=0.003,
        price_per_1k_completion_tokens=0.015,
    )
    assert cost_usd(endpoint, 2000, 1000) == pytest.approx(0.006 + 0.015)


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
