"""One binary document of the sample knowledge base: its path, metadata and blocks of content."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Block", "Doc"]

# A block is (kind, payload): ("h1"|"h2"|"h3"|"p"|"meta", str), ("ul"|"ol", list[str]),
# ("table", list[list[str]]) whose first row is the header.
Block = tuple[str, str | list[str] | list[list[str]]]


@dataclass(frozen=True)
class Doc:
    path: str  # relative to kb/
    title: str
    subject: str
    blocks: list[Block] = field(default_factory=list)
