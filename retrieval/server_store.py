"""`ServerStore`: the same collection schema on a Qdrant server, through `qdrant-client`.

This is the store at scale (many processes, sharding, replication). For tests it also runs on
qdrant-client's local mode (`path=` or `in_memory=True`), which scans in Python: correct, but
only usable up to a few thousand points, and payload indexes have no effect there (so they are
not created in local mode).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from qdrant_client import QdrantClient, models

from retrieval.bm25 import Bm25Encoder, SparseEmbedding
from retrieval.qdrant_common import Hit, NewPoint, Payload, QdrantStoreBase
from retrieval.schema import (
    DENSE_VECTOR,
    PAYLOAD_INDEXES,
    SPARSE_VECTOR,
    AnyOf,
    Condition,
    FilterPlan,
    IdfScope,
    IndexKind,
)
from retrieval.store import StoreError, StoreLockedError

__all__ = ["ServerStore"]

# A ranking: the vector it searches, its query and search parameters.
_Channel = tuple[str, list[float] | models.SparseVector, models.SearchParams | None]

_INDEX_TYPES: Final[Mapping[IndexKind, models.PayloadSchemaType]] = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "float": models.PayloadSchemaType.FLOAT,
}


def _condition(condition: Condition) -> models.Condition:
    if isinstance(condition, AnyOf):
        return models.FieldCondition(
            key=condition.field, match=models.MatchAny(any=list(condition.values))
        )
    return models.FieldCondition(
        key=condition.field, range=models.Range(gte=condition.gte, lt=condition.lt)
    )


def _server_filter(plan: FilterPlan) -> models.Filter | None:
    if plan.is_empty:
        return None
    must = [_condition(c) for c in plan.must]
    must_not = [_condition(c) for c in plan.must_not]
    return models.Filter(must=must or None, must_not=must_not or None)


def _sparse(vector: SparseEmbedding) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


class ServerStore(QdrantStoreBase[models.Filter, _Channel]):
    """A `VectorStore` over one collection of a Qdrant server (or of qdrant-client local mode).

    Give exactly one of `url` (a server), `path` (local mode on disk) or `in_memory=True`.
    """

    def __init__(
        self,
        *,
        collection: str,
        dimension: int,
        url: str | None = None,
        api_key: str | None = None,
        path: Path | None = None,
        in_memory: bool = False,
        timeout: int = 30,
        hnsw_ef: int | None = None,
        exact: bool = False,
        acorn: bool = False,
        bm25_idf: IdfScope = "visible",
        upsert_batch_size: int = 256,
        scroll_page_size: int = 1000,
        encoder: Bm25Encoder | None = None,
    ) -> None:
        if sum((url is not None, path is not None, in_memory)) != 1:
            raise ValueError("give exactly one of url, path or in_memory=True")
        if dimension < 1 or upsert_batch_size < 1 or scroll_page_size < 1:
            raise ValueError("dimension, upsert_batch_size and scroll_page_size must be >= 1")
        self._collection = collection
        self._dimension = dimension
        self._where = url or (str(path) if path is not None else ":memory:")
        self._local = url is None
        self._batch = upsert_batch_size
        self._page = scroll_page_size
        self._encoder = encoder or Bm25Encoder()
        self._dense_params = (
            models.SearchParams(
                hnsw_ef=hnsw_ef,
                exact=exact,
                acorn=models.AcornSearchParams(enable=True) if acorn and not exact else None,
            )
            if hnsw_ef or exact or acorn
            else None
        )
        self._visible_idf = bm25_idf == "visible"
        with self._errors("connect"):
            if url is not None:
                client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
            elif path is not None:
                path.mkdir(parents=True, exist_ok=True)
                client = QdrantClient(path=str(path))
            else:
                client = QdrantClient(location=":memory:")
        self._client: QdrantClient | None = client
        try:
            self._ensure_collection(client)
        except StoreError:
            client.close()
            raise

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def collection(self) -> str:
        return self._collection

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            if "already accessed by another instance" in str(exc):
                raise StoreLockedError(
                    f"the local Qdrant index at {self._where} is open in another process; "
                    "stop it, or use a Qdrant server for concurrent access"
                ) from exc
            raise StoreError(
                f"Qdrant failed to {action} (collection {self._collection!r} at {self._where}): "
                f"{exc}"
            ) from exc

    def _ensure_collection(self, client: QdrantClient) -> None:
        with self._errors("open the collection"):
            if not client.collection_exists(self._collection):
                client.create_collection(
                    self._collection,
                    vectors_config={
                        DENSE_VECTOR: models.VectorParams(
                            size=self._dimension, distance=models.Distance.COSINE
                        )
                    },
                    sparse_vectors_config={
                        SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                )
            info = client.get_collection(self._collection)
        self._check_schema(info)
        if self._local:
            return  # local mode ignores payload indexes (and warns for each one)
        with self._errors("create payload indexes"):
            for field, kind in PAYLOAD_INDEXES.items():
                if field not in info.payload_schema:
                    client.create_payload_index(
                        self._collection, field, field_schema=_INDEX_TYPES[kind], wait=True
                    )

    def _check_schema(self, info: models.CollectionInfo) -> None:
        vectors = info.config.params.vectors
        dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        sparse = (info.config.params.sparse_vectors or {}).get(SPARSE_VECTOR)
        problems = []
        if dense is None:
            problems.append(f"no dense vector named {DENSE_VECTOR!r}")
        elif dense.size != self._dimension or dense.distance != models.Distance.COSINE:
            problems.append(
                f"dense vector is {dense.size}-dim {dense.distance.value}, "
                f"expected {self._dimension}-dim Cosine"
            )
        if sparse is None or sparse.modifier != models.Modifier.IDF:
            problems.append(f"no sparse vector {SPARSE_VECTOR!r} with the IDF modifier")
        if problems:
            raise StoreError(
                f"collection {self._collection!r} at {self._where} does not fit this schema: "
                + "; ".join(problems)
                + ". Re-index into a new collection."
            )

    @property
    def _live(self) -> QdrantClient:
        if self._client is None:
            raise StoreError(f"the store for collection {self._collection!r} is closed")
        return self._client

    def flush(self) -> None:
        """Writes are made with `wait=True`, so they are already durable on return."""
        _ = self._live

    def optimize(self) -> None:
        """No-op: a Qdrant server builds its indexes in the background by itself."""
        _ = self._live

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with self._errors("close"):
                client.close()

    # --- the primitives of `QdrantStoreBase` -------------------------------------------------

    def _ensure_open(self) -> None:
        _ = self._live

    def _filter(self, plan: FilterPlan) -> models.Filter | None:
        return _server_filter(plan)

    def _write_points(self, points: Sequence[NewPoint]) -> None:
        self._live.upsert(
            self._collection,
            points=[
                models.PointStruct(
                    id=p.point_id,
                    vector={DENSE_VECTOR: p.dense, SPARSE_VECTOR: _sparse(p.sparse)},
                    payload=p.payload,
                )
                for p in points
            ],
            wait=True,
        )

    def _delete_where(self, flt: models.Filter) -> None:
        self._live.delete(
            self._collection, points_selector=models.FilterSelector(filter=flt), wait=True
        )

    def _set_payload_where(self, flt: models.Filter, payload: dict[str, object]) -> None:
        self._live.set_payload(self._collection, payload=payload, points=flt, wait=True)

    def _scroll(
        self, flt: models.Filter | None, offset: Any, fields: Sequence[str] | None
    ) -> tuple[list[Payload], Any]:
        records, next_offset = self._live.scroll(
            self._collection,
            scroll_filter=flt,
            limit=self._page,
            offset=offset,
            with_payload=list(fields) if fields is not None else True,
            with_vectors=False,
        )
        return [r.payload for r in records], next_offset

    def _count_where(self, flt: models.Filter | None) -> int:
        return self._live.count(self._collection, count_filter=flt, exact=True).count

    def _payloads(self, ids: Sequence[str]) -> dict[str, Payload]:
        records = self._live.retrieve(
            self._collection, ids=list(ids), with_payload=True, with_vectors=False
        )
        return {str(r.id): r.payload for r in records}

    def _dense_channel(self, vector: list[float]) -> _Channel:
        return DENSE_VECTOR, vector, self._dense_params

    def _sparse_channel(self, terms: SparseEmbedding, flt: models.Filter | None) -> _Channel:
        idf = None
        if self._visible_idf and flt is not None:
            idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=flt))
        return SPARSE_VECTOR, _sparse(terms), idf

    def _query(
        self,
        channels: Sequence[_Channel],
        flt: models.Filter | None,
        size: int,
        *,
        payload: bool,
    ) -> list[list[Hit]]:
        requests = [
            models.QueryRequest(
                query=query,
                using=using,
                filter=flt,
                params=params,
                limit=size,
                with_payload=payload,
            )
            for using, query, params in channels
        ]
        results = self._live.query_batch_points(self._collection, requests=requests)
        return [[Hit(str(p.id), p.score, p.payload) for p in r.points] for r in results]
