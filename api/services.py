"""`ApiServices`: everything the routes use (built by `api.bootstrap.server.build_services`),
the feedback store over the answer and audit records, and the readiness checks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from agent.audit.store import UnknownAnswerError
from agent.review.service import ReviewService
from api.answer_store import SqlAnswerStore
from api.auth import Authenticator
from api.metrics import ApiMetrics
from api.ports import (
    AnswerStore,
    ChatService,
    Feedback,
    FeedbackStore,
    PolicyAdmin,
    ReadinessProbe,
    SourceAdmin,
)
from api.ratelimit import RateLimiter
from api.runtime import ServiceRuntime
from policies.access.casbin_engine import CasbinPolicyEngine
from policies.pii.guard import PiiGuard
from retrieval.service import RetrievalService

__all__ = ["ApiServices", "AuditedFeedback", "readiness_checks"]


log = logging.getLogger(__name__)


@dataclass
class ApiServices:
    """The ports and helpers the routes depend on; `start`/`close` run in the app's lifespan."""

    authenticator: Authenticator
    rate_limiter: RateLimiter
    chat: ChatService
    answers: AnswerStore
    feedback: FeedbackStore
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


class AuditedFeedback:
    """Feedback kept for its asker (the API's answer store) and, once the answer pipeline is up,
    added to the audit record too, masked, where a negative rating puts the answer in the
    citation review queue."""

    def __init__(self, *, store: SqlAnswerStore, runtime: ServiceRuntime) -> None:
        self._store = store
        self._runtime = runtime

    def add(
        self, *, answer_id: str, asker: str, rating: Literal[1, -1], comment: str | None
    ) -> Feedback:
        audit = self._runtime.engines().audit  # 503 before anything is written while starting
        feedback = self._store.add(answer_id=answer_id, asker=asker, rating=rating, comment=comment)
        if audit is not None:
            try:
                audit.add_feedback(answer_id, rating, comment)
            except UnknownAnswerError:  # answered before the audit record was kept
                log.warning("feedback on an answer without an audit record: %s", answer_id)
        return feedback

    def for_answer(self, answer_id: str) -> list[Feedback]:
        return self._store.for_answer(answer_id)


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
