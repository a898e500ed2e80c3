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
from types import TracebackType
from typing import Final, Self

from qdrant_client import QdrantClient, models

from policies.access.filters import AccessFilter
from retrieval.bm25 import Bm25Encoder, SparseEmbedding, document_text
from retrieval.fusion import fused_chunks, reciprocal_rank_fusion
from retrieval.records import ChunkRecord, ScoredChunk, SearchFilters
from retrieval.schema import (
    DENSE_VECTOR,
    F_DENY,
    F_DOCUMENT_ID,
    F_DOCUMENT_VERSION,
    F_READ,
    PAYLOAD_INDEXES,
    SPARSE_VECTOR,
    AnyOf,
    Condition,
    FilterPlan,
    IdfScope,
    IndexKind,
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
from retrieval.store import SearchMode, StoreError, StoreLockedError

__all__ = ["ServerStore"]

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


class ServerStore:
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

    @property
    def dimension(self) -> int:
        return self._dimension

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
        client = self._live
        for start in range(0, len(chunks), self._batch):
            points = []
            for chunk, row in zip(
                chunks[start : start + self._batch], rows[start : start + self._batch], strict=True
            ):
                sparse = self._encoder.embed_document(
                    document_text(
                        title=chunk.title, heading_path=chunk.heading_path, text=chunk.text
                    )
                )
                vectors: dict[str, list[float] | models.SparseVector] = {
                    DENSE_VECTOR: row,
                    SPARSE_VECTOR: _sparse(sparse),
                }
                points.append(
                    models.PointStruct(
                        id=validate_point_id(chunk.chunk_id),
                        vector=vectors,
                        payload=chunk_to_payload(chunk),
                    )
                )
            with self._errors("upsert points"):
                client.upsert(self._collection, points=points, wait=True)

    def delete_document(self, document_id: str, *, keep_version: str | None = None) -> None:
        flt = _server_filter(document_filter(document_id, keep_version=keep_version))
        assert flt is not None
        with self._errors("delete a document"):
            self._live.delete(
                self._collection, points_selector=models.FilterSelector(filter=flt), wait=True
            )

    def set_document_access(
        self, document_id: str, *, read: Sequence[str], deny: Sequence[str]
    ) -> None:
        flt = _server_filter(document_filter(document_id))
        assert flt is not None
        payload: dict[str, object] = {F_READ: list(read), F_DENY: list(deny)}
        with self._errors("set document access"):
            self._live.set_payload(self._collection, payload=payload, points=flt, wait=True)

    # --- reads ---------------------------------------------------------------------------------

    def document_versions(self, source_id: str) -> Mapping[str, frozenset[str]]:
        flt = _server_filter(scope_filter(source_id=source_id))
        versions: dict[str, set[str]] = {}
        offset: models.ExtendedPointId | None = None
        with self._errors("scroll document versions"):
            while True:
                records, offset = self._live.scroll(
                    self._collection,
                    scroll_filter=flt,
                    limit=self._page,
                    offset=offset,
                    with_payload=[F_DOCUMENT_ID, F_DOCUMENT_VERSION],
                )
                for record in records:
                    payload = record.payload or {}
                    doc, version = payload.get(F_DOCUMENT_ID), payload.get(F_DOCUMENT_VERSION)
                    if isinstance(doc, str) and isinstance(version, str):
                        versions.setdefault(doc, set()).add(version)
                if offset is None:
                    break
        return {doc: frozenset(vs) for doc, vs in versions.items()}

    def count(self, *, source_id: str | None = None, document_id: str | None = None) -> int:
        flt = _server_filter(scope_filter(source_id=source_id, document_id=document_id))
        with self._errors("count points"):
            return self._live.count(self._collection, count_filter=flt, exact=True).count

    def iter_chunks(self) -> Iterator[list[ChunkRecord]]:
        offset: models.ExtendedPointId | None = None
        while True:
            with self._errors("scroll chunks"):
                records, offset = self._live.scroll(
                    self._collection,
                    limit=self._page,
                    offset=offset,
                    with_payload=True,
                    with_vectors=False,
                )
            if records:
                yield [payload_to_chunk(r.payload or {}) for r in records]
            if offset is None:
                return

    def retrieve_chunks(self, chunk_ids: Sequence[str]) -> list[ChunkRecord]:
        wanted = point_ids(chunk_ids)
        if not wanted:
            return []
        with self._errors("retrieve points"):
            records = self._live.retrieve(
                self._collection, ids=wanted, with_payload=True, with_vectors=False
            )
        found = {str(r.id): payload_to_chunk(r.payload or {}) for r in records}
        return [found[c] for c in wanted if c in found]

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
        flt = _server_filter(plan)
        # (vector name, query, params) per channel: dense first, then BM25 when it has terms.
        channels: list[tuple[str, list[float] | models.SparseVector, models.SearchParams | None]]
        channels = []
        if vector is not None:
            channels.append((DENSE_VECTOR, vector, self._dense_params))
        if mode != "dense":
            terms = self._encoder.embed_query(query_text)
            if terms.indices:
                # IDF over what this search may see: hidden chunks must not move the scores.
                idf = None
                if self._visible_idf and flt is not None:
                    idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=flt))
                channels.append((SPARSE_VECTOR, _sparse(terms), idf))
            elif mode == "sparse":
                return []  # only stopwords: BM25 has nothing to match

        def request(
            using: str,
            query: list[float] | models.SparseVector,
            params: models.SearchParams | None,
            size: int,
            *,
            payload: bool,
        ) -> models.QueryRequest:
            return models.QueryRequest(
                query=query,
                using=using,
                filter=flt,
                params=params,
                limit=size,
                with_payload=payload,
            )

        with self._errors("search"):
            if mode != "hybrid":
                hits = self._live.query_batch_points(
                    self._collection, requests=[request(*channels[0], limit, payload=True)]
                )[0].points
                return [scored_chunk(p.payload, p.score, mode=mode) for p in hits]
            channel_limit = max(prefetch_limit, limit)
            # Both channels in one round trip; their rankings are fused here (retrieval.fusion).
            batch = [request(*c, channel_limit, payload=False) for c in channels]
            results = self._live.query_batch_points(self._collection, requests=batch)
            channel_scores = [{str(p.id): p.score for p in r.points} for r in results]
            fused = reciprocal_rank_fusion(channel_scores, limit=limit)
            records = []
            if fused:
                records = self._live.retrieve(
                    self._collection,
                    ids=[hit.point_id for hit in fused],
                    with_payload=True,
                    with_vectors=False,
                )
        return fused_chunks(fused, channel_scores, {str(r.id): r.payload for r in records})
