"""`ApiServices`: everything the routes use, and `build_services`, which makes them from settings.

The cheap parts (policy, keys, limits, answer store, job records) are built at once and fail
the start-up when misconfigured; the index-bound parts start in the background
(`ServiceRuntime`), so the server answers `/readyz` (503 with reasons) while they load.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from agent.audit.store import UnknownAnswerError
from agent.metrics import AgentMetrics
from agent.review.service import ReviewService
from agent.review.store import ReviewStore
from api.answer_store import SqlAnswerStore
from api.api_settings import ApiSettings
from api.auth import ApiKeyStore, Authenticator, JwtVerifier
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
from api.runtime import Engines, GatedChat, Progress, ServiceRuntime
from api.settings import Settings
from api.sync_jobs import SyncJobs
from api.wiring import (
    ManagedAnswerService,
    build_embedder,
    build_ingest,
    build_policy,
    build_registry,
    build_retrieval,
    maintenance_tasks,
    retention_tasks,
)
from ingest.jobs import JobStore
from ingest.scheduler import Scheduler
from ingest.state import StateStore, create_state_engine
from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.engine import PolicyEngine
from policies.pii.guard import PiiGuard
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from policies.pii.vocabulary import CorpusVocabulary
from retrieval.embedding.embedder import Embedder
from retrieval.sentence_vectors import SentenceVectors
from retrieval.service import RetrievalService
from retrieval.store import VectorStore

__all__ = [
    "ApiServices",
    "ChatFactory",
    "ChatParts",
    "build_services",
    "default_chat_factory",
    "readiness_checks",
]


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


@dataclass(frozen=True)
class ChatParts:
    """What a chat service is built from once the index is open."""

    settings: Settings
    retrieval: RetrievalService
    policy: PolicyEngine
    state: StateStore
    store: VectorStore
    embedder: Embedder
    redactor: PresidioRedactor
    sentences: SentenceVectors
    metrics: AgentMetrics | None = None  # where the pipeline counts its answers


ChatFactory = Callable[[ChatParts], ChatService]


def build_services(
    settings: Settings,
    api: ApiSettings,
    *,
    chat_factory: ChatFactory,
    metrics: ApiMetrics | None = None,
) -> ApiServices:
    """Build the API's services; the index-bound ones start when `ApiServices.start` runs."""
    api.check_for(settings.environment)
    metrics = metrics or ApiMetrics()
    policy = build_policy(settings)
    authenticator = Authenticator(
        policy=policy,
        keys=ApiKeyStore.load(api.api_keys_file) if api.api_keys_file else ApiKeyStore(),
        jwt_verifier=JwtVerifier(api.jwt) if api.jwt.enabled else None,
        jwt_settings=api.jwt,
    )
    limiter = RateLimiter(
        settings=api.rate_limits,
        redis_url=api.redis_url.get_secret_value() if api.redis_url else None,
        on_limited=lambda kind: metrics.rate_limited.labels(kind).inc(),
    )
    engine = create_state_engine(settings.ingest.state_url)
    # One redactor (spaCy loads once) for the answer store, which keeps what users write masked,
    # and for the answer pipeline built with the index.
    # The corpus's own words (collected at ingest) are not names: evidence stays readable.
    vocabulary = CorpusVocabulary(load=StateStore(engine=engine).corpus_vocabulary)
    redactor = PresidioRedactor(
        settings=served_redaction(settings), findings_engine=engine, vocabulary=vocabulary
    )
    guard = PiiGuard(redactor=redactor)
    answers = SqlAnswerStore(engine=engine, mask=redactor.mask, safe_id=guard.safe_id)
    registry = build_registry(settings)
    jobs = JobStore(engine=engine, lease_seconds=settings.ingest.lease_seconds)
    jobs.abandon_stale()
    sync_lock = threading.Lock()
    loaded: list[Embedder] = []  # the model is loaded once, however often the index is retried

    def build(progress: Progress) -> Engines:
        if not loaded:
            progress("model", "loading")
            embedder = build_embedder(settings)
            embedder.embed_query("warm-up")  # the first query pays for lazy initialisation
            loaded.append(embedder)
            progress("model", "ok")
        return _build_engines(
            settings,
            api,
            embedder=loaded[0],
            redactor=redactor,
            policy=policy,
            chat_factory=chat_factory,
            lock=sync_lock,
            progress=progress,
            answers=answers,
            metrics=metrics,
        )

    runtime = ServiceRuntime(
        build=build,
        checks=readiness_checks(policy, limiter),
        retry_seconds=api.store_retry_seconds,
        audit_required=settings.audit.required,
    )
    sync = SyncJobs(
        registry=registry,
        jobs=jobs,
        runner=runtime.runner,
        pruner=runtime.pruner,
        sync_lock=sync_lock,
        on_start=metrics.sync_jobs.inc,
        on_prune=metrics.observe_prune,
        on_report=metrics.agent.observe_ingest,
    )
    return ApiServices(
        authenticator=authenticator,
        rate_limiter=limiter,
        chat=GatedChat(runtime),
        answers=answers,
        feedback=AuditedFeedback(store=answers, runtime=runtime),
        sources=sync,
        readiness=runtime,
        metrics=metrics,
        reviews=runtime.review,
        search=runtime.retrieval,
        policy=policy,
        guard=guard,
        on_start=[runtime.start],
        # The redactor's analysis workers stop after the pipeline (and its masking worker).
        on_close=[sync.close, runtime.close, redactor.close, policy.close, engine.dispose],
    )


def served_redaction(settings: Settings) -> RedactionSettings:
    """The redaction settings of a served API: unless configured, PII analysis runs in two
    worker processes when the machine has a second CPU (`redaction.analysis_processes`). With
    one, concurrent requests queued for it: two served 11-14% more chat requests per second
    than one in alternating runs on the 2-core benchmark machine (docs/benchmarks.md)."""
    if settings.redaction.analysis_processes is not None:
        return settings.redaction
    processes = 2 if (os.cpu_count() or 1) >= 2 else 0
    return settings.redaction.model_copy(update={"analysis_processes": processes})


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


def _build_engines(
    settings: Settings,
    api: ApiSettings,
    *,
    embedder: Embedder,
    redactor: PresidioRedactor,
    policy: PolicyEngine,
    chat_factory: ChatFactory,
    lock: threading.Lock,
    progress: Progress,
    answers: SqlAnswerStore | None = None,
    metrics: ApiMetrics | None = None,
) -> Engines:
    progress("index", "opening")
    # StoreLockedError: the runtime retries
    ctx = build_ingest(settings, embedder=embedder, redactor=redactor)
    closers: list[Callable[[], None]] = [ctx.close]
    try:
        retrieval = build_retrieval(settings, store=ctx.store, embedder=embedder, policy=policy)
        chat = chat_factory(
            ChatParts(
                settings,
                retrieval,
                policy,
                ctx.state,
                ctx.store,
                embedder,
                redactor,
                ctx.sentences,
                metrics=metrics.agent if metrics is not None else None,
            )
        )
        close = getattr(chat, "close", None)
        if callable(close):
            closers.append(close)
    except BaseException:
        ctx.close()
        raise
    progress("index", "ok")
    audit, review = None, None
    if isinstance(chat, ManagedAnswerService):  # the agent's pipeline keeps the audit record
        audit = chat.audit
        review = ReviewService(
            audit=audit,
            reviews=ReviewStore(engine=audit.engine),
            index=lambda: ctx.store,
            policy=policy,
            guard=chat.guard,
            settings=settings.review,
        )
    if metrics is not None and audit is not None:
        metrics.watch_audit(audit.health)
    runner = ctx.runner
    scheduler = None
    if api.run_scheduler:

        def run_source(source_id: str) -> object:
            with lock:
                result = runner.run(source_id, trigger="schedule")
            if metrics is not None:
                metrics.agent.observe_ingest(result.report)
            return result

        scheduler = Scheduler(
            registry=runner.service.registry,
            run_source=run_source,
            last_run=runner.jobs.last_started,
            tasks=[
                *maintenance_tasks(
                    settings,
                    ctx,
                    lock=lock,
                    on_done=metrics.observe_prune if metrics is not None else None,
                ),
                *retention_tasks(
                    settings,
                    audit=audit,
                    answers=answers,
                    jobs=runner.jobs,
                    on_done=metrics.observe_retention if metrics is not None else None,
                ),
            ],
        )
    return Engines(
        chat=chat,
        runner=runner,
        pruner=ctx.pruner,
        scheduler=scheduler,
        closers=closers,
        audit=audit,
        review=review,
        retrieval=retrieval,
    )


def default_chat_factory(parts: ChatParts) -> ChatService:
    """The agent's answer pipeline over the opened index, wired as settings say."""
    from api.wiring import build_answer_service

    return build_answer_service(
        parts.settings,
        retrieval=parts.retrieval,
        policy=parts.policy,
        embedder=parts.embedder,
        index_version=parts.state.index_version,
        redactor=parts.redactor,
        sentences=parts.sentences,
        metrics=parts.metrics,
    )
