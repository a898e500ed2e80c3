"""Page furniture: running headers, running footers and page numbers, removed from page texts.

A PDF's text layer repeats them on every page ("Northwind Labs - Salary bands 2026 - page 2");
indexed, they become chunks and quotes that cite nothing. A line is furniture when it sits among
the first or last lines of a page and either
- reads the same on most pages once its numbers are ignored (a running header or footer), or
- is a page number ("3", "Page 3", "3 of 12", "- 3 -") or ends with this page's number
  ("Salary bands 2026 - page 2").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["strip_page_furniture"]

_EDGE_LINES = 3  # lines at the top and at the bottom of a page that may be furniture
_MAX_FURNITURE_CHARS = 160
_NUMBER = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_PAGE_WORD = r"(?:page|pg\.?|p\.|seite|página|pagina)"
# A page number alone on its line: 3, Page 3, page 3 of 12, 3 / 12, - 3 -, [3]
_PAGE_NUMBER_LINE = re.compile(
    rf"[\s\-–—\[(]*(?:{_PAGE_WORD}\s*)?(?P<n>\d{{1,4}})(?:\s*(?:of|/|von|de)\s*\d{{1,4}})?"
    r"[\s\-–—\])]*",
    re.IGNORECASE,
)
# "... - page 2", "... | Page 2 of 5" at the end of a longer line
_ENDS_WITH_PAGE = re.compile(
    rf"(?:^|[\s\-–—|·•,])\s*{_PAGE_WORD}\s*(?P<n>\d{{1,4}})(?:\s*(?:of|/)\s*\d{{1,4}})?\s*$",
    re.IGNORECASE,
)


def strip_page_furniture(pages: Sequence[str]) -> list[str]:
    """`pages` without their running headers, footers and page-number lines."""
    lines = [page.split("\n") for page in pages]
    edges = [_edge_indexes(page_lines) for page_lines in lines]
    seen_on: Counter[str] = Counter()
    for page_lines, indexes in zip(lines, edges, strict=True):
        seen_on.update({_key(page_lines[i]) for i in indexes if _key(page_lines[i])})
    repeated = {key for key, count in seen_on.items() if count >= 2 and count * 2 > len(pages)}
    stripped: list[str] = []
    for number, (page_lines, indexes) in enumerate(zip(lines, edges, strict=True), start=1):
        furniture = {
            i
            for i in indexes
            if _key(page_lines[i]) in repeated or _is_page_number(page_lines[i], number)
        }
        kept = [line for i, line in enumerate(page_lines) if i not in furniture]
        if not any(line.strip() for line in kept):
            furniture = set()  # a page of nothing but its repeated line: that line is the text
        stripped.append("\n".join(kept).strip("\n") if furniture else pages[number - 1])
    return stripped


def _edge_indexes(page_lines: list[str]) -> list[int]:
    """Indexes of the first and last `_EDGE_LINES` non-blank lines of a page."""
    filled = [i for i, line in enumerate(page_lines) if line.strip()]
    return sorted(set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]))


def _key(line: str) -> str:
    """A line as compared across pages: spaces collapsed, case folded, numbers ignored."""
    text = _SPACES.sub(" ", line).strip()
    if len(text) > _MAX_FURNITURE_CHARS or not any(ch.isalpha() for ch in text):
        return ""  # a number alone is judged as a page number, never by repetition
    return _NUMBER.sub("#", text.casefold())


def _is_page_number(line: str, number: int) -> bool:
    text = line.strip()
    if not text or len(text) > _MAX_FURNITURE_CHARS:
        return False
    alone = _PAGE_NUMBER_LINE.fullmatch(text)
    if alone is not None:
        # a bare number is a page number only when it is this page's
        has_word = not text.strip(" -–—[]()").isdigit()
        return has_word or int(alone.group("n")) == number
    ending = _ENDS_WITH_PAGE.search(text)
    return ending is not None and int(ending.group("n")) == number
