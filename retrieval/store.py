"""The vector store port: what ingestion and retrieval need from Qdrant, whatever the backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal, Protocol

from policies.access.filters import AccessFilter
from retrieval.records import ChunkRecord, ScoredChunk, SearchFilters

__all__ = [
    "SearchMode",
    "StoreError",
    "StoreLockedError",
    "VectorStore",
]

SearchMode = Literal["dense", "sparse", "hybrid"]


class StoreError(RuntimeError):
    """The vector store failed or holds something unexpected."""


class StoreLockedError(StoreError):
    """The embedded index is open in another process (Qdrant Edge allows one process at a time)."""


class VectorStore(Protocol):
    """One collection of chunks with a dense and a BM25 sparse vector each, plus the ACL payload."""

    def upsert(self, chunks: Sequence[ChunkRecord], dense: Sequence[Sequence[float]]) -> None:
        """Insert or replace chunks (by chunk id). `dense[i]` is the vector of `chunks[i]`."""

    def delete_document(self, document_id: str, *, keep_version: str | None = None) -> None:
        """Delete a document's chunks; with `keep_version`, only those of other versions."""

    def set_document_access(
        self, document_id: str, *, read: Sequence[str], deny: Sequence[str]
    ) -> None:
        """Replace the access lists of every chunk of a document in place (no re-embedding)."""

    def document_versions(self, source_id: str) -> Mapping[str, frozenset[str]]:
        """document id → the versions present in the index, for one source."""

    def count(self, *, source_id: str | None = None, document_id: str | None = None) -> int: ...

    def retrieve_chunks(self, chunk_ids: Sequence[str]) -> list[ChunkRecord]:
        """The chunks with these ids that are in the index, in the order asked (missing ids
        are left out). No access filter: callers decide who may see the result."""

    def iter_chunks(self) -> Iterator[list[ChunkRecord]]:
        """Every chunk in the index, a page at a time (payloads only, no vectors). No access
        filter: for maintenance (`ingest.state_prune`), never for answering."""

    def search(
        self,
        *,
        query_text: str,
        query_vector: Sequence[float] | None,
        access: AccessFilter,
        filters: SearchFilters | None = None,
        limit: int = 10,
        mode: SearchMode = "hybrid",
        prefetch_limit: int = 100,
    ) -> list[ScoredChunk]:
        """Top chunks for a query, with the access filter applied inside the search."""

    def flush(self) -> None:
        """Make every write so far durable."""

    def optimize(self) -> None:
        """Build indexes (HNSW) for what was written; searches are exact until then."""

    def close(self) -> None: ...
