"""The LLM gateway: routing, budgets, retries with backoff, a breaker per endpoint, failover.

One `chat()` walks the route's endpoints in order (primary → secondary → …). For each endpoint:
per-request budget and context window → per-user daily reservation → attempts under the
endpoint's breaker, retried (tenacity: exponential backoff + jitter, Retry-After honoured up to a
bound) for retryable failures only (timeouts, connection errors, 429, 5xx; never 4xx) → token
and cost accounting. When every endpoint fails it raises `LLMUnavailableError` (or
`BudgetExceededError` when budgets refused them all); the composer chain then falls back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from agent.llm.breaker import BreakerState, CircuitBreaker
from agent.llm.budget import (
    CountTokens,
    DailyUsageStore,
    build_usage_store,
    cost_usd,
    default_token_counter,
)
from agent.llm.client import ChatClient, ClientReply, OpenAIClient, PromptMessage
from agent.llm.errors import (
    BudgetExceededError,
    BudgetUnavailableError,
    CircuitOpenError,
    EndpointCallError,
    EndpointFailure,
    LLMUnavailableError,
    NoLLMRouteError,
)
from agent.llm.routing import Route, Router
from agent.llm.settings import EndpointSettings, LLMSettings, RetrySettings
from agent.types import TokenUsage

__all__ = ["LLMGateway", "LLMReply"]

log = logging.getLogger(__name__)

_MESSAGE_OVERHEAD_TOKENS = 4  # role and separators of the chat format, per message


@dataclass(frozen=True)
class LLMReply:
    text: str
    endpoint: str
    model: str
    usage: TokenUsage
    usage_estimated: bool  # the endpoint reported no usage; counted with the local tokenizer
    requests: int  # HTTP requests sent for this reply, failed ones and other endpoints included
    notes: tuple[str, ...] = ()


class LLMGateway:
    """Calls OpenAI-compatible endpoints for the LLM composer. Thread-safe; build one per app."""

    def __init__(
        self,
        *,
        settings: LLMSettings,
        usage_store: DailyUsageStore | None = None,
        count_tokens: CountTokens | None = None,
        client_factory: Callable[[EndpointSettings], ChatClient] = OpenAIClient,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._endpoints = {e.name: e for e in settings.endpoints}
        self._clients = {e.name: client_factory(e) for e in settings.endpoints}
        self._breakers = {
            e.name: CircuitBreaker(
                failure_threshold=settings.breaker.failure_threshold,
                reset_timeout_seconds=settings.breaker.reset_timeout_seconds,
                clock=clock,
            )
            for e in settings.endpoints
        }
        self._router = Router(settings=settings.routing, endpoint_names=list(self._endpoints))
        self._usage = usage_store or build_usage_store(settings.budget)
        self._count_tokens = count_tokens
        self._sleep = sleep

    def route(self, question: str) -> Route:
        """Which endpoints answer this question (empty: none, the next composer answers)."""
        return self._router.route(question)

    def breaker_state(self, endpoint: str) -> BreakerState:
        return self._breakers[endpoint].state

    def count_tokens(self, text: str) -> int:
        if self._count_tokens is None:
            self._count_tokens = default_token_counter()
        return self._count_tokens(text)

    def chat(
        self, messages: Sequence[PromptMessage], *, user_key: str, route: Route | None = None
    ) -> LLMReply:
        """One answer from the first endpoint of the route that gives one.

        Raises `NoLLMRouteError` for an empty route, `BudgetExceededError` when a budget refuses
        the call, `BudgetUnavailableError` when the shared usage store is down, and
        `LLMUnavailableError` when every endpoint failed.
        """
        route = route or self._router.default
        if not route.endpoints:
            raise NoLLMRouteError(route.rule)
        prompt_estimate = sum(
            self.count_tokens(m.content) + _MESSAGE_OVERHEAD_TOKENS for m in messages
        )
        failures: list[EndpointFailure] = []
        requests = 0
        for name in route.endpoints:
            endpoint = self._endpoints[name]
            reserved = prompt_estimate + endpoint.max_completion_tokens
            if refusal := self._over_request_budget(endpoint, prompt_estimate):
                log.info("endpoint %s skipped: %s", name, refusal)
                failures.append(EndpointFailure(name, "over_budget", 0))
                continue
            self._reserve_daily(user_key, reserved)
            try:
                reply, attempts = self._call_with_retries(endpoint, messages)
            except _EndpointGaveUpError as gave_up:
                self._settle_daily(user_key, -reserved)
                failures.append(gave_up.failure)
                requests += gave_up.failure.attempts
                continue
            requests += attempts
            return self._account(
                endpoint=endpoint,
                reply=reply,
                prompt_estimate=prompt_estimate,
                user_key=user_key,
                reserved=reserved,
                route=route,
                failures=failures,
                requests=requests,
            )
        if failures and all(f.kind == "over_budget" for f in failures):
            raise BudgetExceededError(
                "every endpoint of the route exceeds the per-request budget", scope="request"
            )
        raise LLMUnavailableError(tuple(failures))

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    # -- budgets -------------------------------------------------------------------------------

    def _over_request_budget(self, endpoint: EndpointSettings, prompt_tokens: int) -> str | None:
        needed = prompt_tokens + endpoint.max_completion_tokens
        budget = self._settings.budget
        if needed > endpoint.context_window:
            return f"needs {needed} tokens, context window {endpoint.context_window}"
        if budget.max_tokens_per_request is not None and needed > budget.max_tokens_per_request:
            return f"needs {needed} tokens, request budget {budget.max_tokens_per_request}"
        worst_cost = cost_usd(endpoint, prompt_tokens, endpoint.max_completion_tokens)
        max_cost = budget.max_cost_per_request_usd
        if max_cost is not None and worst_cost > max_cost:
            return f"may cost {worst_cost:.6f} USD, request budget {max_cost:.6f} USD"
        return None

    def _reserve_daily(self, user_key: str, tokens: int) -> None:
        limit = self._settings.budget.daily_tokens_per_user
        if limit is not None and not self._usage.reserve(user_key, tokens, limit):
            raise BudgetExceededError("the user's daily token budget is spent", scope="user_daily")

    def _settle_daily(self, user_key: str, delta: int) -> None:
        """Correct the reservation. A store outage here is logged, not raised: the call is made
        (and paid for) already, and the answer is worth more than the exact counter."""
        if self._settings.budget.daily_tokens_per_user is None:
            return
        try:
            self._usage.adjust(user_key, delta)
        except BudgetUnavailableError:
            log.warning("usage store unreachable: daily usage not settled (%+d tokens)", delta)

    def _account(
        self,
        *,
        endpoint: EndpointSettings,
        reply: ClientReply,
        prompt_estimate: int,
        user_key: str,
        reserved: int,
        route: Route,
        failures: list[EndpointFailure],
        requests: int,
    ) -> LLMReply:
        estimated = reply.prompt_tokens is None or reply.completion_tokens is None
        prompt_tokens = prompt_estimate if reply.prompt_tokens is None else reply.prompt_tokens
        completion_tokens = (
            self.count_tokens(reply.text)
            if reply.completion_tokens is None
            else reply.completion_tokens
        )
        self._settle_daily(user_key, prompt_tokens + completion_tokens - reserved)
        notes = [f"route: {route.rule}"]
        notes += [f"failover: {f.describe()}" for f in failures]
        if estimated:
            notes.append("usage estimated locally (endpoint reported none)")
        return LLMReply(
            text=reply.text,
            endpoint=endpoint.name,
            model=endpoint.model,
            usage=TokenUsage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost_usd=cost_usd(endpoint, prompt_tokens, completion_tokens),
            ),
            usage_estimated=estimated,
            requests=requests,
            notes=tuple(notes),
        )

    # -- one endpoint: breaker + retries ----------------------------------------------------------

    def _call_with_retries(
        self, endpoint: EndpointSettings, messages: Sequence[PromptMessage]
    ) -> tuple[ClientReply, int]:
        client = self._clients[endpoint.name]
        breaker = self._breakers[endpoint.name]
        attempts = 0

        def attempt() -> ClientReply:
            nonlocal attempts
            if not breaker.allow():
                raise CircuitOpenError(endpoint.name)
            attempts += 1
            try:
                reply = client.chat(messages)
            except EndpointCallError as exc:
                if exc.kind == "client":
                    breaker.record_neutral()  # our request was wrong, the endpoint is fine
                else:
                    breaker.record_failure()
                raise
            except BaseException:
                breaker.record_neutral()  # a bug of ours: never leave a half-open trial pending
                raise
            breaker.record_success()
            return reply

        retrying = _retrying(endpoint, self._settings.retry, self._sleep)
        try:
            return retrying(attempt), attempts
        except EndpointCallError as exc:
            log.warning(
                "endpoint %s failed: %s (status %s) after %d request(s)",
                endpoint.name,
                exc.kind,
                exc.status,
                attempts,
            )
            raise _EndpointGaveUpError(
                EndpointFailure(endpoint.name, exc.kind, attempts, exc.status)
            ) from exc


class _EndpointGaveUpError(Exception):
    def __init__(self, failure: EndpointFailure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


def _retrying(
    endpoint: EndpointSettings, settings: RetrySettings, sleep: Callable[[float], None]
) -> Retrying:
    return Retrying(
        stop=stop_any(
            stop_after_attempt(endpoint.max_retries + 1),
            _RetryAfterTooLong(settings.max_retry_after_seconds),
        ),
        wait=_BackoffOrRetryAfter(settings),
        retry=retry_if_exception(lambda exc: isinstance(exc, EndpointCallError) and exc.retryable),
        sleep=sleep,
        before_sleep=_log_retry(endpoint.name),
        reraise=True,
    )


def _endpoint_error(state: RetryCallState) -> EndpointCallError | None:
    exc = state.outcome.exception() if state.outcome is not None else None
    return exc if isinstance(exc, EndpointCallError) else None


class _BackoffOrRetryAfter(wait_base):
    """Wait what a 429's Retry-After asks (bounded), else exponential backoff with jitter."""

    def __init__(self, settings: RetrySettings) -> None:
        self._backoff = wait_exponential_jitter(
            initial=settings.backoff_initial_seconds,
            max=settings.backoff_max_seconds,
            jitter=settings.jitter_seconds,
        )
        self._max_retry_after = settings.max_retry_after_seconds

    def __call__(self, state: RetryCallState) -> float:
        exc = _endpoint_error(state)
        if exc is not None and exc.retry_after is not None:
            return min(exc.retry_after, self._max_retry_after)
        return float(self._backoff(state))


class _RetryAfterTooLong(stop_base):
    """Stop retrying an endpoint that asks us to stay away longer than we are willing to wait:
    the next endpoint (or the extractive composer) answers sooner."""

    def __init__(self, max_wait: float) -> None:
        self._max_wait = max_wait

    def __call__(self, state: RetryCallState) -> bool:
        exc = _endpoint_error(state)
        return exc is not None and exc.retry_after is not None and exc.retry_after > self._max_wait


def _log_retry(endpoint: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = _endpoint_error(state)
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            "retrying endpoint %s after %s (attempt %d, waiting %.3fs)",
            endpoint,
            exc.kind if exc is not None else "error",
            state.attempt_number,
            wait,
        )

    return before_sleep
