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

With a reading model (`retrieval.reading.Reader`), the decision rests on whether a passage
states the answer, not on how similar it is: the reader reads the `reader_sentences` candidate
sentences of the evidence most relevant to the question in one batch and, when the calibration
gives passages a weight, their passages in another (the candidate sentences of each chunk:
paragraphs left out as injected instructions are never read), and the answer score becomes a
calibrated probability

    P = sigmoid(a + b × confidence + c × logit(best sentence) + d × logit(best passage))

with (a, b, c, d) = `reader_calibration`, fitted on CLAP NQ dev. An LLM's sentence is then
supported by the reader's probability that its best span states it (the number cap still
applies); the extractive composer's quotes stay supported by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.evidence import SentencePool
from agent.extractive import QueryVectors, relevance_scores
from agent.settings import AgentSettings
from agent.types import ComposedSentence, Composition, Evidence
from retrieval.embedding.embedder import Embedder
from retrieval.reading import PASSAGE_TOKENS, SENTENCE_TOKENS, Reader
from retrieval.sentences import content_terms, numbers_in

__all__ = [
    "Calibration",
    "CitationVerifier",
    "Verification",
    "VerifiedSentence",
    "combined_probability",
]

Calibration = tuple[float, float, float, float]

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
    answer_score: float  # what the decision rests on; 0.0 when no sentence is kept
    notes: tuple[str, ...] = ()
    confidence: float | None = None  # the best kept sentence's confidence (None: as the score)
    reader_probability: float | None = None  # the reader's best sentence; None: no reader
    reader_passage: float | None = None  # its best passage; None: passages not read
    calibration: Calibration | None = None  # `reader_calibration` applied

    @property
    def calibrated(self) -> bool:
        """Whether `answer_score` is the reader's calibrated probability."""
        return self.reader_probability is not None

    def restricted(self, sentences: list[VerifiedSentence], note: str) -> Verification:
        """The verification of only `sentences` (some of `self.sentences`), rescored."""
        confidence = max((v.confidence for v in sentences), default=0.0)
        score = confidence
        if self.reader_probability is not None and self.calibration is not None:
            score = combined_probability(
                confidence, self.reader_probability, self.reader_passage, self.calibration
            )
        return Verification(
            sentences=sentences,
            dropped=self.dropped + len(self.sentences) - len(sentences),
            answer_score=score if sentences else 0.0,
            notes=(*self.notes, note),
            confidence=confidence,
            reader_probability=self.reader_probability,
            reader_passage=self.reader_passage,
            calibration=self.calibration,
        )


def combined_probability(
    confidence: float, sentence: float, passage: float | None, calibration: Calibration
) -> float:
    """sigmoid(a + b × confidence + c × logit(sentence) + d × logit(passage)); a passage not
    read counts as 0.5 (logit 0)."""
    a, b, c, d = calibration
    z = a + b * confidence + c * _logit(sentence) + d * (_logit(passage) if passage else 0.0)
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


class CitationVerifier:
    """Checks composed sentences against their cited spans and scores them for the decision."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        query_vector: QueryVectors | None = None,
        settings: AgentSettings | None = None,
        reader: Reader | None = None,
    ) -> None:
        self._embedder = embedder
        self._reader = reader
        self._settings = settings or AgentSettings()
        self._query_vector = query_vector or embedder.embed_query

    def verify(self, question: str, composition: Composition, pool: SentencePool) -> Verification:
        """Checks `composition` against `pool`, the candidate sentences of the evidence it was
        composed from (numbered as the composer saw them)."""
        s = self._settings
        if not composition.sentences:
            return Verification([], 0, 0.0)
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
                if units and self._reader is not None:
                    support = self._read_support(pool, units, composed.text)
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
        confidence = max((v.confidence for v in kept), default=0.0)
        if self._reader is None or not kept:
            return Verification(kept, invented + unsupported, confidence, tuple(notes))
        sentence, passage = self._read(pool, question, relevance)
        calibration = s.reader_calibration
        return Verification(
            kept,
            invented + unsupported,
            combined_probability(confidence, sentence, passage, calibration),
            tuple(notes),
            confidence=confidence,
            reader_probability=sentence,
            reader_passage=passage,
            calibration=calibration,
        )

    def _read(
        self, pool: SentencePool, question: str, relevance: npt.NDArray[np.float64]
    ) -> tuple[float, float | None]:
        """The reader's best probability over the most relevant candidate sentences (one
        batch) and, when passages weigh in the calibration, over their passages (another)."""
        assert self._reader is not None
        s = self._settings
        top = [int(i) for i in np.argsort(-relevance, kind="stable")[: s.reader_sentences]]
        sentences = self._reader.score(
            question, [pool.reading_text(i) for i in top], max_tokens=SENTENCE_TOKENS
        )
        best = float(sentences.max(initial=0.0))
        if s.reader_calibration[3] == 0.0:
            return best, None
        owners = list(dict.fromkeys(pool.owners[i] for i in top))
        passages = self._reader.score(
            question, [_passage_text(pool, o) for o in owners], max_tokens=PASSAGE_TOKENS
        )
        return best, float(passages.max(initial=0.0))

    def _read_support(self, pool: SentencePool, units: list[int], text: str) -> float:
        """An LLM sentence's support: the reader's probability that its span states it (the
        sentence read as what must be stated, the span as the text), capped when the span
        lacks a number of the sentence."""
        assert self._reader is not None
        span = " ".join(pool.reading_text(j) for j in units)
        read = float(self._reader.score(text, [span], max_tokens=PASSAGE_TOKENS)[0])
        if numbers_in(text) - numbers_in(span):
            return min(read, _NUMBER_MISMATCH_CAP)
        return read


def _passage_text(pool: SentencePool, owner: int) -> str:
    """What the reader reads of a passage: its title and candidate sentences (text left out
    as injected instructions is not read)."""
    body = " ".join(pool.reading_text(i) for i in range(len(pool)) if pool.owners[i] == owner)
    return f"{pool.evidence[owner].chunk.title}. {body}"


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
