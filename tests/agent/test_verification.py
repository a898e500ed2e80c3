"""Citation verification of sentences a model wrote (no span given) and of extractive quotes."""

from __future__ import annotations

import pytest

from agent.evidence import SentenceIndex, SentencePool, select_evidence
from agent.settings import AgentSettings
from agent.types import ComposedSentence, Composition, Evidence
from agent.verification import CitationVerifier
from retrieval.service import RetrievalRequest
from tests.fixtures.kb_index import KbIndex

QUESTION = "How long are deleted files kept in the recycle bin?"


@pytest.fixture(scope="module")
def evidence(kb_index: KbIndex) -> list[Evidence]:
    result = kb_index.retrieval.retrieve(
        RetrievalRequest(query=QUESTION, principal=kb_index.policy.principal_for("bob"))
    )
    found = select_evidence(result, limit=6, min_similarity=0.3)
    assert any("93 days" in e.chunk.text for e in found)
    return found


@pytest.fixture(scope="module")
def pool(evidence: list[Evidence], kb_index: KbIndex) -> SentencePool:
    return SentenceIndex(embedder=kb_index.embedder).pool(evidence)


@pytest.fixture(scope="module")
def verifier(kb_index: KbIndex) -> CitationVerifier:
    return CitationVerifier(
        embedder=kb_index.embedder,
        query_vector=kb_index.retrieval.embed_query,
        settings=AgentSettings(),
    )


def _number_of(evidence: list[Evidence], text: str) -> int:
    return next(e.number for e in evidence if text in e.chunk.text)


def _llm(evidence: list[Evidence], text: str, number: int | None = None) -> Composition:
    cited = number if number is not None else _number_of(evidence, "93 days")
    return Composition([ComposedSentence(text=text, evidence_number=cited)], composer="llm:test")


def test_a_faithful_paraphrase_is_kept_with_the_span_it_rests_on(
    verifier: CitationVerifier, evidence: list[Evidence], pool: SentencePool
) -> None:
    composition = _llm(evidence, "Deleted files stay in the recycle bin for 93 days.")
    result = verifier.verify(QUESTION, composition, pool)
    [kept] = result.sentences
    assert "93 days" in kept.quote
    assert kept.evidence.chunk.text[kept.start : kept.end] == kept.quote
    assert 0.6 <= kept.support < 1.0
    assert result.dropped == 0
    assert result.answer_score > 0


def test_a_changed_figure_is_removed(
    verifier: CitationVerifier, evidence: list[Evidence], pool: SentencePool
) -> None:
    composition = _llm(evidence, "Deleted files stay in the recycle bin for 30 days.")
    result = verifier.verify(QUESTION, composition, pool)
    assert result.sentences == []
    assert result.dropped == 1
    assert result.answer_score == 0.0


def test_a_sentence_citing_a_passage_that_was_not_provided_is_removed(
    verifier: CitationVerifier, evidence: list[Evidence], pool: SentencePool
) -> None:
    composition = _llm(evidence, "Deleted files stay in the recycle bin for 93 days.", number=99)
    result = verifier.verify(QUESTION, composition, pool)
    assert result.sentences == []
    assert any("not provided" in note for note in result.notes)


def test_an_unrelated_sentence_is_removed(
    verifier: CitationVerifier, evidence: list[Evidence], pool: SentencePool
) -> None:
    composition = _llm(evidence, "The cafeteria serves pizza every Friday at noon.")
    assert verifier.verify(QUESTION, composition, pool).sentences == []


def test_an_extractive_quote_has_full_support(
    verifier: CitationVerifier, evidence: list[Evidence], pool: SentencePool, kb_index: KbIndex
) -> None:
    chunk = next(e for e in evidence if "93 days" in e.chunk.text)
    alone = SentenceIndex(embedder=kb_index.embedder).pool([chunk])
    unit = next(u for u in alone.sentences if "93 days" in u.display)
    composition = Composition(
        [ComposedSentence(unit.display, chunk.number, (unit.start, unit.end))],
        composer="extractive",
    )
    [kept] = verifier.verify(QUESTION, composition, pool).sentences
    assert kept.support == 1.0
    assert (kept.start, kept.end) == (unit.start, unit.end)


def _quote(kb_index: KbIndex, evidence: list[Evidence], text: str) -> Composition:
    chunk = next(e for e in evidence if text in e.chunk.text)
    pool = SentenceIndex(embedder=kb_index.embedder).pool([chunk])
    unit = next(u for u in pool.sentences if text in u.display)
    return Composition(
        [ComposedSentence(unit.display, chunk.number, (unit.start, unit.end))],
        composer="extractive",
    )


def test_confidence_counts_how_much_of_the_question_the_passage_names(
    verifier: CitationVerifier, evidence: list[Evidence], pool: SentencePool, kb_index: KbIndex
) -> None:
    composition = _quote(kb_index, evidence, "93 days")
    [named] = verifier.verify(QUESTION, composition, pool).sentences
    assert named.passage_coverage >= 0.8
    assert named.confidence == pytest.approx(named.relevance + 0.25 * named.passage_coverage)
    # The same quote for a question about something its passage never mentions.
    elsewhere = (
        "How long are deleted files kept in the recycle bin of the Antarctic research vessel?"
    )
    [unnamed] = verifier.verify(elsewhere, composition, pool).sentences
    assert unnamed.passage_coverage < named.passage_coverage
    assert unnamed.confidence < named.confidence
