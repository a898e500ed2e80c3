"""The LLM gateway against scripted OpenAI-compatible servers over real HTTP on 127.0.0.1: what
it sends, retries and backoff, Retry-After, failover to the next endpoint, the circuit breaker."""

from __future__ import annotations

import threading

import pytest

from agent.llm.breaker import CircuitBreaker
from agent.llm.client import parse_retry_after
from agent.llm.errors import LLMUnavailableError
from agent.llm.settings import BreakerSettings
from tests.fixtures.clocks import FakeClock, RecordingSleep
from tests.fixtures.llm_gateway import MESSAGES, GatewayFactory
from tests.fixtures.scripted_llm import FAST_RETRY, Reply, ScriptedLLM, endpoint_for

# -- what is sent, retries, no retries ------------------------------------------------------------


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


def test_streaming_endpoint_errors_are_retried_like_any_other(
    primary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    primary.script(Reply.error(502), Reply.answer("Blue [1]."))
    gateway = make_gateway(endpoint_for(primary, "strong", stream=True))

    reply = gateway.chat(MESSAGES, user_key="u1")

    assert reply.text == "Blue [1]."
    assert len(primary.chat_requests) == 2


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
