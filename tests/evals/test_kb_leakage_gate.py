"""The leakage suite as a gate on the sample knowledge base: no persona ever sees a hidden passage.

Every persona of `kb/identities.yaml` (plus an anonymous caller and an unknown user) searches for
every canary of `kb/canaries.yaml`, for the sentence each canary sits in, and for every question
of `kb/questions.yaml`, in hybrid, BM25 and dense mode; and asks the answer pipeline for each
canary and its sentence. Expected access comes from the canary declarations and the identities
file, not from the policy engine under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from evals.suites.leakage import LeakageResult, probe
from evals.suites.leakage_kb import load_canaries, load_personas, load_questions
from evals.suites.leakage_worlds import Answerer, Counterfactual, MemoEmbedder, pipeline_answerer
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from retrieval.service import RetrievalService
from tests.fixtures.kb_index import KB, KbIndex, build_kb_index


@pytest.fixture(scope="module")
def worlds(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Counterfactual]:
    """The knowledge base with the canaries hidden from a persona replaced by strings that exist
    nowhere, ingested the way `kb_index` is (one world per set of hidden canaries)."""
    memo = MemoEmbedder(embedder)

    def build(kb: Path, workdir: Path) -> tuple[RetrievalService, Answerer, Callable[[], None]]:
        index = build_kb_index(workdir, memo, kb=kb)
        answerer = pipeline_answerer(
            retrieval=index.retrieval, policy=index.policy, state=index.state, embedder=memo
        )
        return index.retrieval, answerer, index.close

    counterfactual = Counterfactual(
        kb=KB, workdir=tmp_path_factory.mktemp("kb-counterfactual"), build=build
    )
    yield counterfactual
    counterfactual.close()


@pytest.fixture(scope="module")
def leakage(kb_index: KbIndex, worlds: Counterfactual) -> LeakageResult:
    canaries = load_canaries(KB / "canaries.yaml")
    answerer = pipeline_answerer(
        retrieval=kb_index.retrieval,
        policy=kb_index.policy,
        state=kb_index.state,
        embedder=kb_index.embedder,
    )
    return probe(
        kb_index.retrieval,
        kb_index.policy,
        personas=load_personas(KB / "identities.yaml"),
        canaries=canaries,
        questions=load_questions(KB / "questions.yaml"),
        documents={c.document: (KB / c.document).read_text(encoding="utf-8") for c in canaries},
        answerer=answerer,
        counterfactual=worlds,
    )


def test_no_persona_retrieves_a_passage_it_may_not_read(leakage: LeakageResult) -> None:
    assert leakage.leaks == []
    assert leakage.leaked_passages == 0
    assert leakage.unreadable_passages == 0
    assert leakage.recheck_drops == 0


def test_the_probe_covers_every_persona_and_question(leakage: LeakageResult) -> None:
    personas = load_personas(KB / "identities.yaml")
    assert leakage.personas == len(personas) == 14  # 12 users, anonymous, unknown
    assert leakage.queries >= len(load_questions(KB / "questions.yaml")) + 4
    assert leakage.searches == leakage.personas * leakage.queries * 3
    assert leakage.answers == leakage.personas * 8  # 4 canaries and the sentence each sits in


def test_readers_do_find_their_canaries(leakage: LeakageResult) -> None:
    # Without this the zero above could come from searches that find nothing at all.
    assert leakage.canary_hits_by_readers >= len(load_canaries(KB / "canaries.yaml"))


def test_a_hidden_canary_looks_exactly_like_a_string_that_exists_nowhere(
    leakage: LeakageResult,
) -> None:
    assert leakage.probe_pairs > 0
    assert leakage.distinguishable_probes == 0, leakage.distinctions
