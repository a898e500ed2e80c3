"""Choose and open the vector store backend from settings (the composition root calls this)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, model_validator

from retrieval.schema import DEFAULT_FULL_SCAN_THRESHOLD_KB, IdfScope, PayloadMemory
from retrieval.store import VectorStore

__all__ = ["EdgeStoreSettings", "ServerStoreSettings", "StoreSettings", "open_store"]


class _StoreCommon(BaseModel):
    """Search and write settings both backends take."""

    model_config = ConfigDict(extra="forbid")

    hnsw_ef: int | None = Field(
        default=None,
        ge=1,
        description="HNSW search breadth; None: the engine's default",
    )
    exact: bool = Field(default=False, description="Exhaustive search, never the HNSW graph")
    acorn: bool = Field(
        default=False,
        description="Filtered searches that walk the HNSW graph use ACORN (two-hop neighbours "
        "past the points the filter rejects): faster than the exact scan, but its top hits "
        "do not always agree with it (figures in docs/benchmarks.md). Off: exact scan up to "
        "the threshold",
    )
    bm25_idf: IdfScope = Field(
        default="visible",
        description="BM25 IDF over the chunks the caller may see (no side channel from hidden "
        "ones; it evaluates the access filter once more, see docs/benchmarks.md) or over the "
        "whole collection",
    )
    upsert_batch_size: int = Field(default=256, ge=1, le=10_000)
    scroll_page_size: int = Field(default=1000, ge=1, le=100_000)


class EdgeStoreSettings(_StoreCommon):
    """`store.backend: edge` (the default): Qdrant Edge in-process at `path`, one process at a
    time."""

    backend: Literal["edge"] = "edge"
    path: Path = Field(default=Path(".proofdesk/index"), description="Edge shard directory")
    full_scan_threshold_kb: int | None = Field(
        default=DEFAULT_FULL_SCAN_THRESHOLD_KB,
        ge=1,
        description="a filter admitting fewer vectors than this (in KB) is searched "
        "exhaustively over the admitted points instead of through the HNSW graph; applies when "
        "the index is created. None: the engine's default (10,000 KB)",
    )
    payload_memory: PayloadMemory = Field(
        default="cached",
        description="'cached' keeps payloads (chunk text, access lists) in RAM, which makes "
        "reading a search's hits faster (figures in docs/benchmarks.md); 'cold' reads them "
        "from the files on demand",
    )
    indexing_threshold_kb: int | None = Field(
        default=None,
        ge=1,
        description="segment size (KB) above which optimize() builds HNSW; None: keep",
    )


class ServerStoreSettings(_StoreCommon):
    """`store.backend: server`: a Qdrant server at `url`, or with `local_mode` qdrant-client's
    local mode at `path` (tests and tiny indexes only: it scans in Python)."""

    backend: Literal["server"]
    url: str | None = Field(default=None, description="Qdrant server URL")
    api_key: SecretStr | None = None
    collection: str = Field(default="proofdesk", min_length=1, description="Collection name")
    local_mode: bool = Field(
        default=False, description="without a server: qdrant-client local mode at `path`"
    )
    path: Path = Field(default=Path(".proofdesk/index"), description="the local-mode folder")
    timeout: int = Field(default=30, ge=1, description="Seconds per server request")

    @model_validator(mode="after")
    def _needs_a_target(self) -> Self:
        if not self.local_mode and not self.url:
            raise ValueError("backend 'server' needs a url (or local_mode=true)")
        if self.local_mode and self.url:
            raise ValueError("give either url or local_mode=true, not both")
        return self


def _backend(value: object) -> str:
    """The union's tag: `backend`, which defaults to edge when a settings file leaves it out."""
    if isinstance(value, dict):
        return str(value.get("backend", "edge"))
    return str(getattr(value, "backend", "edge"))


# Where the index lives: the backend decides which settings exist (an Edge-only setting under
# `backend: server` is an error, not silently ignored).
StoreSettings = Annotated[
    Annotated[EdgeStoreSettings, Tag("edge")] | Annotated[ServerStoreSettings, Tag("server")],
    Discriminator(_backend),
]


def open_store(settings: StoreSettings, *, dimension: int) -> VectorStore:
    """Open (creating if missing) the index described by `settings` for `dimension`-dim vectors.

    Raises `StoreLockedError` when an Edge index is held by another process, and `StoreError`
    when the existing index does not fit the schema (for example another dimension).
    """
    if isinstance(settings, EdgeStoreSettings):
        from retrieval.edge_store import EdgeStore

        return EdgeStore(
            path=settings.path,
            dimension=dimension,
            hnsw_ef=settings.hnsw_ef,
            exact=settings.exact,
            acorn=settings.acorn,
            bm25_idf=settings.bm25_idf,
            payload_memory=settings.payload_memory,
            indexing_threshold_kb=settings.indexing_threshold_kb,
            full_scan_threshold_kb=settings.full_scan_threshold_kb,
            upsert_batch_size=settings.upsert_batch_size,
            scroll_page_size=settings.scroll_page_size,
        )
    from retrieval.server_store import ServerStore

    return ServerStore(
        collection=settings.collection,
        dimension=dimension,
        url=None if settings.local_mode else settings.url,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        path=settings.path if settings.local_mode else None,
        timeout=settings.timeout,
        hnsw_ef=settings.hnsw_ef,
        exact=settings.exact,
        acorn=settings.acorn,
        bm25_idf=settings.bm25_idf,
        upsert_batch_size=settings.upsert_batch_size,
        scroll_page_size=settings.scroll_page_size,
    )
