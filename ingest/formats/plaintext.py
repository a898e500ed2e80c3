"""Plain text: the first short line is the title; underlined lines (`====`, `----`) are headings."""

from __future__ import annotations

import re

from ingest.documents import ParsedDocument
from ingest.formats.layout import HeadingMark, normalise_whitespace, sections_from_headings

__all__ = ["parse_plain_text"]

_UNDERLINE = re.compile(r"(={3,}|-{3,})[ \t]*")
_MAX_TITLE_CHARS = 100


def parse_plain_text(text: str, *, fallback_title: str) -> ParsedDocument:
    """Parse decoded plain text."""
    text = normalise_whitespace(text)
    first_line = text.split("\n", 1)[0].strip()
    title = first_line if 0 < len(first_line) < _MAX_TITLE_CHARS else fallback_title
    headings = _underlined_headings(text)
    return ParsedDocument(title=title, text=text, sections=sections_from_headings(text, headings))


def _underlined_headings(text: str) -> list[HeadingMark]:
    headings: list[HeadingMark] = []
    lines = text.split("\n")
    offset = 0
    previous: tuple[int, str] | None = None  # (offset, line) of the line above
    for line in lines:
        start, offset = offset, offset + len(line) + 1
        underline = _UNDERLINE.fullmatch(line)
        if underline and previous is not None and _can_be_heading(previous[1]):
            level = 1 if underline.group(1).startswith("=") else 2
            headings.append(HeadingMark(level, previous[1].strip(), previous[0]))
            previous = None
        else:
            previous = (start, line)
    return headings


def _can_be_heading(line: str) -> bool:
    stripped = line.strip()
    return 0 < len(stripped) < _MAX_TITLE_CHARS and _UNDERLINE.fullmatch(stripped) is None
