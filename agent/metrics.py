"""Prometheus metrics of answering and ingestion, in a registry the caller owns.

Nothing registers on import: `AgentMetrics(registry=...)` creates the collectors in the given
registry (a fresh one by default), so two apps, or two tests, never collide. Pass the API's
registry to serve both on one `/metrics`.

Every label takes its value from a closed set fixed in code (answer statuses, pipeline step
names, token kinds, ingest outcomes) or from operator configuration (source ids of
sources.yaml). A value outside the set becomes `other`: nothing a user typed or owns can become
a label, and the number of series stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, Protocol, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from agent.types import Answer, AnswerStatus
from policies.access.rules import SOURCE_ID_PATTERN

__all__ = ["DEFAULT_STEPS", "INGEST_OUTCOMES", "AgentMetrics", "IngestReportLike"]

OTHER: Final = "other"
# Pipeline step names as they appear in `Answer.timings_ms`; `total` is the whole request.
DEFAULT_STEPS: tuple[str, ...] = (
    "total",
    "screen",
    "condense",
    "cache",
    "retrieve",
    "evidence",
    "compose",
    "verify",
    "decide",
    "record",
)
INGEST_OUTCOMES: tuple[str, ...] = (
    "added",
    "updated",
    "unchanged",
    "deleted",
    "acl_changed",
    "quarantined",
    "failed",
)
_STATUSES: frozenset[str] = frozenset(get_args(AnswerStatus))
_SYNC_STATUSES = frozenset({"succeeded", "partial", "failed", "abandoned"})
_CACHE_FLAG = "cache_hit"
_SOURCE_ID = re.compile(SOURCE_ID_PATTERN)  # what the sources file accepts
_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IngestReportLike(Protocol):
    """What `observe_ingest` reads from one source's sync report (ingest's `SourceReport`)."""

    @property
    def source_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def added(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def deleted(self) -> int: ...
    @property
    def acl_changed(self) -> int: ...
    @property
    def quarantined(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def chunks_embedded(self) -> int: ...


class AgentMetrics:
    """Counters and histograms of the answer pipeline and of ingestion. Thread-safe."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        steps: Iterable[str] = DEFAULT_STEPS,
        sources: Iterable[str] = (),
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._steps = frozenset(steps)
        self._sources = frozenset(sources)
        r = self.registry
        self.step_seconds = Histogram(
            "proofdesk_pipeline_step_duration_seconds",
            "Latency of one answer-pipeline step (step=total: the whole answer)",
            ["step"],
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "proofdesk_pipeline_answers", "Answers produced, by status", ["status"], registry=r
        )
        self.refusals = Counter(
            "proofdesk_pipeline_refusals",
            "Refusals, by reason (no evidence, insufficient support)",
            ["reason"],
            registry=r,
        )
        self.escalations = Counter(
            "proofdesk_pipeline_escalations", "Questions handed off to a human", registry=r
        )
        self.tokens = Counter(
            "proofdesk_llm_tokens", "LLM tokens used, by kind", ["kind"], registry=r
        )
        self.cost_usd = Counter("proofdesk_llm_cost_usd", "LLM cost in US dollars", registry=r)
        self.cache = Counter(
            "proofdesk_answer_cache_lookups", "Answer-cache lookups, by result", ["result"],
            registry=r,
        )  # fmt: skip
        self.ingest_documents = Counter(
            "proofdesk_ingest_documents",
            "Documents processed by ingestion, by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.ingest_chunks_embedded = Counter(
            "proofdesk_ingest_chunks_embedded", "Chunks embedded by ingestion", ["source"],
            registry=r,
        )  # fmt: skip
        self.ingest_syncs = Counter(
            "proofdesk_ingest_syncs", "Source syncs finished, by status", ["source", "status"],
            registry=r,
        )  # fmt: skip

    def observe_step(self, step: str, seconds: float) -> None:
        """One pipeline step's latency; a step outside the configured set counts as `other`."""
        self.step_seconds.labels(self._step(step)).observe(max(seconds, 0.0))

    def observe_answer(self, answer: Answer) -> None:
        """Everything one answer tells: status, refusal/escalation, step latencies, tokens,
        cost, and whether it came from the cache."""
        status = answer.status if answer.status in _STATUSES else OTHER
        self.answers.labels(status).inc()
        if status.startswith("refused_"):
            self.refusals.labels(status.removeprefix("refused_")).inc()
        elif status == "escalated":
            self.escalations.inc()
        for step, milliseconds in answer.timings_ms.items():
            self.observe_step(step, milliseconds / 1000.0)
        usage = answer.usage
        if usage.prompt_tokens > 0:
            self.tokens.labels("prompt").inc(usage.prompt_tokens)
        if usage.completion_tokens > 0:
            self.tokens.labels("completion").inc(usage.completion_tokens)
        if usage.cost_usd > 0:
            self.cost_usd.inc(usage.cost_usd)
        self.cache.labels("hit" if _CACHE_FLAG in answer.flags else "miss").inc()

    def observe_ingest(self, report: IngestReportLike) -> None:
        """One source's sync: documents by outcome, chunks embedded, the sync's status."""
        source = self._source(report.source_id)
        for outcome in INGEST_OUTCOMES:
            count = int(getattr(report, outcome))
            if count > 0:
                self.ingest_documents.labels(source, outcome).inc(count)
        if report.chunks_embedded > 0:
            self.ingest_chunks_embedded.labels(source).inc(report.chunks_embedded)
        status = report.status if report.status in _SYNC_STATUSES else OTHER
        self.ingest_syncs.labels(source, status).inc()

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def _step(self, step: str) -> str:
        return step if step in self._steps else OTHER

    def _source(self, source_id: str) -> str:
        # Without a configured list every source id is accepted: they come from sources.yaml.
        if source_id in self._sources or (not self._sources and _SOURCE_ID.match(source_id)):
            return source_id
        return OTHER
