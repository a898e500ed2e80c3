"""Citation verification: every sentence is checked against the span it cites.

Support of a sentence by its span, 0..1:
- a sentence that is its span (the extractive composer's quotes, whitespace, list markers and
  emphasis aside; a table row shown with its header) has support 1.0 by construction;
- otherwise (an LLM's sentence) the best span of the cited chunk is found among its sentence
  units and pairs of neighbours: support = 0.5 × embedding cosine + 0.5 × the share of the
  sentence's content terms the span contains; a number in the sentence that the span does not
  contain caps support at 0.3 (a changed figure is the costliest error).
Sentences below `support_threshold`, and sentences citing a passage that was not provided, are
removed. Each kept sentence also gets the relevance of its span to the question (the same
measure the extractive composer ranks by), so the decision does not depend on which composer
wrote the answer, and a confidence, the score the decision rests on:

    confidence = relevance + passage_coverage_weight × passage coverage

Passage coverage is the share of what the question asks about that the cited passage mentions
at all: the question's content terms, less those of the passage's document title (the topic,
which retrieval already matched), found among the terms of the passage's candidate sentences
(with their table headers and headings; paragraphs left out as injected instructions do not
count). A passage on the question's topic that never mentions what is asked ("What is the
temperature on Mount Everest?" against a page giving its height and first ascent) is the typical
unanswerable question, and relevance alone barely tells it from an answer: on CLAP NQ this term
lifts the unanswerable questions not answered from 0.61 to 0.74 at the same answerable rate
(see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.evidence import SentenceIndex, SentencePool
from agent.extractive import QueryVectors, relevance_scores
from agent.settings import AgentSettings
from agent.types import ComposedSentence, Composition, Evidence
from retrieval.embedder import Embedder
from retrieval.sentences import content_terms, numbers_in

__all__ = ["CitationVerifier", "Verification", "VerifiedSentence"]

_NUMBER_MISMATCH_CAP = 0.3


@dataclass(frozen=True)
class VerifiedSentence:
    text: str  # as the answer shows it
    evidence: Evidence
    start: int  # span inside `evidence.chunk.text`
    end: int
    support: float
    relevance: float
    passage_coverage: float  # share of what the question asks about that its passage names
    confidence: float  # relevance + passage_coverage_weight × passage_coverage: decided on

    @property
    def quote(self) -> str:
        return self.evidence.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class Verification:
    sentences: list[VerifiedSentence]
    dropped: int
    answer_score: float  # confidence of the best kept sentence; 0.0 when none is kept
    notes: tuple[str, ...] = ()


class CitationVerifier:
    """Checks composed sentences against their cited spans and scores them for the decision."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        sentences: SentenceIndex | None = None,
        query_vector: QueryVectors | None = None,
        settings: AgentSettings | None = None,
    ) -> None:
        self._embedder = embedder
        self._settings = settings or AgentSettings()
        self._sentences = sentences or SentenceIndex(
            embedder=embedder, cache_chunks=self._settings.sentence_cache_chunks
        )
        self._query_vector = query_vector or embedder.embed_query

    def verify(
        self, question: str, composition: Composition, evidence: Sequence[Evidence]
    ) -> Verification:
        s = self._settings
        if not composition.sentences:
            return Verification([], 0, 0.0)
        pool = self._sentences.pool(evidence)
        numbered = {e.number: i for i, e in enumerate(pool.evidence)}
        relevance = relevance_scores(pool, question, self._query_vector(question), settings=s)
        free = [
            c
            for c in composition.sentences
            if c.evidence_number in numbered and _verbatim_unit(pool, numbered, c) is None
        ]
        vectors = self._embedder.embed_documents([c.text for c in free]) if free else None
        vector_of = {id(c): vectors[i] for i, c in enumerate(free)} if vectors is not None else {}
        asked = frozenset(content_terms(question))
        coverage: dict[int, float] = {}
        kept: list[VerifiedSentence] = []
        invented = unsupported = 0
        for composed in composition.sentences:
            owner = numbered.get(composed.evidence_number)
            if owner is None:
                invented += 1
                continue
            unit = _verbatim_unit(pool, numbered, composed)
            if unit is not None:
                units, support = [unit], 1.0
            else:
                units, support = _best_span(pool, owner, composed.text, vector_of[id(composed)])
            if not units or support < s.support_threshold:
                unsupported += 1
                continue
            first, last = pool.sentences[units[0]], pool.sentences[units[-1]]
            if owner not in coverage:
                coverage[owner] = _passage_coverage(pool, owner, asked)
            best = float(max(relevance[i] for i in units))
            kept.append(
                VerifiedSentence(
                    text=composed.text,
                    evidence=pool.evidence[owner],
                    start=first.start,
                    end=last.end,
                    support=round(support, 4),
                    relevance=best,
                    passage_coverage=coverage[owner],
                    confidence=best + s.passage_coverage_weight * coverage[owner],
                )
            )
        notes = []
        if invented:
            notes.append(f"removed {invented} sentence(s) citing a passage that was not provided")
        if unsupported:
            notes.append(f"removed {unsupported} sentence(s) their cited span does not support")
        score = max((v.confidence for v in kept), default=0.0)
        return Verification(kept, invented + unsupported, score, tuple(notes))


def _passage_coverage(pool: SentencePool, owner: int, asked: frozenset[str]) -> float:
    """The share of `asked` that evidence `owner` names, its document title's terms aside.

    1.0 when the question asks about nothing but the title's topic ("VPN setup")."""
    wanted = asked - frozenset(content_terms(pool.evidence[owner].chunk.title))
    if not wanted:
        return 1.0
    named = frozenset().union(*(pool.terms[i] for i in range(len(pool)) if pool.owners[i] == owner))
    return len(wanted & named) / len(wanted)


def _verbatim_unit(
    pool: SentencePool, numbered: dict[int, int], composed: ComposedSentence
) -> int | None:
    """The pool index of the unit a sentence quotes exactly at its given span, if it does."""
    if composed.span is None:
        return None
    owner = numbered.get(composed.evidence_number)
    if owner is None:
        return None
    start, end = composed.span
    text = " ".join(composed.text.split())
    for i, unit in enumerate(pool.sentences):
        if pool.owners[i] == owner and unit.start == start and unit.end == end:
            return i if text in (unit.display, " ".join(pool.quote(i).split())) else None
    return None


def _best_span(
    pool: SentencePool, owner: int, text: str, vector: npt.NDArray[np.float32]
) -> tuple[list[int], float]:
    """The unit, or pair of neighbouring units, of the cited chunk that best supports `text`."""
    indices = [i for i in range(len(pool)) if pool.owners[i] == owner]
    if not indices:
        return [], 0.0
    wanted = set(content_terms(text))
    figures = numbers_in(text)
    cosine = pool.vectors[indices] @ vector
    best: tuple[list[int], float] = ([], 0.0)
    for position, i in enumerate(indices):
        windows = [[i]]
        if position + 1 < len(indices):
            windows.append([i, indices[position + 1]])
        for window in windows:
            terms = frozenset().union(*(pool.terms[j] for j in window))
            contained = len(wanted & terms) / len(wanted) if wanted else 1.0
            similarity = max(float(cosine[indices.index(j)]) for j in window)
            support = 0.5 * max(similarity, 0.0) + 0.5 * contained
            span_text = " ".join(
                f"{pool.sentences[j].context} {pool.sentences[j].display}" for j in window
            )
            if figures - numbers_in(span_text):
                support = min(support, _NUMBER_MISMATCH_CAP)
            if support > best[1] + 1e-9:
                best = (window, support)
    return best
