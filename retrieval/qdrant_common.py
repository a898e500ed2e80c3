"""What the two Qdrant adapters share: the `VectorStore` operations written once over a few
primitives each adapter implements in its own client's terms (`EdgeStore`: Qdrant Edge
in-process; `ServerStore`: qdrant-client against a server or its local mode).

The base owns the algorithms - batching upserts, paging scrolls, keeping `retrieve_chunks` in
the caller's order, planning the dense and BM25 channels of a search and fusing their rankings
(`retrieval.fusion`) - and imports no Qdrant package; the adapters own the wire: filters,
points, requests and the translation of client errors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Generic, NamedTuple, Self, TypeVar

from policies.access.filters import AccessFilter
from retrieval.bm25 import Bm25Encoder, SparseEmbedding, document_text
from retrieval.fusion import fused_chunks, reciprocal_rank_fusion
from retrieval.records import ChunkRecord, ScoredChunk, SearchFilters
from retrieval.schema import (
    F_DENY,
    F_DOCUMENT_ID,
    F_DOCUMENT_VERSION,
    F_READ,
    FilterPlan,
    chunk_to_payload,
    compile_search_filter,
    dense_rows,
    document_filter,
    payload_to_chunk,
    point_ids,
    query_row,
    scope_filter,
    scored_chunk,
    validate_point_id,
)
from retrieval.store import SearchMode

__all__ = ["Hit", "NewPoint", "Payload", "QdrantStoreBase"]

Payload = Mapping[str, Any] | None
FilterT = TypeVar("FilterT")
ChannelT = TypeVar("ChannelT")


class NewPoint(NamedTuple):
    """One chunk as a point to write: its id, dense row, BM25 vector and payload."""

    point_id: str
    dense: list[float]
    sparse: SparseEmbedding
    payload: dict[str, Any]


class Hit(NamedTuple):
    point_id: str
    score: float
    payload: Payload


def _ranked(hits: Sequence[Hit]) -> list[Hit]:
    """A channel's hits best first, equal scores (to 6 decimals: the same vector can score a
    last-digit apart) in point-id order: Qdrant leaves ties (the same text in two documents)
    in an order that changes between runs and replicas, and the fused ranking inherits it."""
    return sorted(hits, key=lambda h: (-round(h.score, 6), h.point_id))


class QdrantStoreBase(ABC, Generic[FilterT, ChannelT]):
    """The `VectorStore` operations over an adapter's primitives (see the module's text).
    Subclasses set `_dimension`, `_batch`, `_page` and `_encoder` in their constructor."""

    _dimension: int
    _batch: int
    _page: int
    _encoder: Bm25Encoder

    # --- the adapter's primitives -------------------------------------------------------------

    @abstractmethod
    def _errors(self, action: str) -> AbstractContextManager[None]:
        """Translate the client's failures while doing `action` into `StoreError`s."""

    @abstractmethod
    def _ensure_open(self) -> None:
        """Raise `StoreError` when the store is closed."""

    @abstractmethod
    def _filter(self, plan: FilterPlan) -> FilterT | None:
        """The client's filter for a backend-neutral plan."""

    @abstractmethod
    def _write_points(self, points: Sequence[NewPoint]) -> None: ...

    @abstractmethod
    def _delete_where(self, flt: FilterT) -> None: ...

    @abstractmethod
    def _set_payload_where(self, flt: FilterT, payload: dict[str, object]) -> None: ...

    @abstractmethod
    def _scroll(
        self, flt: FilterT | None, offset: Any, fields: Sequence[str] | None
    ) -> tuple[list[Payload], Any]:
        """One page of payloads (`fields`: only those; None: all) and the next offset (None:
        the last page)."""

    @abstractmethod
    def _count_where(self, flt: FilterT | None) -> int: ...

    @abstractmethod
    def _payloads(self, ids: Sequence[str]) -> dict[str, Payload]:
        """The payloads of the points that exist among `ids`, by point id."""

    @abstractmethod
    def _dense_channel(self, vector: list[float]) -> ChannelT: ...

    @abstractmethod
    def _sparse_channel(self, terms: SparseEmbedding, flt: FilterT | None) -> ChannelT: ...

    @abstractmethod
    def _query(
        self, channels: Sequence[ChannelT], flt: FilterT | None, size: int, *, payload: bool
    ) -> list[list[Hit]]:
        """The top `size` hits of each channel under `flt`, in one request where it can."""

    @abstractmethod
    def close(self) -> None: ...

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return self._dimension

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writes --------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[ChunkRecord], dense: Sequence[Sequence[float]]) -> None:
        rows = dense_rows(chunks, dense, dimension=self._dimension)
        self._ensure_open()
        for start in range(0, len(chunks), self._batch):
            points = [
                NewPoint(
                    validate_point_id(chunk.chunk_id),
                    row,
                    self._encoder.embed_document(
                        document_text(
                            title=chunk.title, heading_path=chunk.heading_path, text=chunk.text
                        )
                    ),
                    chunk_to_payload(chunk),
                )
                for chunk, row in zip(
                    chunks[start : start + self._batch],
                    rows[start : start + self._batch],
                    strict=True,
                )
            ]
            with self._errors("upsert points"):
                self._write_points(points)

    def delete_document(self, document_id: str, *, keep_version: str | None = None) -> None:
        flt = self._filter(document_filter(document_id, keep_version=keep_version))
        assert flt is not None
        with self._errors("delete a document"):
            self._delete_where(flt)

    def set_document_access(
        self, document_id: str, *, read: Sequence[str], deny: Sequence[str]
    ) -> None:
        flt = self._filter(document_filter(document_id))
        assert flt is not None
        payload: dict[str, object] = {F_READ: list(read), F_DENY: list(deny)}
        with self._errors("set document access"):
            self._set_payload_where(flt, payload)

    # --- reads ---------------------------------------------------------------------------------

    def document_versions(self, source_id: str) -> Mapping[str, frozenset[str]]:
        flt = self._filter(scope_filter(source_id=source_id))
        versions: dict[str, set[str]] = {}
        offset: Any = None
        with self._errors("scroll document versions"):
            while True:
                payloads, offset = self._scroll(flt, offset, [F_DOCUMENT_ID, F_DOCUMENT_VERSION])
                for payload in payloads:
                    found = payload or {}
                    doc, version = found.get(F_DOCUMENT_ID), found.get(F_DOCUMENT_VERSION)
                    if isinstance(doc, str) and isinstance(version, str):
                        versions.setdefault(doc, set()).add(version)
                if offset is None:
                    break
        return {doc: frozenset(vs) for doc, vs in versions.items()}

    def count(self, *, source_id: str | None = None, document_id: str | None = None) -> int:
        flt = self._filter(scope_filter(source_id=source_id, document_id=document_id))
        with self._errors("count points"):
            return self._count_where(flt)

    def iter_chunks(self) -> Iterator[list[ChunkRecord]]:
        offset: Any = None
        while True:
            with self._errors("scroll chunks"):
                payloads, offset = self._scroll(None, offset, None)
            if payloads:
                yield [payload_to_chunk(p or {}) for p in payloads]
            if offset is None:
                return

    def retrieve_chunks(self, chunk_ids: Sequence[str]) -> list[ChunkRecord]:
        wanted = point_ids(chunk_ids)
        if not wanted:
            return []
        with self._errors("retrieve points"):
            found = self._payloads(wanted)
        return [payload_to_chunk(found[c] or {}) for c in wanted if c in found]

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
        """Top chunks; the access filter is part of every prefetch, never applied afterwards."""
        vector = query_row(mode, query_vector, dimension=self._dimension)
        plan = compile_search_filter(access, filters)
        if plan is None or limit < 1:
            return []
        flt = self._filter(plan)
        # One channel per ranking: dense first, then BM25 when the query has terms.
        channels: list[ChannelT] = []
        if vector is not None:
            channels.append(self._dense_channel(vector))
        if mode != "dense":
            terms = self._encoder.embed_query(query_text)
            if terms.indices:
                # IDF over what this search may see: hidden chunks must not move the scores.
                channels.append(self._sparse_channel(terms, flt))
            elif mode == "sparse":
                return []  # only stopwords: BM25 has nothing to match
        with self._errors("search"):
            if mode != "hybrid":
                (hits,) = self._query(channels[:1], flt, limit, payload=True)
                return [scored_chunk(h.payload, h.score, mode=mode) for h in _ranked(hits)]
            # The channels in one request; their rankings are fused here (retrieval.fusion).
            results = self._query(channels, flt, max(prefetch_limit, limit), payload=False)
            channel_scores = [{h.point_id: h.score for h in _ranked(hits)} for hits in results]
            fused = reciprocal_rank_fusion(channel_scores, limit=limit)
            payloads = self._payloads([hit.point_id for hit in fused]) if fused else {}
        return fused_chunks(fused, channel_scores, payloads)
