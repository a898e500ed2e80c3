"""Structure-aware chunking, sized by the embedding model's own tokenizer.

A chunk never crosses a section boundary. Within a section the text is cut into sentences
(NLTK Punkt, plus blank lines, list items, table rows and heading lines as boundaries) and
consecutive sentences are packed up to a target size, with a little overlap. What the embedder
reads is the title and heading path, then the chunk text; that whole string is guaranteed to
fit the model (`max_tokens`), checked with the real tokenizer before a chunk is returned.

Why not llama-index's `SentenceSplitter`/`MarkdownNodeParser`: they find a chunk's offsets by
searching for its text (wrong for repeated passages), do not count the title/heading prefix
against the model's limit, and do not keep every chunk inside one section. Punkt (the same
sentence model they use) and the model's tokenizer do the language work here.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TYPE_CHECKING

from ingest.documents import ChunkDraft, ParsedDocument, Section
from retrieval.embedding.embedder import TokenCounter
from retrieval.sentences import punkt_splitter

if TYPE_CHECKING:
    pass

__all__ = ["Chunker"]

_TINY_TOKENS = 20  # a trailing piece smaller than this joins the previous chunk if it fits
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+•]|\d{1,9}[.)])[ \t]+(?=\S)")
_TABLE_ROW = re.compile(r"[ \t]*\||.*[^ \t] \| ")
_STANDALONE_LINE = re.compile(rf"[ \t]*#{{1,6}}(?:[ \t]|$)|{_TABLE_ROW.pattern}")  # heading, row
_SENTENCE_END = re.compile(r"[.?!]")
_UNDERLINE = re.compile(r"[ \t]*(?:={3,}|-{3,})[ \t]*$")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    section: int  # index into the document's sections


@dataclass(frozen=True)
class _Pieces:
    """The document's word pieces, as sorted start and end offsets."""

    starts: list[int]
    ends: list[int]

    def count(self, start: int, end: int) -> int:
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)

    def index(self, offset: int) -> int:
        return bisect_left(self.starts, offset)


class Chunker:
    """Cuts parsed documents into chunks whose embedding input fits the model."""

    def __init__(
        self,
        *,
        tokens: TokenCounter,
        target_tokens: int = 200,
        max_tokens: int | None = None,
        overlap_sentences: int = 1,
    ) -> None:
        limit = tokens.max_tokens if max_tokens is None else max_tokens
        if limit < 8:
            raise ValueError(f"max_tokens must be at least 8, got {limit}")
        if target_tokens < 1:
            raise ValueError(f"target_tokens must be at least 1, got {target_tokens}")
        if overlap_sentences < 0:
            raise ValueError(f"overlap_sentences must be >= 0, got {overlap_sentences}")
        self._tokens = tokens
        self._target = min(target_tokens, limit)  # a target above the limit means "the limit"
        self._max = limit
        self._overlap = overlap_sentences
        self._tiny = min(_TINY_TOKENS, self._target // 4)
        self._sentences = punkt_splitter()

    def chunk(self, document: ParsedDocument) -> list[ChunkDraft]:
        """Chunks in document order, ordinals 0..n-1; `[]` for a document without text."""
        text = document.text
        if not text.strip():
            return []
        if not document.sections:  # not produced by our parsers; read it as one section
            document = replace(document, sections=(Section((), 0, len(text)),))
        spans = self._tokens.token_spans(text)
        pieces = _Pieces([start for start, _ in spans], [end for _, end in spans])
        labels = self._labels(document)
        candidates: list[_Span] = []
        for index, section in enumerate(document.sections):
            if _is_heading_only(text, section):
                continue
            budget = self._max - labels[index][1]
            candidates += (
                _Span(start, end, index) for start, end in self._pack(text, section, pieces, budget)
            )
        return [
            ChunkDraft(
                ordinal=ordinal,
                start=span.start,
                end=span.end,
                text=text[span.start : span.end],
                heading_path=document.sections[span.section].heading_path,
                anchor=document.sections[span.section].anchor,
                embed_text=_embed_text(labels[span.section][0], text[span.start : span.end]),
            )
            for ordinal, span in enumerate(self._fit(text, candidates, labels, pieces))
        ]

    def embed_texts(self, chunks: Sequence[tuple[str, tuple[str, ...], str]]) -> list[str]:
        """What `chunk` gave the embedder for chunks of these (document title, heading path,
        text): the state pruner recomputes it to tell which cached embeddings are still used."""
        labels = self._fit_labels([_label(title, headings) for title, headings, _ in chunks])
        return [
            _embed_text(label, text)
            for (label, _), (_, _, text) in zip(labels, chunks, strict=True)
        ]

    def _labels(self, document: ParsedDocument) -> list[tuple[str, int]]:
        """Per section, the title/heading prefix and its token count (at most a quarter)."""
        return self._fit_labels(
            [_label(document.title, section.heading_path) for section in document.sections]
        )

    def _fit_labels(self, raw: list[str]) -> list[tuple[str, int]]:
        unique = list(dict.fromkeys(raw))
        fitted: dict[str, tuple[str, int]] = {}
        for label, count in zip(unique, self._tokens.count(unique), strict=True):
            fitted[label] = (label, count) if count <= self._max // 4 else self._shorten(label)
        return [fitted[label] for label in raw]

    def _shorten(self, label: str) -> tuple[str, int]:
        limit = self._max // 4
        spans = self._tokens.token_spans(label)
        for keep in range(min(limit - 1, len(spans)), 0, -1):
            shortened = label[: spans[keep - 1][1]].rstrip() + "…"
            count = self._tokens.count([shortened])[0]
            if count <= limit:
                return shortened, count
        return "", 0

    def _pack(
        self, text: str, section: Section, pieces: _Pieces, budget: int
    ) -> list[tuple[int, int]]:
        """Chunk spans of one section: sentences packed up to the target, with overlap."""
        units: list[tuple[int, int]] = []
        for start, end in self._sentence_spans(text, section.start, section.end):
            if pieces.count(start, end) <= budget:
                units.append((start, end))
            else:
                units += _split_long(text, start, end, pieces, budget)
        counts = [pieces.count(start, end) for start, end in units]
        # A table row is not repeated as the next chunk's overlap: there, cut from its header
        # row, it would be a line of bare cells ("December | Tuesday 15 December | ...").
        repeatable = [_TABLE_ROW.match(text, start) is None for start, _ in units]
        target = min(self._target, budget)
        return [
            (units[first][0], units[last - 1][1])
            for first, last in _pack_ranges(
                counts, target, budget, self._overlap, self._tiny, repeatable=repeatable
            )
        ]

    def _sentence_spans(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        sentences: list[tuple[int, int]] = []
        for group_start, group_end, marker in _line_groups(text, start, end):
            body_start = group_start + marker
            body = text[body_start:group_end]
            if _SENTENCE_END.search(body, 0, len(body.rstrip()) - 1) is None:
                # Punkt only breaks after `.`, `?` or `!`: a body with none before its end
                # is one sentence (most list items and short lines), so skip the tokenizer.
                found: list[tuple[int, int]] = [(0, len(body))]
            else:
                found = list(self._sentences.span_tokenize(body))
            for index, (first, last) in enumerate(found):
                # A list marker belongs to the item's first sentence ("1." is no sentence).
                span_start = group_start if index == 0 else body_start + first
                span = _trim(text, span_start, body_start + last)
                if span[0] < span[1]:
                    sentences.append(span)
        return sentences

    def _fit(
        self, text: str, spans: list[_Span], labels: list[tuple[str, int]], pieces: _Pieces
    ) -> list[_Span]:
        """Check every embedding input with the tokenizer; halve the (rare) ones too long."""
        accepted: list[_Span] = []
        pending = spans
        while pending:
            inputs = [_embed_text(labels[s.section][0], text[s.start : s.end]) for s in pending]
            retry: list[_Span] = []
            for span, count in zip(pending, self._tokens.count(inputs), strict=True):
                if count <= self._max:
                    accepted.append(span)
                else:
                    retry += _halve(text, span, pieces)
            pending = retry
        return sorted(accepted, key=lambda span: (span.start, span.end))


def _label(title: str, heading_path: tuple[str, ...]) -> str:
    """`Title — Heading › Subheading`; a first heading that repeats the title is left out."""
    title = " ".join(title.split())
    headings = [" ".join(heading.split()) for heading in heading_path]
    if headings and headings[0].casefold() == title.casefold():
        headings = headings[1:]
    crumbs = " › ".join(headings)
    return f"{title} — {crumbs}" if title and crumbs else title or crumbs


def _embed_text(label: str, text: str) -> str:
    return f"{label}\n{text}" if label else text


def _is_heading_only(text: str, section: Section) -> bool:
    """A section holding nothing but its heading line gives no chunk of its own."""
    if not section.heading_path or section.end - section.start > 4 * len(section.heading_path[-1]):
        return False
    return _letters(text[section.start : section.end]) == _letters(section.heading_path[-1])


def _letters(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without leading and trailing whitespace (possibly empty)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _line_groups(text: str, start: int, end: int) -> list[tuple[int, int, int]]:
    """(start, end, list-marker length) of runs of lines that may hold running sentences.

    Blank lines end a run; each list item starts one (its wrapped lines continue it); a
    heading line or table row is a run of its own; an underline (`====`) ends its heading.
    """
    groups: list[list[int]] = []
    extendable = False  # may the next line continue the last group?
    position = start
    while position < end:
        newline = text.find("\n", position, end)
        line_end = end if newline == -1 else newline
        line = text[position:line_end]
        item = _LIST_ITEM.match(line)
        if not line.strip():
            extendable = False
        elif extendable and _UNDERLINE.match(line):
            groups[-1][1] = line_end
            extendable = False
        elif item or _STANDALONE_LINE.match(line):
            groups.append([position, line_end, item.end() if item else 0])
            extendable = item is not None
        elif extendable:
            groups[-1][1] = line_end
        else:
            groups.append([position, line_end, 0])
            extendable = True
        position = line_end + 1
    return [(first, last, marker) for first, last, marker in groups]


def _split_long(
    text: str, start: int, end: int, pieces: _Pieces, budget: int
) -> list[tuple[int, int]]:
    """Cut a sentence longer than the budget at word-piece boundaries, preferring word starts."""
    # Re-tokenising a piece that starts mid-word can cost a few extra tokens: keep a margin.
    window = max(1, budget - min(8, budget // 8))
    cuts: list[int] = []
    first, last = pieces.index(start), pieces.index(end)
    while last - first > window:
        cut = _word_start(text, pieces, first + window, lowest=first + window // 2)
        cuts.append(pieces.starts[cut])
        first = cut
    bounds = [start, *cuts, end]
    trimmed = (_trim(text, a, b) for a, b in pairwise(bounds))
    return [span for span in trimmed if span[0] < span[1]]


def _word_start(text: str, pieces: _Pieces, index: int, *, lowest: int) -> int:
    """The last piece index in (lowest, index] that begins a word; `index` if none does."""
    for candidate in range(index, lowest, -1):
        begin = pieces.starts[candidate]
        if (
            begin > pieces.ends[candidate - 1]
            or not text[begin - 1].isalnum()
            or not text[begin].isalnum()
        ):
            return candidate
    return index


def _pack_ranges(
    counts: Sequence[int],
    target: int,
    budget: int,
    overlap: int,
    tiny: int,
    *,
    repeatable: Sequence[bool] | None = None,
) -> list[tuple[int, int]]:
    """[first, last) unit ranges: greedy up to `target`, `overlap` units repeated (only units
    `repeatable` allows, when given)."""
    total = [0]
    for count in counts:
        total.append(total[-1] + count)
    ranges: list[tuple[int, int]] = []
    first = 0
    while first < len(counts):
        last = first + 1
        while last < len(counts) and total[last + 1] - total[first] <= target:
            last += 1
        ranges.append((first, last))
        if last == len(counts):
            break
        following = max(first + 1, last - overlap)
        while following < last and (
            total[last + 1] - total[following] > target
            or (repeatable is not None and not repeatable[following])
        ):
            following += 1
        first = following
    if len(ranges) >= 2:
        (previous_first, previous_last), (_, final_last) = ranges[-2], ranges[-1]
        new_tokens = total[final_last] - total[previous_last]
        if new_tokens < tiny and total[final_last] - total[previous_first] <= budget:
            ranges[-2:] = [(previous_first, final_last)]
    return ranges


def _halve(text: str, span: _Span, pieces: _Pieces) -> list[_Span]:
    """Two halves of a span, cut at a word piece near the middle (at a character if need be)."""
    first, last = pieces.index(span.start), pieces.index(span.end)
    if last - first >= 2:
        middle = (first + last) // 2
        cut = pieces.starts[_word_start(text, pieces, middle, lowest=first + (middle - first) // 2)]
    elif span.end - span.start >= 2:
        cut = (span.start + span.end) // 2
    else:
        raise RuntimeError("a single character does not fit the model's input")  # unreachable
    halves = (_trim(text, span.start, cut), _trim(text, cut, span.end))
    return [_Span(start, end, span.section) for start, end in halves if start < end]
