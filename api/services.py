"""`ApiServices`: everything the routes use (built by `api.bootstrap.server.build_services`),
and the readiness checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.review.service import ReviewService
from api.auth import Authenticator
from api.metrics import ApiMetrics
from api.ports import AnswerRecords, ChatService, PolicyAdmin, ReadinessProbe, SourceAdmin
from api.ratelimit import RateLimiter
from policies.access.casbin_engine import CasbinPolicyEngine
from policies.pii.guard import PiiGuard
from retrieval.service import RetrievalService

__all__ = ["ApiServices", "readiness_checks"]


@dataclass
class ApiServices:
    """The ports and helpers the routes depend on; `start`/`close` run in the app's lifespan."""

    authenticator: Authenticator
    rate_limiter: RateLimiter
    chat: ChatService
    # The answers to read back and rate: the audit record (503 until up, or when none is kept).
    records: Callable[[], AnswerRecords]
    sources: SourceAdmin
    readiness: ReadinessProbe
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    reviews: Callable[[], ReviewService] | None = None  # citation audit reviews (503 until up)
    search: Callable[[], RetrievalService] | None = None  # `/v1/search` (503 until up)
    policy: PolicyAdmin | None = None  # the served access policy (admins reload it)
    guard: PiiGuard | None = None  # the served masking: `proofdesk serve` masks its logs with it
    on_start: list[Callable[[], None]] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        for start in self.on_start:
            start()

    def close(self) -> None:
        for close in self.on_close:
            close()


def readiness_checks(
    policy: CasbinPolicyEngine, limiter: RateLimiter
) -> dict[str, Callable[[], str]]:
    """Checks run on every `/readyz`, next to the start-up state of the model and the index."""

    def policy_status() -> str:
        error = policy.status.last_error
        # The reason (it may name a database host or hold a driver message) is in the log.
        return "ok" if error is None else "serving the last good policy; reload failed"

    return {
        "policy": policy_status,
        "rate_limits": lambda: "ok" if limiter.check() else "storage unreachable",
    }
