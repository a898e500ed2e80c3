"""Settings of the LLM path: endpoints, retries, breaker, routing, budgets, and the answer cache.

`LLMSettings` is the slice the gateway and the LLM composer receive; `AnswerCacheSettings` is the
slice of the answer cache. Both are plain pydantic models, nested into the app settings at the
composition root.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "PROMPT_ID_PATTERN",
    "PROMPT_VERSION_PATTERN",
    "AnswerCacheSettings",
    "BreakerSettings",
    "BudgetSettings",
    "EndpointSettings",
    "LLMSettings",
    "RetrySettings",
    "RoutingRule",
    "RoutingSettings",
]

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# A packaged prompt template `<id>.<version>.txt` (checked again by `agent.llm.prompts`).
PROMPT_ID_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
PROMPT_VERSION_PATTERN = r"^v[0-9]+$"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class EndpointSettings(BaseModel):
    """One OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, OpenAI, Azure…)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN, description="referenced by routing rules")
    base_url: str = Field(
        pattern=r"^https?://", description="API base including /v1, e.g. http://127.0.0.1:8000/v1"
    )
    model: str = Field(min_length=1)
    api_key: SecretStr | None = Field(
        default=None, description="None for endpoints without auth (a placeholder is sent)"
    )
    timeout_seconds: float = Field(default=30.0, gt=0.0)
    max_retries: int = Field(default=2, ge=0, le=10, description="retries after the first try")
    price_per_1k_prompt_tokens: float = Field(default=0.0, ge=0.0, description="USD")
    price_per_1k_completion_tokens: float = Field(default=0.0, ge=0.0, description="USD")
    context_window: int = Field(default=8192, ge=256)
    max_completion_tokens: int = Field(default=512, ge=16)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stream: bool = Field(
        default=False, description="use stream=true (SSE); usage is requested in the stream"
    )


class RetrySettings(BaseModel):
    """Backoff between retries of one endpoint: exponential with jitter, Retry-After honoured."""

    model_config = ConfigDict(extra="forbid")

    backoff_initial_seconds: float = Field(default=0.5, ge=0.0)
    backoff_max_seconds: float = Field(default=8.0, ge=0.0)
    jitter_seconds: float = Field(default=0.5, ge=0.0)
    max_retry_after_seconds: float = Field(
        default=10.0,
        ge=0.0,
        description="a 429 asking to wait longer than this fails over to the next endpoint",
    )


class BreakerSettings(BaseModel):
    """Per-endpoint circuit breaker: open after N consecutive failures, half-open after a pause."""

    model_config = ConfigDict(extra="forbid")

    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout_seconds: float = Field(default=30.0, ge=0.0)


class RoutingRule(BaseModel):
    """Questions this rule matches go to `route` (endpoint names, tried in order).

    A rule matches when the question has at most `max_words` words (when set), contains none of
    `exclude_terms` (whole words, case-insensitive) and, when `require_terms` is not empty, at
    least one of them. An empty `route` means "no LLM": the next composer (extractive) answers.
    The first matching rule wins.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    max_words: int | None = Field(default=None, ge=1)
    exclude_terms: list[str] = Field(default_factory=list)
    require_terms: list[str] = Field(default_factory=list)
    route: list[str] = Field(default_factory=list)


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RoutingRule] = Field(default_factory=list)
    default_route: list[str] | None = Field(
        default=None, description="endpoint names for unmatched questions; None: all, in order"
    )


class BudgetSettings(BaseModel):
    """Limits checked before a call; a call over budget is refused (the fallback answers)."""

    model_config = ConfigDict(extra="forbid")

    max_tokens_per_request: int | None = Field(
        default=16_000, ge=1, description="estimated prompt tokens + max completion tokens"
    )
    max_cost_per_request_usd: float | None = Field(default=None, ge=0.0)
    daily_tokens_per_user: int | None = Field(default=None, ge=1)
    usage_backend: Literal["memory", "redis"] = Field(
        default="memory", description="redis: replicas share the per-user daily counters"
    )
    redis_url: SecretStr = Field(default=SecretStr(DEFAULT_REDIS_URL))
    redis_key_prefix: str = "proofdesk:llm-usage:"


class LLMSettings(BaseModel):
    """Everything the LLM gateway and the LLM composer need."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="off: the extractive composer answers alone")
    endpoints: list[EndpointSettings] = Field(default_factory=list)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    prompt_id: str = Field(default="answer", pattern=PROMPT_ID_PATTERN)
    prompt_version: str = Field(default="v1", pattern=PROMPT_VERSION_PATTERN)
    max_conversation_turns: int = Field(default=6, ge=0)
    max_turn_chars: int = Field(default=1_000, ge=1)

    @model_validator(mode="after")
    def _routes_name_known_endpoints(self) -> Self:
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must be unique, got {names}")
        if self.enabled and not names:
            raise ValueError("llm.enabled needs at least one endpoint")
        routes = [r.route for r in self.routing.rules]
        if self.routing.default_route is not None:
            routes.append(self.routing.default_route)
        for route in routes:
            unknown = sorted(set(route) - set(names))
            if unknown:
                raise ValueError(f"routing names unknown endpoints: {unknown}")
        return self


class AnswerCacheSettings(BaseModel):
    """The answer cache: in-process LRU, or Redis shared by every replica."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    backend: Literal["memory", "redis"] = "memory"
    redis_url: SecretStr = Field(default=SecretStr(DEFAULT_REDIS_URL))
    ttl_seconds: int = Field(default=3_600, ge=1)
    max_entries: int = Field(default=1_024, ge=1, description="memory backend only")
    key_prefix: str = "proofdesk:answer:"
