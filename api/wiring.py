"""Builds the services from settings. The only place that knows every concrete class."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from api.answer_store import SqlAnswerStore
from api.retention import RetentionReport, run_retention
from api.settings import Settings

if TYPE_CHECKING:
    from agent.audit.store import AuditStore
    from agent.metrics import AgentMetrics
    from agent.pipeline import AnswerService
    from agent.types import Answer
    from policies.access.principal import Principal
    from policies.pii.guard import PiiGuard
    from policies.pii.redaction import PresidioRedactor
from ingest.chunking import Chunker
from ingest.connector_factory import connector_for
from ingest.jobs import JobStore
from ingest.runner import SyncRunner
from ingest.scheduler import ScheduledTask
from ingest.sources import SourceRegistry, load_sources
from ingest.state import StateStore, create_state_engine
from ingest.state_prune import PruneReport, StatePruner
from ingest.sync import IngestService
from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.engine import PolicyEngine
from policies.injection import InjectionScreen
from retrieval.embedding.embedder import Embedder, load_embedder
from retrieval.reading import Reader, shared_reader
from retrieval.sentence_vectors import SentenceVectors, SentenceVectorStore
from retrieval.service import RetrievalService
from retrieval.store import VectorStore
from retrieval.store_factory import open_store

__all__ = [
    "IngestContext",
    "ManagedAnswerService",
    "build_answer_service",
    "build_embedder",
    "build_ingest",
    "build_policy",
    "build_reader",
    "build_registry",
    "build_retrieval",
    "maintenance_tasks",
    "retention_tasks",
]


def build_policy(settings: Settings) -> CasbinPolicyEngine:
    return CasbinPolicyEngine(settings=settings.policy)


def build_retrieval(
    settings: Settings, *, store: VectorStore, embedder: Embedder, policy: PolicyEngine
) -> RetrievalService:
    return RetrievalService(
        store=store, embedder=embedder, policy=policy, settings=settings.retrieval
    )


def build_embedder(settings: Settings) -> Embedder:
    return load_embedder(settings.embedding)


def build_reader(settings: Settings) -> Reader | None:
    """The reading model `reader` names (the bundled one by default), one per process; None
    with `reader.kind: none`. Raises `ReaderModelError` when it cannot be loaded."""
    return shared_reader(settings.reader)


def build_registry(settings: Settings, sources_file: Path | None = None) -> SourceRegistry:
    return load_sources(sources_file or settings.ingest.sources_file)


@dataclass
class IngestContext:
    runner: SyncRunner
    store: VectorStore
    state: StateStore
    embedder: Embedder
    sentences: SentenceVectors  # the sentence vectors ingestion writes and answering reads
    pruner: StatePruner  # removes state rows no chunk in the index uses any more

    def close(self) -> None:
        self.store.close()


def build_ingest(
    settings: Settings,
    *,
    registry: SourceRegistry | None = None,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
    redactor: PresidioRedactor | None = None,
) -> IngestContext:
    """Everything a sync needs. Opening the store first fails fast if another process holds it.
    `redactor`: one already loaded with the state database's findings (the server's), used to
    store the PII findings of indexed sentences; by default one is loaded when needed."""
    registry = registry or build_registry(settings)
    engine = create_state_engine(settings.ingest.state_url)
    embedder = embedder or build_embedder(settings)
    store = store or open_store(settings.store, dimension=embedder.dimension)
    state = StateStore(engine=engine)
    sentences = build_sentence_vectors(engine, embedder)
    flag_pii = None
    if settings.ingest.flag_pii:
        from policies.pii.redaction import PresidioRedactor

        scanner = PresidioRedactor(
            settings=settings.redaction.model_copy(update={"engine": "patterns"})
        )
        flag_pii = scanner.contains_pii
    pii_findings = None
    if settings.ingest.precompute_pii:
        from policies.pii.redaction import PresidioRedactor

        redactor = redactor or PresidioRedactor(settings=settings.redaction, findings_engine=engine)
        pii_findings = redactor.precompute
    screen = InjectionScreen()
    chunker = Chunker(
        tokens=embedder,
        target_tokens=settings.ingest.chunk_target_tokens,
        overlap_sentences=settings.ingest.chunk_overlap_sentences,
    )
    service = IngestService(
        registry=registry,
        store=store,
        embedder=embedder,
        chunker=chunker,
        state=state,
        connector_for=connector_for,
        batch_chunks=settings.ingest.batch_chunks,
        flag_pii=flag_pii,
        flag_injection=lambda text: screen.assess(text).suspected,
        sentence_vectors=sentences,
        pii_findings=pii_findings,
        parse_limits=settings.ingest.parse_limits,
    )
    jobs = JobStore(engine=engine, lease_seconds=settings.ingest.lease_seconds)
    pruner = StatePruner(
        store=store,
        state=state,
        jobs=jobs,
        source_ids=lambda: [s.id for s in registry],
        chunker=chunker,
        model_id=embedder.model_id,
        sentences=sentences.store,
        # Findings are written (and so pruned) only when ingest precomputes them.
        findings=redactor if settings.ingest.precompute_pii else None,
    )
    return IngestContext(
        runner=SyncRunner(service=service, jobs=jobs),
        store=store,
        state=state,
        embedder=embedder,
        sentences=sentences,
        pruner=pruner,
    )


def maintenance_tasks(
    settings: Settings,
    ctx: IngestContext,
    *,
    lock: threading.Lock | None = None,
    on_done: Callable[[PruneReport], None] | None = None,
) -> list[ScheduledTask]:
    """The scheduler's jobs besides source syncs: the state prune on `ingest.prune_schedule`
    (under `lock` when given: the server's lock that serialises its syncs), its report handed
    to `on_done` (the server's metrics)."""
    schedule = settings.ingest.prune_schedule
    if schedule is None:
        return []

    def prune() -> PruneReport:
        with lock or contextlib.nullcontext():
            report = ctx.pruner.prune()
        if on_done is not None:
            on_done(report)
        return report

    return [
        ScheduledTask(
            name="state:prune",
            schedule=schedule,
            run=prune,
            last_run=ctx.pruner.last_finished(),
        )
    ]


def retention_tasks(
    settings: Settings,
    *,
    audit: AuditStore | None,
    answers: SqlAnswerStore | None,
    jobs: JobStore | None = None,
    on_done: Callable[[RetentionReport], None] | None = None,
) -> list[ScheduledTask]:
    """The retention job on `audit.retention_schedule`, over the stores this process has,
    under the `retention` task lease of `jobs`; its report handed to `on_done` (the server's
    metrics)."""
    schedule = settings.audit.retention_schedule
    if schedule is None or (audit is None and answers is None):
        return []
    days = settings.audit.retention_days

    def retain() -> RetentionReport:
        report = run_retention(days, audit=audit, answers=answers, jobs=jobs)
        if on_done is not None:
            on_done(report)
        return report

    return [ScheduledTask(name="audit:retention", schedule=schedule, run=retain)]


def build_sentence_vectors(engine: Engine, embedder: Embedder) -> SentenceVectors:
    """Sentence vectors kept in the state database, next to the chunk embedding cache."""
    return SentenceVectors(
        embedder=embedder,
        store=SentenceVectorStore(engine=engine, dimension=embedder.dimension),
    )


class ManagedAnswerService:
    """The answer pipeline plus the resources it holds (tracer, audit store, LLM gateway).

    It is what the API and `proofdesk ask` call; `close()` flushes traces and audit writes.
    """

    def __init__(
        self,
        *,
        service: AnswerService,
        closers: list[Callable[[], object]],
        audit: AuditStore,
        guard: PiiGuard,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self._service = service
        self._closers = closers
        self._metrics = metrics
        self.audit = audit  # the audit record this pipeline writes (reviews read it)
        self.guard = guard  # the request-scoped masking both share

    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer:
        answer = self._service.answer(
            question, principal=principal, conversation_id=conversation_id, owner=owner
        )
        if self._metrics is not None:
            self._metrics.observe_answer(answer)
        return answer

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


def build_answer_service(
    settings: Settings,
    *,
    retrieval: RetrievalService,
    policy: PolicyEngine,
    embedder: Embedder,
    index_version: Callable[[], str],
    redactor: PresidioRedactor | None = None,
    sentences: SentenceVectors | None = None,
    metrics: AgentMetrics | None = None,
) -> ManagedAnswerService:
    """The answer pipeline with masking, tracing, the audit record and, when enabled, the LLM
    and the answer cache (`answer_cache.*`). `metrics`: where every answer is counted (tokens,
    cost, step latencies, cache hits).
    `redactor`: one the caller already loaded (spaCy is loaded once per process that way).
    `sentences`: the evidence sentence vectors ingestion stored (default: the state database's).
    """
    from agent.answer_cache import build_answer_cache
    from agent.audit.store import AuditStore
    from agent.llm.composer import LLMComposer
    from agent.llm.gateway import LLMGateway
    from agent.pipeline import AnswerService
    from agent.tracing.build import build_tracer
    from policies.pii.guard import PiiGuard
    from policies.pii.masking_worker import MaskingWorker
    from policies.pii.redaction import PresidioRedactor

    closers: list[Callable[[], object]] = []
    if sentences is None or redactor is None:
        state_engine = create_state_engine(settings.ingest.state_url)
        closers.append(state_engine.dispose)
        sentences = sentences or build_sentence_vectors(state_engine, embedder)
        redactor = redactor or PresidioRedactor(
            settings=settings.redaction, findings_engine=state_engine
        )
    guard = PiiGuard(redactor=redactor)
    # Masking (spaCy NER) runs on this worker, off the request thread: values are masked there
    # before they reach the tracing SDK or the audit database. A graceful shutdown drains it.
    worker = MaskingWorker()
    tracer = build_tracer(settings.tracing, guard=guard, worker=worker)
    audit = AuditStore.from_settings(settings.audit, guard=guard, worker=worker)
    closers += [worker.close, audit.close]
    close_tracer = getattr(tracer, "close", None)  # the no-op tracer holds nothing
    if callable(close_tracer):
        closers.append(lambda: close_tracer(settings.tracing.flush_timeout_seconds))
    composer = None
    if settings.llm.enabled:
        gateway = LLMGateway(settings=settings.llm)
        closers.append(gateway.close)
        composer = LLMComposer.from_settings(settings.llm, gateway=gateway)
    service = AnswerService(
        retrieval=retrieval,
        policy=policy,
        embedder=embedder,
        index_version=index_version,
        composer=composer,
        settings=settings.agent,
        tracer=tracer,
        recorder=audit,
        guard=guard,
        sentence_vectors=sentences,
        cache=build_answer_cache(settings.answer_cache),
        reader=build_reader(settings),
    )
    return ManagedAnswerService(
        service=service, closers=closers, audit=audit, guard=guard, metrics=metrics
    )
