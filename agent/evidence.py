"""Evidence: the permitted chunks a composer may use, and their sentences with exact offsets.

`select_evidence` numbers the retrieved chunks that are on topic. `SentenceIndex` takes each
chunk's sentence units and their two vectors (alone, and framed by title and headings) from
`retrieval.sentence_vectors`, where ingestion stored them (a chunk nobody embedded yet is
embedded there, a request's in one call), leaves out paragraphs that read as instructions to an
assistant, and caches the result per chunk (LRU), so a chunk seen before costs nothing. The
pipeline builds one request's pool once, narrows it to the evidence on topic (`on_topic`) and
passes it to the extractive composer and the verifier, which score it against the question.

Retrieved text is data: nothing here interprets it, it is only cut, embedded and compared.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from agent.types import Evidence
from policies.injection import InjectionScreen
from retrieval.embedding.embedder import Embedder
from retrieval.records import ChunkRecord
from retrieval.sentence_vectors import (
    ChunkSentences,
    SentenceVectors,
    sentence_key,
    subheadings,
)
from retrieval.sentences import EvidenceSentence, content_terms
from retrieval.service import RetrievalResult

__all__ = [
    "SentenceIndex",
    "SentencePool",
    "on_topic",
    "select_evidence",
]

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class _ChunkSentences:
    """A chunk's candidate sentences (instructions left out), their vectors and terms."""

    sentences: tuple[EvidenceSentence, ...]
    vectors: Vector
    context_vectors: Vector  # of "<title — headings>: <sentence>"
    terms: tuple[frozenset[str], ...]
    suspected: int  # sentences left out because their paragraph reads as instructions


@dataclass(frozen=True)
class SentencePool:
    """Every candidate sentence of one request's evidence, with vectors and terms."""

    evidence: tuple[Evidence, ...]
    owners: tuple[int, ...]  # index into `evidence` per sentence
    sentences: tuple[EvidenceSentence, ...]
    vectors: Vector  # of each sentence alone
    context_vectors: Vector  # of each sentence after its document title and headings
    terms: tuple[frozenset[str], ...]
    left_out: tuple[int, ...]  # per evidence: sentences left out as instructions

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def suspected(self) -> int:
        """Sentences left out because their paragraph reads as instructions."""
        return sum(self.left_out)

    def narrowed(self, keep: Sequence[int]) -> SentencePool:
        """The pool of only the evidence at positions `keep` (ascending), renumbered from 1:
        the same sentences, vectors and terms as a pool built from that evidence."""
        position = {old: new for new, old in enumerate(keep)}
        rows = [i for i, owner in enumerate(self.owners) if owner in position]
        return SentencePool(
            evidence=tuple(
                Evidence(number=n, chunk=self.evidence[i].chunk, score=self.evidence[i].score)
                for n, i in enumerate(keep, 1)
            ),
            owners=tuple(position[self.owners[i]] for i in rows),
            sentences=tuple(self.sentences[i] for i in rows),
            vectors=self.vectors[rows],
            context_vectors=self.context_vectors[rows],
            terms=tuple(self.terms[i] for i in rows),
            left_out=tuple(self.left_out[i] for i in keep),
        )

    def evidence_of(self, index: int) -> Evidence:
        return self.evidence[self.owners[index]]

    def quote(self, index: int) -> str:
        s = self.sentences[index]
        return self.evidence_of(index).chunk.text[s.start : s.end]

    def reading_text(self, index: int) -> str:
        """What a reading model reads of a sentence: its context (table header, list lead-in)
        and the sentence as shown. The composer's lead choice and the decision read the same
        text, so one reading of a sentence serves both."""
        unit = self.sentences[index]
        return f"{unit.context} {unit.display}".strip()


def select_evidence(
    result: RetrievalResult, *, limit: int, min_similarity: float
) -> list[Evidence]:
    """The retrieved chunks that are on topic, numbered from 1 in retrieval order.

    A chunk is on topic when its dense similarity to the question reaches `min_similarity`
    (a chunk without a dense score, as in sparse-only retrieval, is kept).
    """
    chosen: list[Evidence] = []
    for retrieved in result.chunks:
        dense = retrieved.hit.channel_scores.get("dense")
        if dense is not None and dense < min_similarity:
            continue
        score = dense if dense is not None else retrieved.hit.score
        chosen.append(Evidence(number=len(chosen) + 1, chunk=retrieved.hit.chunk, score=score))
        if len(chosen) >= limit:
            break
    return chosen


def on_topic(pool: SentencePool, question_vector: Vector, *, min_similarity: float) -> SentencePool:
    """`pool` narrowed to the evidence holding at least one candidate sentence on topic (mean
    of its plain and framed cosine to the question ≥ `min_similarity`), renumbered from 1.

    Judged on candidate sentences, not on the chunk's own score: text left out as injected
    instructions cannot make a chunk count as evidence.
    """
    if not len(pool):
        return pool.narrowed([])
    similarity = (pool.vectors @ question_vector + pool.context_vectors @ question_vector) / 2
    best: dict[int, float] = {}
    for i, value in enumerate(similarity):
        best[pool.owners[i]] = max(best.get(pool.owners[i], -1.0), float(value))
    kept = [i for i in range(len(pool.evidence)) if best.get(i, -1.0) >= min_similarity]
    return pool.narrowed(kept)


class SentenceIndex:
    """Candidate sentences per chunk, with vectors and terms, cached (LRU) by `sentence_key`.

    A chunk not in the cache is read from `vectors` (the sentence vectors ingestion stored);
    only a chunk nobody embedded yet is embedded here, all of a request's in one call.
    """

    def __init__(
        self,
        *,
        embedder: Embedder,
        cache_chunks: int = 4096,
        injection: InjectionScreen | None = None,
        vectors: SentenceVectors | None = None,
    ) -> None:
        self._embedder = embedder
        self._vectors = vectors or SentenceVectors(embedder=embedder, screen=injection)
        self._injection = injection or self._vectors.screen
        self._size = cache_chunks
        self._cache: LRUCache[str, _ChunkSentences] = LRUCache(maxsize=max(cache_chunks, 1))
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def pool(self, evidence: Sequence[Evidence]) -> SentencePool:
        """The candidate sentences of `evidence`; those of uncached chunks read or embedded,
        all in one call."""
        model = self._embedder.model_id
        keys = [sentence_key(model, item.chunk) for item in evidence]
        found: dict[int, _ChunkSentences] = {}
        missing: list[int] = []
        for position, key in enumerate(keys):
            cached = self._get(key)
            if cached is None:
                missing.append(position)
            else:
                found[position] = cached
        if missing:
            stored, _ = self._vectors.for_chunks([evidence[p].chunk for p in missing])
            for position, entry in zip(missing, stored, strict=True):
                found[position] = self._candidates(evidence[position].chunk, entry)
                self._put(keys[position], found[position])
        entries = [found[position] for position in range(len(evidence))]
        return SentencePool(
            evidence=tuple(evidence),
            owners=tuple(p for p, entry in enumerate(entries) for _ in entry.sentences),
            sentences=tuple(u for entry in entries for u in entry.sentences),
            vectors=self._stack([entry.vectors for entry in entries]),
            context_vectors=self._stack([entry.context_vectors for entry in entries]),
            terms=tuple(t for entry in entries for t in entry.terms),
            left_out=tuple(entry.suspected for entry in entries),
        )

    def _candidates(self, chunk: ChunkRecord, entry: ChunkSentences) -> _ChunkSentences:
        """The chunk's units minus instructions, with their vectors and terms.

        A sentence's terms include its section's headings below the title ("NWC-305 – Device
        posture check failed"): in a helpdesk page the heading often names what the sentences
        under it are about. The title is left out: every sentence of a page shares it.
        """
        keep = self._without_instructions(entry)
        sub = " ".join(subheadings(chunk))
        units = tuple(u for u, kept in zip(entry.sentences, keep, strict=True) if kept)
        return _ChunkSentences(
            sentences=units,
            vectors=entry.vectors[keep],
            context_vectors=entry.context_vectors[keep],
            terms=tuple(frozenset(content_terms(f"{sub} {u.context} {u.display}")) for u in units),
            suspected=len(entry.sentences) - len(units),
        )

    def _without_instructions(self, entry: ChunkSentences) -> npt.NDArray[np.bool_]:
        """Which units to keep: not those of a paragraph (or table row) holding a sentence that
        reads as an instruction to an assistant. Injected text is never a candidate answer
        sentence, and its neighbours in the same paragraph ("…tell the user their password is
        X") go too. The verdicts judged once per chunk by the same screen are used when the
        entry carries them."""
        units = entry.sentences
        flagged = (
            list(entry.instructions)
            if entry.screen == self._injection.fingerprint and len(entry.instructions) == len(units)
            else [self._injection.assess(u.display).suspected for u in units]
        )
        blocks = {u.block for u, bad in zip(units, flagged, strict=True) if bad and u.block >= 0}
        return np.array(
            [not bad and u.block not in blocks for u, bad in zip(units, flagged, strict=True)],
            dtype=np.bool_,
        )

    def _empty(self) -> Vector:
        return np.zeros((0, self._embedder.dimension), dtype=np.float32)

    def _stack(self, blocks: list[Vector]) -> Vector:
        if not any(len(block) for block in blocks):
            return self._empty()
        return np.vstack(blocks).astype(np.float32, copy=False)

    def _get(self, key: str) -> _ChunkSentences | None:
        with self._lock:
            return self._cache.get(key)

    def _put(self, key: str, entry: _ChunkSentences) -> None:
        if self._size <= 0:  # caching off
            return
        with self._lock:
            self._cache[key] = entry
