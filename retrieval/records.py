"""What the index holds per chunk, and what a search returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "CHUNK_ID_NAMESPACE",
    "ChunkRecord",
    "ScoredChunk",
    "SearchFilters",
    "chunk_id_for",
]

CHUNK_ID_NAMESPACE = uuid.UUID("6f1d9a4e-4f7a-4c55-9f0e-2b8f1c3d7a10")


def chunk_id_for(document_id: str, ordinal: int, content_hash: str) -> str:
    """A stable chunk id: the same document, position and content give the same id on every run.

    Including the content hash means an edited chunk gets a new id, so the new version can be
    written before the old one is deleted (no moment where a query sees neither).
    """
    return str(uuid.uuid5(CHUNK_ID_NAMESPACE, f"{document_id}|{ordinal}|{content_hash}"))


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk as stored: its text, where it came from, and who may read it."""

    chunk_id: str
    document_id: str
    source_id: str
    title: str
    heading_path: tuple[str, ...]
    uri: str
    start: int  # character offsets into the document's normalised text
    end: int
    text: str
    content_hash: str  # of `text`
    document_version: str  # content hash of the document's normalised text
    read: tuple[str, ...]
    deny: tuple[str, ...]
    doc_type: str  # "md", "txt", "html", "pdf", "docx"
    ordinal: int
    pii_found: bool = False
    injection_suspected: bool = False
    modified_at: datetime | None = None
    indexed_at: datetime | None = None


@dataclass(frozen=True)
class SearchFilters:
    """Optional narrowing of a search, on top of the access filter."""

    source_ids: frozenset[str] | None = None
    doc_types: frozenset[str] | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    document_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class ScoredChunk:
    chunk: ChunkRecord
    score: float
    channel_scores: dict[Literal["dense", "sparse", "fused"], float] = field(default_factory=dict)
