"""`EdgeStore`: the embedded default, Qdrant's engine in-process through `qdrant-edge-py`.

One shard on local disk holds the whole collection. Qdrant Edge takes a write-ahead-log lock,
so only one process (and one `EdgeStore`) may have a shard open at a time; a second gets
`StoreLockedError`. Writes are visible to searches immediately (unindexed points are searched
exhaustively); `optimize()` builds the HNSW graph once a segment is large enough to need one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from qdrant_edge import (
    AcornSearchParams,
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    HnswIndexConfig,
    IdfParams,
    MatchAny,
    Memory,
    Modifier,
    PayloadSchemaType,
    PayloadSelector,
    Point,
    Query,
    QueryBatchRequest,
    QueryRequest,
    RangeFloat,
    ScrollRequest,
    SearchParams,
    SparseVector,
    UpdateOperation,
)

from retrieval.bm25 import Bm25Encoder, SparseEmbedding
from retrieval.qdrant_common import Hit, NewPoint, Payload, QdrantStoreBase
from retrieval.schema import (
    DEFAULT_FULL_SCAN_THRESHOLD_KB,
    DENSE_VECTOR,
    PAYLOAD_INDEXES,
    SPARSE_VECTOR,
    AnyOf,
    Condition,
    FilterPlan,
    IdfScope,
    IndexKind,
    PayloadMemory,
)
from retrieval.store import StoreError, StoreLockedError

if TYPE_CHECKING:
    from qdrant_edge import ConditionType, PointId

__all__ = ["EdgeStats", "EdgeStore"]

_HNSW_M, _HNSW_EF_CONSTRUCT = 16, 100  # the engine's defaults; only the scan threshold differs

_Channel = tuple[Query, SearchParams | None]  # a ranking: its query and search parameters

_INDEX_TYPES: Final[Mapping[IndexKind, PayloadSchemaType]] = {
    "keyword": PayloadSchemaType.Keyword,
    "float": PayloadSchemaType.Float,
}


def _condition(condition: Condition) -> ConditionType:
    if isinstance(condition, AnyOf):
        return FieldCondition(condition.field, match=MatchAny(list(condition.values)))
    return FieldCondition(condition.field, range=RangeFloat(gte=condition.gte, lt=condition.lt))


@functools.lru_cache(maxsize=1024)
def _edge_filter(plan: FilterPlan) -> Filter | None:
    """The engine's filter for `plan`. Plans are frozen values and the engine's filters are not
    changed by a search, so a user's filter is built once and reused by their next requests."""
    if plan.is_empty:
        return None
    must = [_condition(c) for c in plan.must]
    must_not = [_condition(c) for c in plan.must_not]
    return Filter(must=must or None, must_not=must_not or None)


def _sparse(vector: SparseEmbedding) -> SparseVector:
    return SparseVector(list(vector.indices), list(vector.values))


@dataclass(frozen=True)
class EdgeStats:
    """What the shard holds, as Qdrant Edge reports it."""

    points: int
    indexed_vectors: int  # sparse vectors (always indexed) plus dense vectors in an HNSW graph
    segments: int
    payload_indexes: Mapping[str, str]  # field -> index type


class EdgeStore(QdrantStoreBase[Filter, _Channel]):
    """A `VectorStore` over one Qdrant Edge shard at `path` (created on first open).

    `indexing_threshold_kb`: the segment size above which `optimize()` builds an HNSW graph
    (None keeps the shard's setting; the engine default is about 10 MB, i.e. ~6,500 chunks of
    384 dims: smaller indexes are always searched exhaustively, which is exact and fast).
    `full_scan_threshold_kb`: filtered searches whose filter admits fewer vectors than this are
    exhaustive over the admitted points (exact) rather than a walk of the HNSW graph. Measured
    on the 100,000-chunk benchmark corpus (16% visible to a typical user): with the engine's
    default (10,000 KB) filtered dense top-10 recall against exact search was 0.22–0.26 (0.39
    with hnsw_ef=512); with 40,000 KB it is 1.0 at 11 ms p50 / 15 ms p95 for the dense channel.
    `bm25_idf`: "visible" computes IDF over the chunks the search may return, so chunks a
    caller cannot read never shift its BM25 scores or order; "collection" over every chunk.
    `payload_memory`: "cached" keeps the payloads (chunk text and access lists) in memory;
    reading the 32 hits of a search at 100,000 chunks then took 0.5 / 0.6 ms p50/p95 against
    2.3 / 3.5 with "cold" (read from the files on demand), at the cost of about the payloads'
    size in RAM. Applies at every open, to an existing shard too.
    """

    def __init__(
        self,
        *,
        path: Path,
        dimension: int,
        hnsw_ef: int | None = None,
        exact: bool = False,
        acorn: bool = False,
        indexing_threshold_kb: int | None = None,
        full_scan_threshold_kb: int | None = DEFAULT_FULL_SCAN_THRESHOLD_KB,
        bm25_idf: IdfScope = "visible",
        payload_memory: PayloadMemory = "cached",
        upsert_batch_size: int = 256,
        scroll_page_size: int = 1000,
        encoder: Bm25Encoder | None = None,
    ) -> None:
        if dimension < 1 or upsert_batch_size < 1 or scroll_page_size < 1:
            raise ValueError("dimension, upsert_batch_size and scroll_page_size must be >= 1")
        self._path = path
        self._dimension = dimension
        self._batch = upsert_batch_size
        self._page = scroll_page_size
        self._encoder = encoder or Bm25Encoder()
        self._indexing_threshold_kb = indexing_threshold_kb
        self._full_scan_threshold_kb = full_scan_threshold_kb
        self._dense_params = (
            SearchParams(
                hnsw_ef=hnsw_ef,
                exact=exact,
                acorn=AcornSearchParams(enable=True) if acorn and not exact else None,
            )
            if hnsw_ef or exact or acorn
            else None
        )
        self._visible_idf = bm25_idf == "visible"
        self._payload_memory = Memory.Cached if payload_memory == "cached" else Memory.Cold
        self._shard: EdgeShard | None = self._open()

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    def _config(self) -> EdgeConfig:
        return EdgeConfig(
            vectors={
                DENSE_VECTOR: EdgeVectorParams(size=self._dimension, distance=Distance.Cosine)
            },
            sparse_vectors={SPARSE_VECTOR: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            payload_memory=self._payload_memory,
            optimizers=EdgeOptimizersConfig(indexing_threshold=self._indexing_threshold_kb)
            if self._indexing_threshold_kb is not None
            else None,
            hnsw_config=HnswIndexConfig(
                m=_HNSW_M, ef_construct=_HNSW_EF_CONSTRUCT, full_scan_threshold=threshold
            )
            if (threshold := self._full_scan_threshold_kb) is not None
            else None,
        )

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Qdrant Edge raises bare `Exception`s; give them our type and the path."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            message = str(exc)
            if "WouldBlock" in message:
                raise StoreLockedError(
                    f"the index at {self._path} is open in another process (for example a "
                    "running `proofdesk serve`); stop it, or run the command through the server"
                ) from exc
            if "incompatible" in message.lower():
                raise StoreError(
                    f"the index at {self._path} does not fit this schema "
                    f"({self._dimension}-dim cosine '{DENSE_VECTOR}', IDF '{SPARSE_VECTOR}'): "
                    f"{message}. Rebuild it into an empty path."
                ) from exc
            raise StoreError(f"Qdrant Edge failed to {action} ({self._path}): {message}") from exc

    def _open(self) -> EdgeShard:
        existing = (self._path / "edge_config.json").exists() or (self._path / "segments").exists()
        with self._errors("open the index"):
            if existing:
                # Passing the config makes Edge check it against the stored segments.
                shard = EdgeShard.load(str(self._path), self._config())
            else:
                self._path.mkdir(parents=True, exist_ok=True)
                shard = EdgeShard.create(str(self._path), self._config())
        try:
            with self._errors("create payload indexes"):
                present = shard.info().payload_schema
                for field, kind in PAYLOAD_INDEXES.items():
                    if field not in present:
                        shard.update(UpdateOperation.create_field_index(field, _INDEX_TYPES[kind]))
        except StoreError:
            shard.close()
            raise
        return shard

    @property
    def _live(self) -> EdgeShard:
        if self._shard is None:
            raise StoreError(f"the index at {self._path} is closed")
        return self._shard

    def stats(self) -> EdgeStats:
        with self._errors("read shard info"):
            info = self._live.info()
        return EdgeStats(
            points=info.points_count,
            indexed_vectors=info.indexed_vectors_count,
            segments=info.segments_count,
            payload_indexes={
                # pyo3 enums have no `.name`; their str() is "PayloadSchemaType.Keyword".
                field: str(index.data_type).rsplit(".", 1)[-1].lower()
                for field, index in info.payload_schema.items()
            },
        )

    def flush(self) -> None:
        with self._errors("flush"):
            self._live.flush()

    def optimize(self) -> None:
        with self._errors("optimize"):
            self._live.optimize()

    def close(self) -> None:
        """Flush and release the shard (and its lock). Safe to call more than once."""
        shard, self._shard = self._shard, None
        if shard is not None:
            with self._errors("close"):
                try:
                    shard.flush()
                finally:
                    shard.close()

    # --- the primitives of `QdrantStoreBase` -------------------------------------------------

    def _ensure_open(self) -> None:
        _ = self._live

    def _filter(self, plan: FilterPlan) -> Filter | None:
        return _edge_filter(plan)

    def _write_points(self, points: Sequence[NewPoint]) -> None:
        self._live.update(
            UpdateOperation.upsert_points(
                [
                    Point(
                        p.point_id,
                        {DENSE_VECTOR: p.dense, SPARSE_VECTOR: _sparse(p.sparse)},
                        p.payload,
                    )
                    for p in points
                ]
            )
        )

    def _delete_where(self, flt: Filter) -> None:
        self._live.update(UpdateOperation.delete_points_by_filter(flt))

    def _set_payload_where(self, flt: Filter, payload: dict[str, object]) -> None:
        self._live.update(UpdateOperation.set_payload_by_filter(flt, payload))

    def _scroll(
        self, flt: Filter | None, offset: Any, fields: Sequence[str] | None
    ) -> tuple[list[Payload], Any]:
        selector = PayloadSelector.Include(list(fields)) if fields is not None else True
        records, next_offset = self._live.scroll(
            ScrollRequest(offset=offset, limit=self._page, filter=flt, with_payload=selector)
        )
        return [r.payload for r in records], next_offset

    def _count_where(self, flt: Filter | None) -> int:
        return self._live.count(CountRequest(exact=True, filter=flt))

    def _payloads(self, ids: Sequence[str]) -> dict[str, Payload]:
        wanted: list[PointId] = list(ids)
        records = self._live.retrieve(wanted, with_payload=True, with_vector=False)
        return {str(r.id): r.payload for r in records}

    def _dense_channel(self, vector: list[float]) -> _Channel:
        return Query.Nearest(vector, using=DENSE_VECTOR), self._dense_params

    def _sparse_channel(self, terms: SparseEmbedding, flt: Filter | None) -> _Channel:
        idf = SearchParams(idf=IdfParams(corpus=flt)) if self._visible_idf else None
        return Query.Nearest(_sparse(terms), using=SPARSE_VECTOR), idf

    def _query(
        self, channels: Sequence[_Channel], flt: Filter | None, size: int, *, payload: bool
    ) -> list[list[Hit]]:
        requests = [
            QueryRequest(limit=size, query=query, filter=flt, params=params, with_payload=payload)
            for query, params in channels
        ]
        if len(requests) == 1:
            results = [self._live.query(requests[0])]
        else:
            results = self._live.query_batch(QueryBatchRequest(requests))
        return [[Hit(str(p.id), p.score, p.payload) for p in points] for points in results]
