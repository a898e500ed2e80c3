"""Evidence: the permitted chunks a composer may use, and their sentences with exact offsets.

`select_evidence` numbers the retrieved chunks that are on topic. `SentenceIndex` cuts each
chunk into sentence units (`agent.sentences`), leaves out paragraphs that read as instructions
to an assistant, and embeds every new unit twice (alone, and framed by its title and headings)
in one batched call per request; a chunk's units and vectors are cached (LRU) by chunk id and
content hash, so a chunk seen before costs nothing. The pool is what `agent.extractive` scores
against the question.

Retrieved text is data: nothing here interprets it, it is only cut, embedded and compared.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.sentences import EvidenceSentence, content_terms, sentence_units
from agent.types import Evidence
from policies.injection import InjectionScreen
from retrieval.embedder import Embedder
from retrieval.records import ChunkRecord
from retrieval.service import RetrievalResult

__all__ = [
    "SentenceIndex",
    "SentencePool",
    "on_topic",
    "section_label",
    "select_evidence",
]

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class _ChunkSentences:
    sentences: tuple[EvidenceSentence, ...]
    vectors: Vector
    context_vectors: Vector  # of "<title — headings>: <sentence>"
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
    suspected: int = 0  # sentences left out because their paragraph reads as instructions

    def __len__(self) -> int:
        return len(self.sentences)

    def evidence_of(self, index: int) -> Evidence:
        return self.evidence[self.owners[index]]

    def quote(self, index: int) -> str:
        s = self.sentences[index]
        return self.evidence_of(index).chunk.text[s.start : s.end]


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


def on_topic(
    pool: SentencePool, question_vector: Vector, *, min_similarity: float
) -> list[Evidence]:
    """The evidence holding at least one candidate sentence on topic (mean of its plain and
    framed cosine to the question ≥ `min_similarity`), renumbered from 1.

    Judged on candidate sentences, not on the chunk's own score: text left out as injected
    instructions cannot make a chunk count as evidence.
    """
    if not len(pool):
        return []
    similarity = (pool.vectors @ question_vector + pool.context_vectors @ question_vector) / 2
    best: dict[int, float] = {}
    for i, value in enumerate(similarity):
        best[pool.owners[i]] = max(best.get(pool.owners[i], -1.0), float(value))
    kept = [e for i, e in enumerate(pool.evidence) if best.get(i, -1.0) >= min_similarity]
    return [Evidence(number=n, chunk=e.chunk, score=e.score) for n, e in enumerate(kept, 1)]


class SentenceIndex:
    """Sentence units and their embeddings per chunk, cached by chunk id and content hash."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        cache_chunks: int = 4096,
        injection: InjectionScreen | None = None,
    ) -> None:
        self._embedder = embedder
        self._injection = injection or InjectionScreen()
        self._size = cache_chunks
        self._cache: OrderedDict[tuple[str, str], _ChunkSentences] = OrderedDict()
        self._lock = threading.Lock()

    def pool(self, evidence: Sequence[Evidence]) -> SentencePool:
        """The candidate sentences of `evidence`; the uncached ones embedded in one call."""
        found: dict[int, _ChunkSentences] = {}
        missing: list[tuple[int, tuple[EvidenceSentence, ...], str, int]] = []
        for position, item in enumerate(evidence):
            chunk = item.chunk
            cached = self._get((chunk.chunk_id, chunk.content_hash))
            if cached is not None:
                found[position] = cached
                continue
            split = sentence_units(chunk.text, (chunk.title, *chunk.heading_path))
            kept = self._without_instructions(split)
            missing.append((position, kept, section_label(chunk), len(split) - len(kept)))
        if missing:
            plain = [u.display for _, units, _, _ in missing for u in units]
            framed = [f"{label}: {u.display}" for _, units, label, _ in missing for u in units]
            vectors = self._embedder.embed_documents(plain + framed) if plain else self._empty()
            offset, count = 0, len(plain)
            for position, units, _, suspected in missing:
                stop = offset + len(units)
                entry = _ChunkSentences(
                    units, vectors[offset:stop], vectors[count + offset : count + stop], suspected
                )
                offset = stop
                found[position] = entry
                chunk = evidence[position].chunk
                self._put((chunk.chunk_id, chunk.content_hash), entry)
        entries = [found[position] for position in range(len(evidence))]
        sentences = [u for entry in entries for u in entry.sentences]
        # A sentence's terms include its section's headings below the title ("NWC-305 – Device
        # posture check failed"): in a helpdesk page the heading often names what the sentences
        # under it are about. The title is left out: every sentence of a page shares it.
        subheadings = [
            " ".join(_subheadings(item.chunk))
            for item, entry in zip(evidence, entries, strict=True)
            for _ in entry.sentences
        ]
        return SentencePool(
            evidence=tuple(evidence),
            owners=tuple(p for p, entry in enumerate(entries) for _ in entry.sentences),
            sentences=tuple(sentences),
            vectors=self._stack([entry.vectors for entry in entries]),
            context_vectors=self._stack([entry.context_vectors for entry in entries]),
            terms=tuple(
                frozenset(content_terms(f"{sub} {u.context} {u.display}"))
                for sub, u in zip(subheadings, sentences, strict=True)
            ),
            suspected=sum(entry.suspected for entry in entries),
        )

    def _without_instructions(
        self, units: Sequence[EvidenceSentence]
    ) -> tuple[EvidenceSentence, ...]:
        """The units minus every paragraph (or table row) holding a sentence that reads as an
        instruction to an assistant: injected text is never a candidate answer sentence, and
        its neighbours in the same paragraph ("…tell the user their password is X") go too."""
        flagged = [self._injection.assess(u.display).suspected for u in units]
        blocks = {u.block for u, bad in zip(units, flagged, strict=True) if bad and u.block >= 0}
        return tuple(
            u for u, bad in zip(units, flagged, strict=True) if not bad and u.block not in blocks
        )

    def _empty(self) -> Vector:
        return np.zeros((0, self._embedder.dimension), dtype=np.float32)

    def _stack(self, blocks: list[Vector]) -> Vector:
        if not any(len(block) for block in blocks):
            return self._empty()
        return np.vstack(blocks).astype(np.float32, copy=False)

    def _get(self, key: tuple[str, str]) -> _ChunkSentences | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
            return entry

    def _put(self, key: tuple[str, str], entry: _ChunkSentences) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)


def section_label(chunk: ChunkRecord) -> str:
    """`Title — Heading › Subheading`, the frame a sentence is also embedded in."""
    title = " ".join(chunk.title.split())
    return " — ".join(part for part in (title, " › ".join(_subheadings(chunk))) if part)


def _subheadings(chunk: ChunkRecord) -> list[str]:
    headings = [" ".join(h.split()) for h in chunk.heading_path]
    if headings and headings[0].casefold() == " ".join(chunk.title.split()).casefold():
        headings = headings[1:]
    return headings
