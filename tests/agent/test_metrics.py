"""Prometheus metrics: labels from closed sets only, a registry per instance."""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry

from agent.metrics import AgentMetrics
from agent.types import Answer, AnswerStatus, TokenUsage
from ingest.report import SourceReport
from tests.fixtures.pii import labelled_texts, leaked_values


def _answer(status: AnswerStatus, **changes: object) -> Answer:
    answer = Answer(
        answer_id="a1",
        status=status,
        answer="text",
        citations=[],
        conversation_id="c1",
        question="q",
        policy_version="p",
        index_version="i",
        composer="extractive",
        usage=TokenUsage(prompt_tokens=100, completion_tokens=20, cost_usd=0.002),
        timings_ms={"retrieve": 12.0, "compose": 30.0, "total": 50.0},
    )
    return dataclasses.replace(answer, **changes)  # type: ignore[arg-type]


def _value(metrics: AgentMetrics, name: str, labels: dict[str, str] | None = None) -> float:
    found = metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if found is None else found


def test_answers_refusals_escalations_tokens_cost_and_cache() -> None:
    metrics = AgentMetrics()
    metrics.observe_answer(_answer("answered"))
    metrics.observe_answer(_answer("answered", flags=("cache_hit",)))
    metrics.observe_answer(_answer("refused_no_evidence", usage=TokenUsage()))
    metrics.observe_answer(_answer("refused_insufficient_support"))
    metrics.observe_answer(_answer("escalated"))

    assert _value(metrics, "proofdesk_pipeline_answers_total", {"status": "answered"}) == 2
    assert _value(metrics, "proofdesk_pipeline_refusals_total", {"reason": "no_evidence"}) == 1
    assert (
        _value(metrics, "proofdesk_pipeline_refusals_total", {"reason": "insufficient_support"})
        == 1
    )
    assert _value(metrics, "proofdesk_pipeline_escalations_total") == 1
    assert _value(metrics, "proofdesk_llm_tokens_total", {"kind": "prompt"}) == 400
    assert _value(metrics, "proofdesk_llm_tokens_total", {"kind": "completion"}) == 80
    assert abs(_value(metrics, "proofdesk_llm_cost_usd_total") - 0.008) < 1e-9
    assert _value(metrics, "proofdesk_answer_cache_lookups_total", {"result": "hit"}) == 1
    assert _value(metrics, "proofdesk_answer_cache_lookups_total", {"result": "miss"}) == 4
    count = "proofdesk_pipeline_step_duration_seconds_count"
    assert _value(metrics, count, {"step": "retrieve"}) == 5
    assert _value(metrics, "proofdesk_pipeline_step_duration_seconds_sum", {"step": "total"}) == (
        0.25
    )


def test_nothing_a_user_typed_becomes_a_label() -> None:
    metrics = AgentMetrics()
    for sample in labelled_texts():
        metrics.observe_answer(_answer("answered", timings_ms={sample.text: 1.0}))
        metrics.observe_step(sample.text, 0.01)
        metrics.observe_ingest(SourceReport(source_id=sample.text, added=1))
    exposition = metrics.render().decode()
    assert leaked_values(exposition) == []
    assert _value(metrics, "proofdesk_pipeline_step_duration_seconds_count", {"step": "other"}) == (
        2 * len(labelled_texts())
    )


def test_ingest_results_by_source_and_outcome() -> None:
    metrics = AgentMetrics(sources=["kb", "wiki"])
    metrics.observe_ingest(
        SourceReport(source_id="kb", added=3, updated=1, unchanged=5, failed=1, chunks_embedded=9)
    )
    metrics.observe_ingest(SourceReport(source_id="unlisted", status="failed", failed=2))

    def documents(source: str, outcome: str) -> float:
        labels = {"source": source, "outcome": outcome}
        return _value(metrics, "proofdesk_ingest_documents_total", labels)

    assert (documents("kb", "added"), documents("kb", "unchanged")) == (3, 5)
    assert documents("kb", "failed") == 1
    assert documents("other", "failed") == 2
    assert _value(metrics, "proofdesk_ingest_chunks_embedded_total", {"source": "kb"}) == 9
    syncs = "proofdesk_ingest_syncs_total"
    assert _value(metrics, syncs, {"source": "kb", "status": "succeeded"}) == 1
    assert _value(metrics, syncs, {"source": "other", "status": "failed"}) == 1


def test_each_instance_has_its_own_registry_or_shares_a_given_one() -> None:
    first, second = AgentMetrics(), AgentMetrics()
    first.observe_answer(_answer("answered"))
    assert _value(second, "proofdesk_pipeline_answers_total", {"status": "answered"}) == 0

    shared = CollectorRegistry()
    metrics = AgentMetrics(registry=shared)
    metrics.observe_answer(_answer("escalated"))
    assert shared.get_sample_value("proofdesk_pipeline_escalations_total") == 1
