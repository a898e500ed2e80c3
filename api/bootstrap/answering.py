"""The answer pipeline builder: `AnswerService` with every collaborator given explicitly, as
the server and `proofdesk ask` run it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api.bootstrap.components import Components

if TYPE_CHECKING:
    from agent.audit.store import AuditStore
    from agent.metrics import AgentMetrics
    from agent.pipeline import AnswerService
    from policies.pii.guard import PiiGuard
    from retrieval.service import RetrievalService

__all__ = ["AnswerPipeline", "build_answer_pipeline"]


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
    from agent.audit.store import AuditStore
    from agent.conversation import InMemoryConversationStore, RuleCondenser
    from agent.llm.composer import LLMComposer
    from agent.llm.gateway import LLMGateway
    from agent.pipeline import AnswerService
    from agent.tracing.build import build_tracer
    from retrieval.reading import shared_reader

    settings = parts.settings
    guard, worker = parts.guard, parts.masking_worker
    closers: list[Callable[[], object]] = []
    tracer = build_tracer(settings.tracing, guard=guard, worker=worker)
    audit = AuditStore.from_settings(settings.audit, guard=guard, worker=worker)
    closers.append(audit.close)
    close_tracer = getattr(tracer, "close", None)  # the no-op tracer holds nothing
    if callable(close_tracer):
        closers.append(lambda: close_tracer(settings.tracing.flush_timeout_seconds))
    composer = None
    if settings.llm.enabled:
        gateway = LLMGateway(settings=settings.llm)
        closers.append(gateway.close)
        composer = LLMComposer.from_settings(settings.llm, gateway=gateway)
    agent = settings.agent
    service = AnswerService(
        retrieval=retrieval,
        policy=parts.policy,
        embedder=parts.embedder,
        index_version=parts.state.index_version,
        composer=composer,
        settings=agent,
        tracer=tracer,
        recorder=audit,
        guard=guard,
        conversations=InMemoryConversationStore(
            max_turns=agent.history_turns,
            max_conversations=agent.max_conversations,
            ttl_seconds=agent.conversation_ttl_seconds,
        ),
        condenser=RuleCondenser(),
        sentence_vectors=parts.sentences,
        cache=build_answer_cache(settings.answer_cache),
        # The reading model `reader` names (the bundled one by default), one per process;
        # None with `reader.kind: none`. Raises `ReaderModelError` when it cannot be loaded.
        reader=shared_reader(settings.reader),
        metrics=metrics,
    )
    return AnswerPipeline(service=service, audit=audit, guard=guard, closers=closers)
