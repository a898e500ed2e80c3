"""Typed failures of the LLM path. All but `EndpointCallError` are `LLMError`s: the signal for a
`FallbackComposer` to hand the request to its next composer (in the end, the extractive one).

Messages carry endpoint names, error kinds and counts only, never question or evidence text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BudgetExceededError",
    "BudgetUnavailableError",
    "CircuitOpenError",
    "EndpointCallError",
    "EndpointFailure",
    "FailureKind",
    "LLMError",
    "LLMUnavailableError",
    "NoLLMRouteError",
]

FailureKind = Literal[
    "timeout",  # no answer within the endpoint's timeout
    "connect",  # could not reach the endpoint / connection dropped
    "rate_limited",  # HTTP 429
    "server",  # HTTP 5xx
    "client",  # HTTP 4xx other than 429: our request or our credentials are wrong
    "malformed",  # HTTP 200 whose body is not a chat completion
    "circuit_open",  # the endpoint's breaker refused the call
    "over_budget",  # the call would exceed a per-request budget or the context window
]

_RETRYABLE: frozenset[FailureKind] = frozenset({"timeout", "connect", "rate_limited", "server"})


class EndpointCallError(Exception):
    """One call to one endpoint failed. Raised by the client adapter, handled by the gateway."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE


class CircuitOpenError(EndpointCallError):
    """The endpoint's circuit breaker is open: the call was not made."""

    def __init__(self, endpoint: str) -> None:
        super().__init__("circuit_open", f"circuit breaker of endpoint {endpoint!r} is open")


@dataclass(frozen=True)
class EndpointFailure:
    endpoint: str
    kind: FailureKind
    attempts: int  # HTTP requests actually sent to the endpoint
    status: int | None = None

    def describe(self) -> str:
        status = f" HTTP {self.status}" if self.status is not None else ""
        return f"{self.endpoint}: {self.kind}{status} after {self.attempts} request(s)"


class LLMError(Exception):
    """The LLM path produced no composition for this request; the next composer should answer."""

    reason: str = "llm_error"


class LLMUnavailableError(LLMError):
    """Every endpoint of the route failed (or was refused by its breaker)."""

    reason = "llm_unavailable"

    def __init__(self, failures: tuple[EndpointFailure, ...]) -> None:
        detail = "; ".join(f.describe() for f in failures) or "no endpoint configured"
        super().__init__(f"every LLM endpoint failed: {detail}")
        self.failures = failures


class BudgetExceededError(LLMError):
    """The call would exceed a per-request or per-user budget, so it was not made."""

    reason = "budget_exceeded"

    def __init__(self, message: str, *, scope: Literal["request", "user_daily"]) -> None:
        super().__init__(message)
        self.scope = scope


class BudgetUnavailableError(LLMError):
    """The shared usage store (Redis) could not be reached: fail closed, make no LLM call."""

    reason = "budget_unavailable"


class NoLLMRouteError(LLMError):
    """A routing rule sent this question away from the LLM (e.g. short factual → extractive)."""

    reason = "routed_away"

    def __init__(self, rule: str) -> None:
        super().__init__(f"routing rule {rule!r} routes this question to the next composer")
        self.rule = rule
