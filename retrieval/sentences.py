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
    "UNITS_VERSION",
    "EvidenceSentence",
    "content_terms",
    "numbers_in",
    "punkt_splitter",
    "sentence_units",
]

# Changes whenever `sentence_units` cuts the same text differently: stored units (see
# retrieval.sentence_vectors) are keyed by it, so an upgrade cuts every chunk again on first use.
# 2: heading and metadata lines no longer run into the next sentence; space-separated tables.
# 3: a list item carries the label line above its list ("**macOS**") as its context.
# 4: a span starting in lower case goes on the sentence before it; a fragment of fewer than
#    three words is joined to the sentence after it instead of dropped.
UNITS_VERSION = "4"

_WORD = re.compile(r"[^\W_]+(?:['’.,:-][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+•]|\d{1,9}[.)])[ \t]+(?=\S)")
_HEADING = re.compile(r"[ \t]*#{1,6}(?:[ \t]|$)")
_TABLE_ROW = re.compile(r"[ \t]*\|")
_TABLE_RULE = re.compile(r"[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_FIXED_RULE = re.compile(r"[ \t]*-{3,}(?:[ \t]{1,}-{3,})+[ \t]*$")  # fixed-width columns
_UNDERLINE = re.compile(r"[ \t]*(?:={3,}|-{3,})[ \t]*$")
_EMPHASIS = re.compile(r"\*\*|__|`")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)([^*_\n]+?)(?<=\S)\1(?![\w*])")  # *text*, _text_
# A document's metadata line: two or more "Label: value" fields joined by " - ", " · " or " | "
# ("Owner: VP Finance - Audience: Finance team - Issued: 2 March 2026"), and the wrapped rest of
# one (a line that goes on with " - Label: value").
_LABEL = r"[A-Z][\w()/&'’ -]{0,30}:[ \t]+\S"
_FIELD_SEPARATOR = r"[ \t]+[-–·|•][ \t]+"
_FIELD_LINE = re.compile(rf"[ \t]*{_LABEL}.*?{_FIELD_SEPARATOR}{_LABEL}")
_FIELD_REST = re.compile(rf"{_FIELD_SEPARATOR}{_LABEL}")
_MIN_WORDS = 3
# A line ending before _WRAP_SLACK of the longest prose line (taken as at least _MIN_WRAP_WIDTH:
# a chunk of short lines only is a table or a list), where the next word would have fit, ended
# on purpose.
_WRAP_SLACK = 0.85
_MIN_WRAP_WIDTH = 72
_MAX_TERM_WORDS = 4  # a definition's term line ("NW-Guest", "Primary caregiver")
_CONTINUES = frozenset(",;:-–—(/&")
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
    header); `context` is what a display outside the span rests on (a table's header row, the
    label line above a list item: "macOS")."""

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
    its own (without its marker), and so is a metadata line of "Label: value" fields; runs of
    prose lines are cut into sentences with Punkt. A heading line never runs into the sentence
    after it, even where the format kept no blank line between them (PDF text).
    """
    skip = {_letters(h) for h in headings} - {""}
    lines = _lines(text)
    kinds = _classify(text, lines, skip)
    width = max((e - s for (s, e), k in zip(lines, kinds, strict=True) if k == "prose"), default=0)
    units = _table_rows(text, lines, kinds) + _spaced_table_rows(text, lines, kinds, width)
    headings_at = [s for (s, _), k in zip(lines, kinds, strict=True) if k == "heading"]
    label, previous_end = "", 0
    for block, (start, end, marker) in enumerate(_runs(text, lines, kinds, width)):
        if any(previous_end <= h < start for h in headings_at):
            label = ""  # a label holds for the lists after it, up to the next heading
        previous_end = end
        if not marker:
            label = _label(text[start:end])
            if label:
                continue
        body_start = start + marker
        spans = [
            _trim(text, body_start + first, body_start + last)
            for first, last in punkt_splitter().span_tokenize(text[body_start:end])
        ]
        for span in _whole_sentences(text, spans, skip):
            at_line_start = span[0] == 0 or text[span[0] - 1] == "\n"
            display = _display(text[span[0] : span[1]], term=at_line_start)
            if len(_WORD.findall(display)) < _MIN_WORDS or _letters(display) in skip:
                continue
            kind, context = ("item", label) if marker else ("sentence", "")
            units.append(EvidenceSentence(span[0], span[1], display, context, kind, block))
    units.sort(key=lambda u: u.start)
    return units


def _whole_sentences(
    text: str, spans: list[tuple[int, int]], skip: set[str]
) -> list[tuple[int, int]]:
    """Punkt's spans of one run, mended where a cut leaves a part no reader can use alone:
    a span that starts in lower case goes on the sentence before it ("click Forgot password?
    on the sign-in page." is one sentence), and a fragment of fewer than `_MIN_WORDS` words is
    joined to the sentence after it (an FAQ answer "NW-Guest. The daily access code is on the
    reception screens." keeps its answer); one that ends the run ("Done.") is dropped."""
    mended: list[tuple[int, int]] = []
    for start, end in spans:
        first = _WORD.search(text, start, end)
        if mended and first is not None and first.group()[0].islower():
            mended[-1] = (mended[-1][0], end)
        else:
            mended.append((start, end))
    out: list[tuple[int, int]] = []
    pending: int | None = None  # where a fragment waiting for the next sentence starts
    for start, end in mended:
        words = len(_WORD.findall(text[start:end]))
        if pending is not None:
            out.append((pending, end))
            pending = None
        elif words < _MIN_WORDS and _letters(text[start:end]) not in skip:
            pending = start
        else:
            out.append((start, end))
    return out  # a fragment that ends the run ("Done.") is dropped


def _label(run: str) -> str:
    """The label a one-line run gives the lists after it ("**macOS**", "On Windows:"): a few
    words, emphasised or ending in a colon; "" for anything else."""
    line = run.strip()
    words = _clean(line).rstrip(":").split()
    emphasised = bool(re.fullmatch(r"(\*\*|__)[^*_\n]+\1:?", line))
    if "\n" in line or not words or len(words) > _MAX_TERM_WORDS:
        return ""
    return " ".join(words) if emphasised or line.endswith(":") else ""


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _lines(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    for line in text.split("\n"):
        spans.append((position, position + len(line)))
        position += len(line) + 1
    return spans


def _classify(text: str, lines: list[tuple[int, int]], headings: set[str]) -> list[str]:
    """Per line: blank, heading, rule, header, row, cont (a wrapped table row), field (a
    metadata line) or prose. A line equal to one of `headings` (letters only) is a heading."""
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
        elif _HEADING.match(line) or _letters(line) in headings:
            kinds[i] = "heading"
        elif _FIELD_LINE.match(line) or (
            i > 0 and kinds[i - 1] == "field" and _FIELD_REST.search(line)
        ):
            kinds[i] = "field"
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


def _spaced_table_rows(
    text: str, lines: list[tuple[int, int]], kinds: list[str], width: int
) -> list[EvidenceSentence]:
    """Rows of a table whose columns only spaces separate (a PDF's text layer): a header line
    of 2+ words without digits, then 2+ rows, each a prose line ended on purpose. Rows with as
    many words as the header are shown cell by cell ("Level: L3; Minimum: $118,000"); rows
    that each hold a figure and end without a full stop are shown as written, their header as
    context. The header is no candidate; the lines become "table"."""
    rows: list[EvidenceSentence] = []
    i = 0
    while i < len(lines):
        header = text[lines[i][0] : lines[i][1]].split()
        found = _spaced_rows(text, lines, kinds, width, i) if len(header) >= 2 else []
        if len(found) < 2 or any(ch.isdigit() for ch in "".join(header)):
            i += 1
            continue
        cellwise = all(len(text[a:b].split()) == len(header) for a, b in found)
        context = " | ".join(header) if cellwise else " ".join(header)
        for start, end in found:
            cells = text[start:end].split()
            display = (
                "; ".join(f"{h}: {c}" for h, c in zip(header, cells, strict=True))
                if cellwise
                else _clean(text[start:end])
            )
            rows.append(EvidenceSentence(*_trim(text, start, end), display, context, "row"))
        last = i + len(found)
        kinds[i : last + 1] = ["table"] * (last + 1 - i)
        i = last + 1
    return rows


def _spaced_rows(
    text: str, lines: list[tuple[int, int]], kinds: list[str], width: int, header: int
) -> list[tuple[int, int]]:
    """The row lines under the header line `header`: all with its word count, or all holding
    a figure and ending without sentence punctuation."""
    size = len(text[lines[header][0] : lines[header][1]].split())
    same: list[tuple[int, int]] = []
    figures: list[tuple[int, int]] = []
    j = header
    while j + 1 < len(lines) and kinds[header] == kinds[j + 1] == "prose":
        line, following = (text[a:b] for a, b in (lines[j], lines[j + 1]))
        if not _hard_break(line, following, width):
            break
        words = following.split()
        same_ok = len(same) == j - header and len(words) == size
        figure_ok = len(figures) == j - header and _is_figure_row(following)
        if not (same_ok or figure_ok):
            break
        if same_ok:
            same.append(lines[j + 1])
        if figure_ok:
            figures.append(lines[j + 1])
        j += 1
    return same if len(same) >= len(figures) else figures


def _is_figure_row(line: str) -> bool:
    stripped = line.strip()
    return any(ch.isdigit() for ch in stripped) and stripped[-1:] not in ".!?:;"


def _runs(
    text: str, lines: list[tuple[int, int]], kinds: list[str], width: int
) -> Iterable[tuple[int, int, int]]:
    """(start, end, list-marker length) of runs of prose lines: anything but prose ends a run,
    and a list item starts one that its continuation lines extend. A metadata line (with its
    wrapped rest) is a run of its own, and so is a line that ended where it did on purpose
    (`_hard_break`: a PDF's heading or table row, kept without a blank line after it)."""
    current: list[int] | None = None
    previous = ""
    for i, ((start, end), kind) in enumerate(zip(lines, kinds, strict=True)):
        if kind not in ("prose", "field"):
            if current is not None:
                yield current[0], current[1], current[2]
            current, previous = None, kind
            continue
        item = _LIST_ITEM.match(text[start:end]) if kind == "prose" else None
        broken = (
            kind == "prose"
            and previous == "prose"
            and _hard_break(text[lines[i - 1][0] : lines[i - 1][1]], text[start:end], width)
        )
        if current is None or item or kind != previous or broken:
            if current is not None:
                yield current[0], current[1], current[2]
            current = [start, end, item.end() if item else 0]
        else:
            current[1] = end
        previous = kind
    if current is not None:
        yield current[0], current[1], current[2]


def _hard_break(line: str, following: str, width: int) -> bool:
    """Whether `line` ended on purpose rather than wrapped: the first word of `following` would
    have fitted on it (with room to spare for a proportional font), `line` does not end in the
    middle of a clause, and `following` starts as a new unit does (capital, digit, symbol)."""
    if _indent(following) > _indent(line):  # a definition under its term, a hanging indent
        return False
    line, following = line.rstrip(), following.strip()
    if not line or not following or line[-1] in _CONTINUES:
        return False
    if not (following[0].isupper() or following[0].isdigit() or following[0] in "$€£(\"'“"):
        return False
    room = _WRAP_SLACK * max(width, _MIN_WRAP_WIDTH)
    return len(line) + 1 + len(following.split()[0]) < room


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _display(text: str, *, term: bool) -> str:
    """A unit as an answer shows it; with `term` (the unit starts a line), a definition's term
    line is joined to its indented text by a colon ("NW-Guest: For visitors ...")."""
    first, newline, rest = text.partition("\n")
    if (
        term
        and newline
        and _indent(rest) > _indent(first)
        and len(first.split()) <= _MAX_TERM_WORDS
        and first.rstrip()[-1:].isalnum()
    ):
        return f"{_clean(first)}: {_clean(rest)}"
    return _clean(text)


def _clean(text: str) -> str:
    return _ITALIC.sub(r"\2", " ".join(_EMPHASIS.sub("", text).split()))


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
