"""The data that flows through ingestion: fetched bytes → parsed text → chunk drafts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "DOC_TYPES",
    "AccessList",
    "ChunkDraft",
    "DocType",
    "FetchFailure",
    "FetchedDocument",
    "FrontMatterError",
    "ParseError",
    "ParsedDocument",
    "Section",
]

DocType = Literal["md", "txt", "html", "pdf", "docx"]
DOC_TYPES: tuple[DocType, ...] = ("md", "txt", "html", "pdf", "docx")


@dataclass(frozen=True)
class AccessList:
    """Who may read a document: `read` principals admit, `deny` principals exclude (deny wins)."""

    read: tuple[str, ...]
    deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchedDocument:
    """One document as a connector read it, before parsing."""

    source_id: str
    key: str  # stable within the source: relative POSIX path, or the normalised URL
    uri: str
    data: bytes
    doc_type: DocType
    modified_at: datetime | None = None
    # Access known before parsing (source default, folder rules, sidecar). `None` with
    # `access_error` set means it could not be resolved: the document must not be indexed.
    access: AccessList | None = None
    access_error: str | None = None


@dataclass(frozen=True)
class FetchFailure:
    """A document a connector could not read, with a reason a person can act on."""

    source_id: str
    key: str
    reason: str
    # failed: keep what is indexed; quarantined: must not be (or stay) indexed;
    # gone: the source says the document no longer exists (HTTP 404/410): delete it.
    kind: Literal["failed", "quarantined", "gone"] = "failed"


class ParseError(ValueError):
    """A document's bytes could not be turned into text (corrupt, binary, empty...)."""


class FrontMatterError(ParseError):
    """A Markdown document's front matter cannot be read: its access cannot be resolved."""


@dataclass(frozen=True)
class Section:
    """A span of the normalised text under one heading path."""

    heading_path: tuple[str, ...]
    start: int
    end: int
    anchor: str | None = None  # fragment for the URI (`#reset-your-password`), where one exists


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    text: str  # normalised text; every offset in the index points into it
    sections: tuple[Section, ...]
    front_matter: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before embedding. `text == document.text[start:end]` always holds."""

    ordinal: int
    start: int
    end: int
    text: str
    heading_path: tuple[str, ...]
    anchor: str | None
    embed_text: str  # what the embedder reads: title and headings, then the text
