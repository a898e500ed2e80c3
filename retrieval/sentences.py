"""Sentence units of a chunk with exact character spans, and the terms they are compared by.

`sentence_units` cuts text into candidate answer sentences: Punkt (the NLTK model llama-index
bundles, never downloaded) inside runs of prose lines; each list item and each table row
(Markdown or fixed-width, shown with its header) is a unit of its own; headings, rules and
fragments are not candidates. `content_terms` gives stemmed content words (NLTK stop words and
Porter stemmer) for lexical overlap. Nothing here interprets the text: it is data.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.stem.porter import PorterStemmer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

__all__ = [
    "EvidenceSentence",
    "content_terms",
    "numbers_in",
    "punkt_splitter",
    "sentence_units",
]

_WORD = re.compile(r"[^\W_]+(?:['’.,:-][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+•]|\d{1,9}[.)])[ \t]+(?=\S)")
_HEADING = re.compile(r"[ \t]*#{1,6}(?:[ \t]|$)")
_TABLE_ROW = re.compile(r"[ \t]*\|")
_TABLE_RULE = re.compile(r"[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_FIXED_RULE = re.compile(r"[ \t]*-{3,}(?:[ \t]{1,}-{3,})+[ \t]*$")  # fixed-width columns
_UNDERLINE = re.compile(r"[ \t]*(?:={3,}|-{3,})[ \t]*$")
_EMPHASIS = re.compile(r"\*\*|__|`")
_MIN_WORDS = 3
# Question words and fillers that say nothing about the topic (on top of NLTK's stop words).
_EXTRA_STOP = frozenset((
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "many", "much",
    "name", "named", "mean", "means", "meaning", "called", "call", "does", "did", "do", "get",
    "got", "would", "could", "also", "please", "tell", "know", "want", "need", "like", "use",
    "used", "using", "can", "may", "might", "must", "shall", "should", "will",
))  # fmt: skip


@dataclass(frozen=True)
class EvidenceSentence:
    """One sentence unit of a chunk. `start`/`end` index `chunk.text`; `display` is the text an
    answer shows (whitespace collapsed, list marker and emphasis removed, a table row with its
    header); `context` is what a display outside the span rests on (a table's header row)."""

    start: int
    end: int
    display: str
    context: str = ""
    kind: str = "sentence"  # "sentence", "item", "row"
    block: int = -1  # the paragraph or list item it belongs to (-1: a table row)


def sentence_units(text: str, headings: Iterable[str] = ()) -> list[EvidenceSentence]:
    """The candidate answer sentences of a chunk, in order, with exact spans.

    Headings (Markdown `#`, underlined lines, a line equal to one of `headings`), table rules
    and header rows, and fragments of fewer than three words are not candidates. Each table row
    (Markdown or fixed-width) is a unit shown with its header; each list item is a unit run of
    its own (without its marker); runs of prose lines are cut into sentences with Punkt.
    """
    lines = _lines(text)
    kinds = _classify(text, lines)
    units = _table_rows(text, lines, kinds)
    skip = {_letters(h) for h in headings}
    for block, (start, end, marker) in enumerate(_runs(text, lines, kinds)):
        body_start = start + marker
        for first, last in punkt_splitter().span_tokenize(text[body_start:end]):
            span = _trim(text, body_start + first, body_start + last)
            display = _clean(text[span[0] : span[1]])
            if len(_WORD.findall(display)) < _MIN_WORDS or _letters(display) in skip:
                continue
            kind = "item" if marker else "sentence"
            units.append(EvidenceSentence(span[0], span[1], display, "", kind, block))
    units.sort(key=lambda u: u.start)
    return units


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _lines(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    for line in text.split("\n"):
        spans.append((position, position + len(line)))
        position += len(line) + 1
    return spans


def _classify(text: str, lines: list[tuple[int, int]]) -> list[str]:
    """Per line: blank, heading, rule, header, row, cont (a wrapped table row) or prose."""
    kinds = ["prose"] * len(lines)
    table: list[tuple[int, int]] | None = None  # column spans of the fixed-width table
    for i, (start, end) in enumerate(lines):
        line = text[start:end]
        following = text[lines[i + 1][0] : lines[i + 1][1]] if i + 1 < len(lines) else ""
        if not line.strip():
            kinds[i], table = "blank", None
        elif table is not None:
            first = line[table[0][0] : table[0][1]]
            kinds[i] = "cont" if not first.strip() and i > 0 else "row"
        elif _FIXED_RULE.match(line) and i > 0 and kinds[i - 1] == "prose":
            kinds[i - 1], kinds[i] = "header", "rule"
            table = [(m.start(), m.end()) for m in re.finditer(r"-+", line)]
        elif _UNDERLINE.match(line) and i > 0 and kinds[i - 1] in ("prose", "row"):
            kinds[i - 1], kinds[i] = "heading", "rule"
        elif _HEADING.match(line):
            kinds[i] = "heading"
        elif _TABLE_ROW.match(line):
            kinds[i] = "rule" if _TABLE_RULE.match(line) else "row"
            if kinds[i] == "row" and _TABLE_RULE.match(following):
                kinds[i] = "header"
    return kinds


def _table_rows(
    text: str, lines: list[tuple[int, int]], kinds: list[str]
) -> list[EvidenceSentence]:
    rows: list[EvidenceSentence] = []
    header: list[str] | None = None
    columns: list[tuple[int, int]] | None = None
    for i, (start, end) in enumerate(lines):
        kind, line = kinds[i], text[start:end]
        if kind == "rule" and i > 0 and kinds[i - 1] == "header":
            fixed = not _TABLE_ROW.match(line)
            columns = [(m.start(), m.end()) for m in re.finditer(r"-+", line)] if fixed else None
            header = _cells(text[lines[i - 1][0] : lines[i - 1][1]], columns)
        elif kind == "cont" and rows:
            previous = rows.pop()
            span = text[previous.start : end]
            cells = _cells(span, columns) if columns is None else _wrapped_cells(span, columns)
            rows.append(_row(previous.start, end, cells, header))
        elif kind == "row":
            rows.append(_row(start, end, _cells(line, columns), header))
        elif kind in ("blank", "heading"):
            header = columns = None
    return [r for r in rows if len(_WORD.findall(r.display)) >= 2]


def _row(start: int, end: int, cells: list[str], header: list[str] | None) -> EvidenceSentence:
    if header and len(header) == len(cells):
        display = "; ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=True))
    else:
        display = " | ".join(c for c in cells if c)
    return EvidenceSentence(start, end, display, " | ".join(header) if header else "", "row")


def _cells(line: str, columns: list[tuple[int, int]] | None) -> list[str]:
    if columns is None:
        return [_clean(cell) for cell in line.strip().strip("|").split("|")]
    bounds = [c[0] for c in columns[1:]] + [len(line) + 1]
    return [_clean(line[c[0] : bound]) for c, bound in zip(columns, bounds, strict=True)]


def _wrapped_cells(span: str, columns: list[tuple[int, int]]) -> list[str]:
    parts = [_cells(line, columns) for line in span.split("\n")]
    return [" ".join(p[i] for p in parts if p[i]) for i in range(len(columns))]


def _runs(
    text: str, lines: list[tuple[int, int]], kinds: list[str]
) -> Iterable[tuple[int, int, int]]:
    """(start, end, list-marker length) of runs of prose lines: anything but prose ends a run,
    and a list item starts one that its continuation lines extend."""
    current: list[int] | None = None
    for (start, end), kind in zip(lines, kinds, strict=True):
        if kind != "prose":
            if current is not None:
                yield current[0], current[1], current[2]
            current = None
            continue
        item = _LIST_ITEM.match(text[start:end])
        if current is None or item:
            if current is not None:
                yield current[0], current[1], current[2]
            current = [start, end, item.end() if item else 0]
        else:
            current[1] = end
    if current is not None:
        yield current[0], current[1], current[2]


def _clean(text: str) -> str:
    return " ".join(_EMPHASIS.sub("", text).split())


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def content_terms(text: str) -> list[str]:
    """Stemmed words of `text` without stop words and question words; numbers kept as written."""
    return [term for word in _WORD.findall(text) if (term := _term(word))]


@functools.lru_cache(maxsize=1 << 17)
def _term(word: str) -> str:
    """One word's content term, or "" for a stop word; memoised per word as written (the
    evidence of every request is cut into terms, and its words repeat)."""
    lower = word.casefold().rstrip(".,:")
    if lower in _stop_words() or lower in _EXTRA_STOP:
        return ""
    return lower if any(ch.isdigit() for ch in lower) else _stem(lower)


def numbers_in(text: str) -> set[str]:
    """The numbers written in `text`, with separators removed ("2,500" and "2500" match)."""
    return {re.sub(r"[.,:]", "", n) for n in _NUMBER.findall(text)}


@functools.cache
def _nltk_data() -> None:
    """Point NLTK at the data llama-index-core bundles (Punkt, stop words); never downloaded."""
    import nltk.data

    spec = importlib.util.find_spec("llama_index.core")
    if spec is not None and spec.origin is not None:
        bundled = str(Path(spec.origin).parent / "_static" / "nltk_cache")
        if bundled not in nltk.data.path:
            nltk.data.path.append(bundled)


@functools.cache
def punkt_splitter() -> PunktSentenceTokenizer:
    """English Punkt from the NLTK data llama-index-core bundles (loaded once, never downloaded);
    the chunker and the sentence units cut text with the same model."""
    _nltk_data()
    from nltk.tokenize.punkt import PunktTokenizer

    splitter: PunktSentenceTokenizer = PunktTokenizer("english")
    return splitter


@functools.cache
def _stop_words() -> frozenset[str]:
    _nltk_data()
    from nltk.corpus import stopwords

    return frozenset(stopwords.words("english"))


@functools.cache
def _stemmer() -> PorterStemmer:
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@functools.lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """Porter stem of a lower-cased word, memoised: the stemmer costs ~10 µs a word and a
    helpdesk vocabulary repeats."""
    stem: str = _stemmer().stem(word)
    return stem
