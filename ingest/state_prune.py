"""Removes what the state database keeps for chunks that are no longer in the index.

Ingestion stores, per chunk content, its embedding (the cache that makes a re-sync cheap), its
sentence units and vectors, the injection screen's verdicts on them and the PII findings of
everything an answer citing it shows. Those rows are shared by content and written again only
when missing, so nothing deletes them when a document is edited or removed: a knowledge base
that changes every night grows its state database every night.

`StatePruner.prune` is a mark-and-sweep. It takes the lease of every approved source (no sync
may write rows for chunks the store does not list yet), reads every chunk in the index, works
out the keys those chunks use, and deletes every other row of the four tables. Nothing in the
vector store changes. A row it removes by mistake would only cost time (the embedding or the
analysis is redone when needed), but none is: a key is kept whenever a live chunk uses it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from infra.sql_sweep import LiveKeys, SweepCount
from ingest.chunking import Chunker
from ingest.jobs import JobStore, default_holder
from ingest.state import StateStore, embedding_key
from retrieval.records import ChunkRecord
from retrieval.sentence_vectors import SentenceVectorStore, sentence_key, shown_texts
from retrieval.store import VectorStore

__all__ = ["PruneReport", "StatePruner", "StoredFindings"]

log = logging.getLogger(__name__)

LAST_PRUNE_META = "last_prune"


class StoredFindings(Protocol):
    """The PII findings ingestion stored (`PresidioRedactor`, which knows their keys)."""

    def stored_keys(self, texts: Iterable[str]) -> list[str]: ...

    def sweep_findings(self, live: LiveKeys, *, dry_run: bool = False) -> SweepCount: ...


@dataclass(frozen=True)
class PruneReport:
    dry_run: bool
    chunks: int  # in the index, whose rows were kept
    tables: dict[str, SweepCount] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def removed(self) -> int:
        return sum(count.removed for count in self.tables.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "chunks": self.chunks,
            "removed": self.removed,
            "tables": {name: count.as_dict() for name, count in self.tables.items()},
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Marks:
    chunks: int = 0
    embeddings: LiveKeys = field(default_factory=LiveKeys)
    sentences: LiveKeys = field(default_factory=LiveKeys)
    findings: LiveKeys = field(default_factory=LiveKeys)


class StatePruner:
    """Mark-and-sweep of the state database against the chunks in the vector store."""

    def __init__(
        self,
        *,
        store: VectorStore,
        state: StateStore,
        jobs: JobStore,
        source_ids: Callable[[], Iterable[str]],
        chunker: Chunker,
        model_id: str,
        sentences: SentenceVectorStore | None = None,
        findings: StoredFindings | None = None,
    ) -> None:
        """`source_ids`: every source that may sync into this index (their leases are held
        while pruning); `model_id`: the embedder's, which the cache and sentence keys name;
        `findings`: the PII findings under the redaction settings in force (rows stored under
        any other settings are never read again, and are removed)."""
        self._store = store
        self._state = state
        self._jobs = jobs
        self._source_ids = source_ids
        self._chunker = chunker
        self._model_id = model_id
        self._sentences = sentences
        self._findings = findings

    def prune(self, *, dry_run: bool = False) -> PruneReport:
        """Remove (or, with `dry_run`, count) the rows no chunk in the index uses. Raises
        SourceBusyError if a sync is running; nothing is removed then."""
        started = time.perf_counter()
        # The holder names the prune: a sync refused meanwhile says who holds its source.
        with self._jobs.hold(self._source_ids(), holder=f"the state prune on {default_holder()}"):
            marks = self._mark()
            tables = {
                "embedding_cache": self._state.sweep_embeddings(marks.embeddings, dry_run=dry_run)
            }
            if self._sentences is not None:
                tables |= self._sentences.sweep(marks.sentences, dry_run=dry_run)
            if self._findings is not None:
                tables["pii_findings"] = self._findings.sweep_findings(
                    marks.findings, dry_run=dry_run
                )
        report = PruneReport(
            dry_run=dry_run,
            chunks=marks.chunks,
            tables=tables,
            seconds=time.perf_counter() - started,
        )
        if not dry_run:
            stamped = {"finished_at": datetime.now(UTC).isoformat(), **report.as_dict()}
            self._state.set_meta(LAST_PRUNE_META, json.dumps(stamped))
        log.info(
            "state prune%s: %d chunks in the index, %d rows %s (%s)",
            " (dry run)" if dry_run else "",
            report.chunks,
            report.removed,
            "to remove" if dry_run else "removed",
            ", ".join(f"{name} -{count.removed}" for name, count in tables.items()),
        )
        return report

    def last_finished(self) -> datetime | None:
        """When the last prune (not a dry run) finished, if one is recorded."""
        recorded = self._state.get_meta(LAST_PRUNE_META)
        if recorded is None:
            return None
        try:
            return datetime.fromisoformat(str(json.loads(recorded)["finished_at"]))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as never run

    def _mark(self) -> _Marks:
        marks = _Marks()
        for page in self._store.iter_chunks():
            marks.chunks += len(page)
            self._mark_page(page, marks)
        return marks

    def _mark_page(self, chunks: Sequence[ChunkRecord], marks: _Marks) -> None:
        embed_texts = self._chunker.embed_texts([(c.title, c.heading_path, c.text) for c in chunks])
        marks.embeddings.add(embedding_key(self._model_id, text) for text in embed_texts)
        keys = [sentence_key(self._model_id, chunk) for chunk in chunks]
        marks.sentences.add(keys)
        if self._sentences is None or self._findings is None:
            return
        # The findings were stored for what an answer citing a chunk shows: its title, URI and
        # stored sentence units (a chunk whose units are gone has no findings worth keeping).
        units = self._sentences.units(keys)
        kept = [
            (chunk, units[key]) for chunk, key in zip(chunks, keys, strict=True) if key in units
        ]
        texts = shown_texts([chunk for chunk, _ in kept], [found for _, found in kept])
        marks.findings.add(self._findings.stored_keys(texts))
