"""Shared text layout: whitespace normalisation, heading slugs, headings → sections.

Every format ends up here: a normalised text plus the headings found in it (each with the
offset where its section begins), turned into sections that tile the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.documents import Section

__all__ = [
    "HeadingMark",
    "Slugger",
    "TextAssembler",
    "collapse_spaces",
    "normalise_whitespace",
    "sections_from_headings",
]

_LINE_BREAKS = re.compile(r"\r\n?|[\f\v\x85\u2028\u2029]")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")
_INLINE_SPACE = re.compile(r"[ \t\n\r\f\v]+")
# GitHub's slugger keeps letters, digits, `_`, `-` and spaces (then spaces become `-`).
_SLUG_DROP = re.compile(r"[^\w\- ]")


def normalise_whitespace(text: str) -> str:
    """Unify newlines to `\\n`, strip trailing spaces, keep at most one blank line in a row."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _TRAILING_SPACE.sub("", text)
    return _EXTRA_BLANK_LINES.sub("\n\n", text).strip()


def collapse_spaces(text: str) -> str:
    """Inline text as a browser shows it: every whitespace run becomes one space."""
    return _INLINE_SPACE.sub(" ", text).strip()


class Slugger:
    """GitHub-style heading anchors, made unique within one document (`faq`, `faq-1`, ...)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def slug(self, heading: str) -> str:
        base = _SLUG_DROP.sub("", heading.strip().lower()).replace(" ", "-")
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"


@dataclass(frozen=True)
class HeadingMark:
    """A heading found in the normalised text; its section begins at `offset`."""

    level: int
    title: str
    offset: int
    anchor: str | None = None


def sections_from_headings(text: str, headings: Sequence[HeadingMark]) -> tuple[Section, ...]:
    """Sections that tile `text`: a preamble (if it holds text), then one per heading.

    `headings` must be in document order with strictly increasing offsets.
    """
    sections: list[Section] = []
    first = headings[0].offset if headings else len(text)
    if text[:first].strip():
        sections.append(Section(heading_path=(), start=0, end=first))
    stack: list[tuple[int, str]] = []
    for index, heading in enumerate(headings):
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        stack.append((heading.level, heading.title))
        end = headings[index + 1].offset if index + 1 < len(headings) else len(text)
        path = tuple(title for _, title in stack)
        sections.append(
            Section(heading_path=path, start=heading.offset, end=end, anchor=heading.anchor)
        )
    return tuple(sections)


class TextAssembler:
    """Builds a normalised text from extracted blocks, recording where headings begin.

    Paragraphs and headings are separated by a blank line; consecutive `line()` calls
    (list items, table rows) by a single newline until `end_group()`.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._in_group = False
        self._headings: list[HeadingMark] = []

    def paragraph(self, text: str) -> None:
        self._append(normalise_whitespace(text), separator="\n\n")
        self._in_group = False

    def line(self, text: str) -> None:
        """One line of a list or table; its indentation is kept."""
        text = _TRAILING_SPACE.sub("", _LINE_BREAKS.sub("\n", text)).rstrip()
        if text.strip():
            self._append(text, separator="\n" if self._in_group else "\n\n")
            self._in_group = True

    def end_group(self) -> None:
        self._in_group = False

    def heading(self, level: int, title: str, anchor: str | None = None) -> None:
        title = collapse_spaces(title)
        if not title:
            return
        self._in_group = False
        if self._append(title, separator="\n\n"):
            self._headings.append(HeadingMark(level, title, self._length - len(title), anchor))

    def build(self) -> tuple[str, tuple[Section, ...]]:
        text = "".join(self._parts)
        return text, sections_from_headings(text, self._headings)

    def _append(self, text: str, *, separator: str) -> bool:
        if not text:
            return False
        if self._parts:
            self._parts.append(separator)
            self._length += len(separator)
        self._parts.append(text)
        self._length += len(text)
        return True
