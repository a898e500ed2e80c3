"""The answer pipeline builder: `AnswerService` with every collaborator given explicitly, as
the server and `proofdesk ask` run it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api.bootstrap.components import Components

if TYPE_CHECKING:
    from agent.answer_cache import AnswerCache
    from agent.audit.store import AuditStore
    from agent.metrics import AgentMetrics
    from agent.pipeline import AnswerRecorder, AnswerService
    from agent.settings import AgentSettings
    from agent.tracing.port import Tracer
    from agent.types import Composer
    from policies.access.engine import PolicyEngine
    from policies.pii.guard import PiiGuard
    from retrieval.embedding.embedder import Embedder
    from retrieval.reading import Reader
    from retrieval.sentence_vectors import SentenceVectors
    from retrieval.service import RetrievalService

__all__ = ["AnswerPipeline", "answer_service", "build_answer_pipeline"]


@dataclass
class AnswerPipeline:
    """The answer service (what the API and `proofdesk ask` call) and what it holds: the audit
    record it writes (reviews read it), the masking it shares, and the resources `close()`
    releases (the LLM gateway, the tracer's flush, the audit store's writes)."""

    service: AnswerService
    audit: AuditStore
    guard: PiiGuard
    closers: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def answer_service(
    *,
    retrieval: RetrievalService,
    policy: PolicyEngine,
    embedder: Embedder,
    index_version: Callable[[], str],
    settings: AgentSettings | None = None,
    tracer: Tracer | None = None,
    recorder: AnswerRecorder | None = None,
    composer: Composer | None = None,
    fallback_composers: Sequence[Composer] = (),
    guard: PiiGuard | None = None,
    sentence_vectors: SentenceVectors | None = None,
    cache: AnswerCache | None = None,
    reader: Reader | None = None,
    metrics: AgentMetrics | None = None,
) -> AnswerService:
    """`AnswerService` as production builds it: the conversation store and condenser of
    `settings` (default: `AgentSettings()`), with `tracer` and `recorder` (default: none kept)
    and the rest passed on as given. The
    server and `proofdesk ask` get theirs from `build_answer_pipeline`; the evals and tests
    call this directly."""
    from agent.conversation import InMemoryConversationStore, RuleCondenser
    from agent.pipeline import AnswerService, NoopRecorder
    from agent.settings import AgentSettings
    from agent.tracing.port import NoopTracer

    agent = settings or AgentSettings()
    return AnswerService(
        retrieval=retrieval,
        policy=policy,
        embedder=embedder,
        index_version=index_version,
        settings=agent,
        tracer=tracer or NoopTracer(),
        recorder=recorder or NoopRecorder(),
        conversations=InMemoryConversationStore(
            max_turns=agent.history_turns,
            max_conversations=agent.max_conversations,
            ttl_seconds=agent.conversation_ttl_seconds,
        ),
        condenser=RuleCondenser(),
        composer=composer,
        fallback_composers=fallback_composers,
        guard=guard,
        sentence_vectors=sentence_vectors,
        cache=cache,
        reader=reader,
        metrics=metrics,
    )


def build_answer_pipeline(
    parts: Components,
    *,
    retrieval: RetrievalService,
    metrics: AgentMetrics | None = None,
) -> AnswerPipeline:
    """The answer pipeline with masking, tracing, the audit record and, when enabled, the LLM
    and the answer cache (`answer_cache.*`) over `retrieval`. `metrics`: where every answer is
    counted (tokens, cost, step latencies, cache hits). The masking worker, the guard and the
    sentence vectors are the process's (`parts`)."""
    from agent.answer_cache import build_answer_cache
    from agent.llm.composer import LLMComposer
    from agent.llm.gateway import LLMGateway
    from agent.tracing.build import build_tracer
    from retrieval.reading import shared_reader

    settings = parts.settings
    guard, worker = parts.guard, parts.masking_worker
    closers: list[Callable[[], object]] = []
    tracer = build_tracer(settings.tracing, guard=guard, worker=worker)
    audit = parts.audit_store(background=True)
    closers.append(audit.close)
    close_tracer = getattr(tracer, "close", None)  # the no-op tracer holds nothing
    if callable(close_tracer):
        closers.append(lambda: close_tracer(settings.tracing.flush_timeout_seconds))
    composer = None
    if settings.llm.enabled:
        gateway = LLMGateway(settings=settings.llm)
        closers.append(gateway.close)
        composer = LLMComposer.from_settings(settings.llm, gateway=gateway)
    service = answer_service(
        retrieval=retrieval,
        policy=parts.policy,
        embedder=parts.embedder,
        index_version=parts.state.index_version,
        settings=settings.agent,
        tracer=tracer,
        recorder=audit,
        composer=composer,
        guard=guard,
        sentence_vectors=parts.sentences,
        cache=build_answer_cache(settings.answer_cache),
        # The reading model `reader` names (the bundled one by default), one per process;
        # None with `reader.kind: none`. Raises `ReaderModelError` when it cannot be loaded.
        reader=shared_reader(settings.reader),
        metrics=metrics,
    )
    return AnswerPipeline(service=service, audit=audit, guard=guard, closers=closers)
