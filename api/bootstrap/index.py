"""The "index" builders: ingest (syncs, the state prune, their scheduled tasks) and search,
over one process's `Components`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from api.bootstrap.components import Components
from api.settings import Settings

if TYPE_CHECKING:
    from agent.audit.store import AuditStore
    from api.retention import RetentionReport
    from ingest.chunking import Chunker
    from ingest.jobs import JobStore
    from ingest.runner import SyncRunner
    from ingest.scheduler import ScheduledTask
    from ingest.sources import SourceRegistry
    from ingest.state import StateStore
    from ingest.state_prune import PruneReport, StatePruner
    from retrieval.embedding.embedder import Embedder
    from retrieval.sentence_vectors import SentenceVectors
    from retrieval.service import RetrievalService, RetrievalSettings
    from retrieval.store import VectorStore

__all__ = [
    "IngestContext",
    "build_ingest",
    "build_retrieval",
    "maintenance_tasks",
    "retention_tasks",
]


@dataclass
class IngestContext:
    runner: SyncRunner
    store: VectorStore
    state: StateStore
    embedder: Embedder
    chunker: Chunker  # how ingest cuts documents (and the prune keys cached embeddings by)
    sentences: SentenceVectors  # the sentence vectors ingestion writes and answering reads
    pruner: StatePruner  # removes state rows no chunk in the index uses any more
    release: Callable[[], None]  # closes the index (its lock released)

    def close(self) -> None:
        self.release()


def build_retrieval(
    parts: Components, *, settings: RetrievalSettings | None = None
) -> RetrievalService:
    """Search over the index, as the policy allows. `settings`: instead of the process's
    `retrieval` settings (a benchmark's baseline, such as search without the query cache)."""
    from retrieval.service import RetrievalService

    return RetrievalService(
        store=parts.store,
        embedder=parts.embedder,
        policy=parts.policy,
        settings=settings or parts.settings.retrieval,
    )


def build_ingest(parts: Components, *, registry: SourceRegistry | None = None) -> IngestContext:
    """Everything a sync needs. Opening the store first fails fast if another process holds it.
    `registry`: the sources to sync (default: the configured sources file). PII findings of
    indexed sentences are stored with the process's redactor (`ingest.precompute_pii`)."""
    from ingest.chunking import Chunker
    from ingest.connector_factory import connector_for
    from ingest.jobs import JobStore
    from ingest.runner import SyncRunner
    from ingest.state_prune import StatePruner
    from ingest.sync import IngestService
    from policies.injection import InjectionScreen

    settings = parts.settings
    registry = registry or parts.registry
    embedder = parts.embedder
    store = parts.store
    state = parts.state
    sentences = parts.sentences
    flag_pii = parts.pii_scanner.contains_pii if settings.ingest.flag_pii else None
    redactor = parts.redactor if settings.ingest.precompute_pii else None
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
        pii_findings=redactor.precompute if redactor is not None else None,
        parse_limits=settings.ingest.parse_limits,
    )
    jobs = JobStore(engine=parts.state_engine, lease_seconds=settings.ingest.lease_seconds)
    pruner = StatePruner(
        store=store,
        state=state,
        jobs=jobs,
        source_ids=lambda: [s.id for s in registry],
        chunker=chunker,
        model_id=embedder.model_id,
        sentences=sentences.store,
        # Findings are written (and so pruned) only when ingest precomputes them.
        findings=redactor,
    )
    return IngestContext(
        runner=SyncRunner(service=service, jobs=jobs),
        store=store,
        state=state,
        embedder=embedder,
        chunker=chunker,
        sentences=sentences,
        pruner=pruner,
        release=parts.release_store,
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
    from ingest.scheduler import ScheduledTask

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
    jobs: JobStore | None = None,
    on_done: Callable[[RetentionReport], None] | None = None,
) -> list[ScheduledTask]:
    """The retention job on `audit.retention_schedule`, over the audit record this process has,
    under the `retention` task lease of `jobs`; its report handed to `on_done` (the server's
    metrics)."""
    from api.retention import run_retention
    from ingest.scheduler import ScheduledTask

    schedule = settings.audit.retention_schedule
    if schedule is None or audit is None:
        return []
    days = settings.audit.retention_days

    def retain() -> RetentionReport:
        report = run_retention(days, audit=audit, jobs=jobs)
        if on_done is not None:
            on_done(report)
        return report

    return [ScheduledTask(name="audit:retention", schedule=schedule, run=retain)]
