"""The answer cache and the agent metrics on the served app: `create_app` over the services
`proofdesk serve` builds (real model, index, policy file, Presidio, audit store), over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api.version import proofdesk_version
from tests.fixtures.credentials import Keys
from tests.fixtures.served_lockers import LOCKERS, Served, served_app


@pytest.fixture(scope="module")
def served(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_app(keys, tmp_path_factory.mktemp("served-cache")) as app:
        yield app


def _metrics(served: Served) -> str:
    return served.get("/metrics").text


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text (0 when absent)."""
    for line in metrics.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[3])
    return 0.0


def test_a_repeated_question_is_a_cache_hit_counted_in_metrics(served: Served) -> None:
    before = _sample(_metrics(served), "proofdesk_answer_cache_lookups_total", result="hit")
    first = served.ask("bob", "Who issues keys for long-term lockers?")
    again = served.ask("bob", "who issues keys for LONG-TERM lockers ")  # the same, normalised
    assert first["status"] == "answered", first
    assert "cache_hit" not in first["flags"]
    assert "cache_hit" in again["flags"]
    assert again["answer"] == first["answer"]
    assert again["citations"] == first["citations"]
    assert again["answer_id"] != first["answer_id"]  # an answer of its own (store, audit)
    after = _sample(_metrics(served), "proofdesk_answer_cache_lookups_total", result="hit")
    assert after == before + 1


def test_a_user_with_other_access_never_gets_a_cached_answer(served: Served) -> None:
    question = "Which lockers open with the staff badge?"
    bob = served.ask("bob", question)
    assert bob["status"] == "answered", bob
    assert "cache_hit" in served.ask("bob", question)["flags"]  # cached for bob
    judy = served.ask("judy", question)  # a contractor: not in all-staff
    assert judy["status"] == "refused_no_evidence", judy
    assert "cache_hit" not in judy["flags"]
    alice = served.ask("alice", question)  # may read it too, but holds other groups
    assert alice["status"] == "answered"
    assert "cache_hit" not in alice["flags"]


def test_a_reindex_invalidates_the_cached_answer(served: Served) -> None:
    question = "How do day lockers open?"
    served.ask("bob", question)
    hit = served.ask("bob", question)
    assert "cache_hit" in hit["flags"]
    (served.root / "docs" / "lockers.md").write_text(
        LOCKERS.replace("staff badge", "six-digit PIN code"), encoding="utf-8"
    )
    served.resync()
    fresh = served.ask("bob", question)
    assert "cache_hit" not in fresh["flags"]
    assert fresh["index_version"] != hit["index_version"]
    assert "PIN" in str(fresh["answer"]), fresh


def test_a_policy_change_invalidates_the_cached_answer(served: Served) -> None:
    question = "Who issues the long-term locker keys?"
    first = served.ask("carol", question)
    assert first["status"] == "answered", first
    assert "cache_hit" in served.ask("carol", question)["flags"]
    policy = served.root / "policy.csv"
    policy.write_text(
        policy.read_text(encoding="utf-8") + "p, user:carol, source:lockers-kb, read, deny\n",
        encoding="utf-8",
    )
    after = served.ask("carol", question)  # the very next request, under the new policy
    assert "cache_hit" not in after["flags"]
    assert after["status"] == "refused_no_evidence", after
    assert after["policy_version"] != first["policy_version"]


def test_metrics_show_the_agent_process_and_build_info(served: Served) -> None:
    served.ask("bob", "Where are the day lockers?")
    text = _metrics(served)
    assert _sample(text, "proofdesk_pipeline_answers_total", status="answered") >= 1
    assert _sample(text, "proofdesk_pipeline_step_duration_seconds_count", step="retrieve") >= 1
    assert _sample(text, "proofdesk_pipeline_step_duration_seconds_count", step="total") >= 1
    assert _sample(text, "proofdesk_answer_cache_lookups_total", result="miss") >= 1
    assert (
        _sample(text, "proofdesk_ingest_documents_total", source="lockers-kb", outcome="added") >= 1
    )
    assert _sample(text, "proofdesk_ingest_syncs_total", source="lockers-kb", status="succeeded")
    assert "# TYPE proofdesk_llm_tokens_total counter" in text
    assert "# TYPE proofdesk_llm_cost_usd_total counter" in text
    assert _sample(text, "process_cpu_seconds_total") > 0
    assert _sample(text, "process_resident_memory_bytes") > 0
    assert _sample(text, "python_info") == 1
    assert "# TYPE python_gc_collections_total counter" in text
    assert _sample(text, "proofdesk_build_info", version=proofdesk_version()) == 1
