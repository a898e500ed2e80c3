"""Where a text is cut for analysis: citation seams (each part analysed and cached on its own)
and overlapping windows (bounded memory per spaCy call)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["citation_segments", "stored_segments", "windows"]

# Texts longer than this are analysed in overlapping windows (bounded memory per spaCy call).
_WINDOW_CHARS = 100_000
_WINDOW_OVERLAP = 5_000  # longer than a 4096-bit PEM private key
# Citation markers ("[2]", "[1][3]", "[1, 2]") with the punctuation after them: the seams of an
# answer composed of cited sentences. The text between two seams is analysed, and cached, on
# its own, so a sentence cited again in another answer costs a lookup. A marker glued to a word
# ("pass[1]" may be a value) is no seam; what links values across seams (a name repeated in a
# later sentence) is applied afterwards to the whole text.
_CITATION_SEAM = re.compile(
    r"(?:^|(?<=[\s.,;:!?)\"'’”]))[ \t]*(?:\[\d{1,3}(?:,[ \t]*\d{1,3})*\])+[.,;:!?]?(?=\s|$)"
)


def stored_segments(texts: Iterable[str]) -> dict[str, None]:
    """The distinct segments of `texts` whose findings are stored (and looked up), in order."""
    return {text[a:b]: None for text in texts if text.strip() for a, b in citation_segments(text)}


def citation_segments(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of the parts of `text` between citation seams, blanks trimmed off."""
    cursor = 0
    for seam in _CITATION_SEAM.finditer(text):
        yield from _trimmed(text, cursor, seam.start())
        cursor = seam.end()
    yield from _trimmed(text, cursor, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return ((start, end),) if start < end else ()


def windows(text: str) -> Iterator[tuple[int, str]]:
    """(offset, window) pairs covering `text`; windows overlap so no value is cut in two."""
    if len(text) <= _WINDOW_CHARS:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(start + _WINDOW_CHARS, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + _WINDOW_CHARS // 2, end)
            end = cut if cut > 0 else end
        yield start, text[start:end]
        if end >= len(text):
            return
        start = max(end - _WINDOW_OVERLAP, start + 1)
