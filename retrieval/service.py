"""Permission-filtered hybrid retrieval: the one way anything of ours reads the index.

The principal is compiled once per request into an access filter, which the store applies
inside the vector search (before ranking). Every chunk that is about to be returned is checked
again against the policy engine; a chunk that fails the re-check is dropped and logged as a
policy inconsistency — it means the index and the policy disagree, never a normal event.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache
from pydantic import BaseModel, Field

from policies.access.engine import PolicyEngine
from policies.access.filters import AccessFilter
from policies.access.principal import Principal
from retrieval.embedding.embedder import Embedder
from retrieval.records import ScoredChunk, SearchFilters
from retrieval.store import SearchMode, VectorStore

__all__ = [
    "RetrievalRequest",
    "RetrievalResult",
    "RetrievalService",
    "RetrievalSettings",
    "RetrievedChunk",
]

log = logging.getLogger(__name__)


class RetrievalSettings(BaseModel):
    top_k: int = Field(default=8, ge=1, le=100)
    mode: SearchMode = "hybrid"
    per_document_limit: int = Field(
        default=2, ge=1, description="at most this many chunks of one document (diversity)"
    )
    prefetch_limit: int = Field(default=100, ge=10, le=1000, description="candidates per channel")
    score_threshold: float | None = Field(default=None, description="drop fused scores below")
    query_cache_size: int = Field(default=1024, ge=0, description="query embeddings kept")


@dataclass(frozen=True)
class RetrievalRequest:
    query: str
    principal: Principal
    top_k: int | None = None
    mode: SearchMode | None = None
    filters: SearchFilters | None = None
    per_document_limit: int | None = None  # None: the configured default
    score_threshold: float | None = None


@dataclass(frozen=True)
class RetrievedChunk:
    """A hit the principal may read, with the principals that admitted it (for `search`)."""

    hit: ScoredChunk
    rank: int
    allowed_by: tuple[str, ...]


@dataclass(frozen=True)
class RetrievalResult:
    chunks: list[RetrievedChunk]
    policy_version: str
    access: AccessFilter
    dropped_by_recheck: int = 0
    timings_ms: dict[Literal["embed", "search", "recheck"], float] = field(default_factory=dict)


class _QueryCache:
    """A small thread-safe LRU of query embeddings (the same question asked again is free):
    a cachetools `LRUCache` behind a lock, since cachetools caches are not thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: LRUCache[str, npt.NDArray[np.float32]] = LRUCache(maxsize=max(size, 1))
        self._lock = threading.Lock()

    def get(self, key: str) -> npt.NDArray[np.float32] | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: str, vec: npt.NDArray[np.float32]) -> None:
        if self._size <= 0:  # caching off
            return
        with self._lock:
            self._items[key] = vec


class RetrievalService:
    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        policy: PolicyEngine,
        settings: RetrievalSettings | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._policy = policy
        self._settings = settings or RetrievalSettings()
        self._cache = _QueryCache(self._settings.query_cache_size)

    @property
    def settings(self) -> RetrievalSettings:
        return self._settings

    def retrieve(self, request: RetrievalRequest) -> RetrievalResult:
        self._policy.maybe_reload()  # a policy edit applies to the very next query
        access = self._policy.access_filter(request.principal)
        return self.retrieve_with(request, access)

    def retrieve_with(self, request: RetrievalRequest, access: AccessFilter) -> RetrievalResult:
        """Retrieve with an access filter already compiled for this request."""
        s = self._settings
        top_k = request.top_k or s.top_k
        mode = request.mode or s.mode
        per_doc = request.per_document_limit or s.per_document_limit
        threshold = (
            request.score_threshold if request.score_threshold is not None else (s.score_threshold)
        )
        timings: dict[Literal["embed", "search", "recheck"], float] = {}
        query = " ".join(request.query.split())
        if not query:
            return RetrievalResult([], access.policy_version, access, timings_ms=timings)

        t0 = time.perf_counter()
        vector = self.embed_query(query) if mode != "sparse" else None
        t1 = time.perf_counter()
        # Over-fetch so that the per-document limit still leaves top_k distinct hits.
        hits = self._store.search(
            query_text=query,
            query_vector=vector.tolist() if vector is not None else None,
            access=access,
            filters=request.filters,
            limit=min(top_k * 4, 400),
            mode=mode,
            prefetch_limit=s.prefetch_limit,
        )
        t2 = time.perf_counter()
        chunks, dropped = self._select(
            hits, access, top_k=top_k, per_doc=per_doc, threshold=threshold
        )
        t3 = time.perf_counter()
        timings["embed"] = (t1 - t0) * 1000
        timings["search"] = (t2 - t1) * 1000
        timings["recheck"] = (t3 - t2) * 1000
        return RetrievalResult(
            chunks=chunks,
            policy_version=access.policy_version,
            access=access,
            dropped_by_recheck=dropped,
            timings_ms=timings,
        )

    def embed_query(self, query: str) -> npt.NDArray[np.float32]:
        key = hashlib.sha256(query.encode("utf-8")).hexdigest()
        vec = self._cache.get(key)
        if vec is None:
            vec = self._embedder.embed_query(query)
            self._cache.put(key, vec)
        return vec

    def _select(
        self,
        hits: Sequence[ScoredChunk],
        access: AccessFilter,
        *,
        top_k: int,
        per_doc: int,
        threshold: float | None,
    ) -> tuple[list[RetrievedChunk], int]:
        chosen: list[RetrievedChunk] = []
        per_document: dict[str, int] = {}
        dropped = 0
        for hit in hits:
            c = hit.chunk
            if not self._policy.can_read(access, source_id=c.source_id, read=c.read, deny=c.deny):
                dropped += 1
                log.error(
                    "policy inconsistency: chunk %s of %s passed the index filter but fails "
                    "the policy re-check (policy %s); dropped",
                    c.chunk_id,
                    c.document_id,
                    access.policy_version,
                )
                continue
            if threshold is not None and hit.score < threshold:
                continue
            if per_document.get(c.document_id, 0) >= per_doc:
                continue
            per_document[c.document_id] = per_document.get(c.document_id, 0) + 1
            allowed_by = tuple(sorted(p for p in c.read if p in access.holds))
            chosen.append(RetrievedChunk(hit=hit, rank=len(chosen) + 1, allowed_by=allowed_by))
            if len(chosen) >= top_k:
                break
        return chosen, dropped
