"""The shape of an extractive answer: what a sentence is (a question line, a sentence about the
page, a step of a procedure, a reference to other text) and which text a reference points to.

All of it is read from the evidence's structure (the chunk's text, its headings and its sentence
units), never from what the text asks: a sentence is only classified, cut and quoted.

- A *question line* is asked, not answered: a sentence (not a list item) ending in "?", or a
  sentence that is part of a heading of its chunk ("I forgot my password. What do I do?" as an
  FAQ entry's heading).
- A *page description* only says what the page is about ("This page explains the password
  rules, …", "This document describes …").
- A *procedure* is a run of list items (numbered or bulleted) of one chunk with nothing but
  list lines between them; a label line ("**macOS**") or a list that starts again at "1." ends it.
- A *reference* points at text elsewhere: backward ("the rules above", "as described above")
  or forward ("see below", "as follows:", a sentence ending in ":"). It resolves to the units of
  the pool it points to: for a named thing ("the rules above"), the same document's chunk whose
  headings name it (before or after, by the direction); otherwise the list that follows in the
  same chunk (forward) or the text that precedes it there (backward). A reference that resolves
  to nothing in the pool is unresolved, and its sentence is not quoted.
"""

from __future__ import annotations

import itertools
import re

from agent.evidence import SentencePool
from retrieval.sentence_vectors import subheadings
from retrieval.sentences import content_terms

__all__ = [
    "asks_how",
    "is_addition",
    "is_numbered",
    "is_page_description",
    "is_question_line",
    "letters",
    "procedure_runs",
    "resolve_reference",
]

_HOW = re.compile(
    r"\bhow\s+(?:do|can|should|would|could|to|does|did)\b(?!\s+(?:long|many|much|often))"
    r"|\bwhat\s+(?:are\s+the\s+)?steps\b|\bwhat\s+(?:should|do|must)\s+i\s+do\b"
    r"|\bprocedure\b|\bhow\s+i\s+(?:can|should)\b",
    re.IGNORECASE,
)
_PAGE = re.compile(
    r"^(?:this|the\s+present)\s+(?:web\s*)?(?:page|document|article|guide|policy|section|faq|"
    r"runbook|checklist|procedure|note|site|wiki|manual|handbook|sheet|file)\s+"
    r"(?:\w+ly\s+)?(?:explains|describes|covers|sets\s+out|outlines|lists|summari[sz]es|gives|"
    r"provides|contains|is\s+about|tells\s+you|shows|details|answers|collects|is\s+edited|"
    r"is\s+maintained|is\s+owned|applies|is\s+for|is\s+intended)\b",
    re.IGNORECASE,
)
_NOT_A_NUMBER = r"(?!\s*[\d$€£])"  # "above 30 °C" compares, it does not refer
_BACKWARD = re.compile(
    rf"\b(?:the|these|those)\s+(?P<noun>(?:[\w-]+\s+){{1,3}}?)above\b{_NOT_A_NUMBER}"
    rf"|\b(?:see|as|listed|described|shown|explained|mentioned|given)\s+above\b{_NOT_A_NUMBER}",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    rf"\b(?:the|these)\s+(?P<noun>(?:[\w-]+\s+){{1,3}}?)below\b{_NOT_A_NUMBER}"
    rf"|\b(?:see|as|listed|described|shown|explained|given)\s+below\b{_NOT_A_NUMBER}"
    r"|\bas\s+follows\b|\bthe\s+following\s*[.:]?\s*$|:\s*$",
    re.IGNORECASE,
)
# "You can also book on the panel at the door", "Also, ...": adds to something said before it.
_ADDITION = re.compile(
    r"^(?:also\b|(?:[\w'-]+\s+){0,2}(?:can|could|may|might)\s+also\b)", re.IGNORECASE
)
_MARKER = re.compile(r"^\s*(?:[-*+•▪◦]|\(?(\d+|[a-z])[.)])\s")
_MAX_REFERENT = 10


def asks_how(question: str) -> bool:
    """Whether the question asks for a procedure ("How do I …", "What are the steps …")."""
    return _HOW.search(question) is not None


def is_addition(text: str) -> bool:
    """Whether a sentence only adds to one said before it ("You can also book on the panel at
    the door for a meeting starting now."): not the sentence an answer starts with."""
    return _ADDITION.match(text.strip()) is not None


def is_page_description(text: str) -> bool:
    """A sentence that only says what the page or document is about."""
    return _PAGE.search(text.strip()) is not None


def is_question_line(pool: SentencePool, index: int) -> bool:
    """A question or a heading's words: text that asks rather than answers."""
    unit = pool.sentences[index]
    if unit.kind != "item" and unit.display.rstrip().endswith("?"):
        return True
    own = letters(unit.display)
    return bool(own) and any(own in letters(h) for h in subheadings(pool.evidence_of(index).chunk))


def procedure_runs(pool: SentencePool) -> dict[int, tuple[int, ...]]:
    """Every list item's run of items (pool indices in document order), by item index."""
    runs: dict[int, tuple[int, ...]] = {}
    current: list[int] = []
    for i, unit in enumerate(pool.sentences):
        if unit.kind != "item":
            _close(runs, current)
            continue
        if current and not _continues(pool, current[-1], i):
            _close(runs, current)
        current.append(i)
    _close(runs, current)
    return runs


def is_numbered(pool: SentencePool, index: int) -> bool:
    """Whether the list item at `index` starts a line with a number or letter marker ("1.",
    "b)"): a numbered list is a procedure whose steps belong together."""
    unit = pool.sentences[index]
    text = pool.evidence_of(index).chunk.text
    line = text[text.rfind("\n", 0, unit.start) + 1 : unit.start]
    marker = _MARKER.match(line + " ")
    return unit.kind == "item" and marker is not None and marker.group(1) is not None


def _close(runs: dict[int, tuple[int, ...]], current: list[int]) -> None:
    run = tuple(current)
    for i in run:
        runs[i] = run
    current.clear()


def _continues(pool: SentencePool, previous: int, index: int) -> bool:
    """Whether item `index` belongs to the same list as item `previous` before it."""
    if pool.owners[previous] != pool.owners[index]:
        return False
    a, b = pool.sentences[previous], pool.sentences[index]
    if a.block == b.block:
        return True
    lines = pool.evidence_of(index).chunk.text[a.end : b.start].split("\n")
    between, opening = lines[1:-1], lines[-1]
    if any(line.strip() and not _MARKER.match(line) for line in between):
        return False
    marker = _MARKER.match(opening + " ")
    return marker is None or marker.group(1) not in {"1", "a"}


def resolve_reference(pool: SentencePool, index: int) -> tuple[int, ...] | None:
    """The units the sentence's reference points to; `()` when it refers to nothing, `None`
    when its reference cannot be resolved within the pool."""
    text = pool.sentences[index].display
    for pattern, forward in ((_BACKWARD, False), (_FORWARD, True)):
        match = pattern.search(text)
        if match is None:
            continue
        noun = set(content_terms(match.group("noun") or ""))
        found = _named(pool, index, noun, forward) if noun else _nearby(pool, index, forward)
        return found[:_MAX_REFERENT] if found else None
    return ()


def _named(pool: SentencePool, index: int, noun: set[str], forward: bool) -> tuple[int, ...]:
    """The units of the nearest chunk of the same document, in the given direction, whose
    headings name `noun` ("the rules above" → the "Password rules" section)."""
    here = pool.evidence_of(index).chunk
    chunks = []
    for owner, evidence in enumerate(pool.evidence):
        chunk = evidence.chunk
        if chunk.document_id != here.document_id or chunk.chunk_id == here.chunk_id:
            continue
        if (chunk.start > here.start) != forward:
            continue
        if noun & set(content_terms(" ".join(subheadings(chunk)))):
            chunks.append((abs(chunk.start - here.start), owner))
    if not chunks:
        return ()
    owner = min(chunks)[1]
    return tuple(i for i, o in enumerate(pool.owners) if o == owner)


def _nearby(pool: SentencePool, index: int, forward: bool) -> tuple[int, ...]:
    """The list that follows the sentence in its chunk (forward), or the text of its chunk
    before it that is not part of its own list (backward)."""
    owner = pool.owners[index]
    runs = procedure_runs(pool)
    own = set(runs.get(index, (index,)))
    if forward:
        following = index + 1
        if following >= len(pool) or pool.owners[following] != owner or following in own:
            return ()
        if pool.sentences[following].kind == "row":  # a table: all of its rows
            rows = range(following, len(pool))
            return tuple(
                i
                for i in itertools.takewhile(
                    lambda i: pool.owners[i] == owner and pool.sentences[i].kind == "row", rows
                )
            )
        return runs.get(following, (following,))
    return tuple(i for i in range(index) if pool.owners[i] == owner and i not in own)


def letters(text: str) -> str:
    """`text` reduced to its letters and digits, case-folded (how names are compared)."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())
