"""Bounds on what parsing one document may inflate, produce or take, so a crafted file (a ZIP
or compression bomb, a page flood) is a reported failure instead of a stalled sync.

The time bound is checked between units of work (pages, paragraphs, tags); one unit is itself
bounded by the size limits, so it cannot run away.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from ingest.documents import ParseError

__all__ = ["ParseBudget", "ParseLimitError", "ParseLimits"]

_MIB = 1024 * 1024


class ParseLimits(BaseModel):
    """Per document (setting `ingest.parse_limits`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_uncompressed_bytes: int = Field(
        default=100 * _MIB,
        ge=1,
        description="DOCX: the parts of the ZIP, uncompressed, all together; PDF: one "
        "decompressed stream",
    )
    max_xml_bytes: int = Field(
        default=20 * _MIB,
        ge=1,
        description="DOCX: the XML parts (the text python-docx parses into a tree), uncompressed",
    )
    max_parts: int = Field(default=2000, ge=1, description="DOCX: entries in the ZIP archive")
    max_pages: int = Field(default=2000, ge=1, description="PDF: pages")
    max_elements: int = Field(default=500_000, ge=1, description="HTML: tags")
    max_chars: int = Field(
        default=5_000_000, ge=1, description="characters of text a document may produce"
    )
    max_seconds: float = Field(default=60.0, gt=0, description="time to parse one document")


class ParseLimitError(ParseError):
    """A document is over one of the parse limits: it is not indexed, and it is reported."""


class ParseBudget:
    """What one document's parse may still spend: characters produced, and time."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._deadline = time.monotonic() + limits.max_seconds
        self._chars = 0

    def spend(self, chars: int = 0) -> None:
        """Count `chars` more characters of output; raise when over a bound (or out of time)."""
        self._chars += chars
        if self._chars > self.limits.max_chars:
            raise ParseLimitError(
                f"over the parse limit: the text is longer than {self.limits.max_chars} "
                "characters (ingest.parse_limits.max_chars)"
            )
        if time.monotonic() > self._deadline:
            raise ParseLimitError(
                f"over the parse limit: parsing took longer than {self.limits.max_seconds:g} s "
                "(ingest.parse_limits.max_seconds)"
            )
