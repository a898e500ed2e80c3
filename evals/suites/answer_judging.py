"""How the answers suite judges one answer: what the pipeline reported on its trace
(`ScoreTracer`) and the citations checked against the document text and the annotators'
evidence (`judge` → `Outcome`; the module docstring of `evals.suites.answers` says how)."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from agent.tracing.port import TraceHandle, Tracer
from agent.types import Answer
from evals.suites.clapnq import SOURCE_ID, ClapRow

__all__ = ["Outcome", "ScoreTracer", "judge"]

_WORD = re.compile(r"\w+")
_MARKUP = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+|\*\*|__|`")
_OVERLAP = 0.6


class ScoreTracer(Tracer, TraceHandle):
    """Keeps what the pipeline reports on each trace that the eval reads back: the decision
    score, and the documents the verified sentences cite (whatever the decision). It is its own
    trace and span handle; what it does not keep is the protocols' no-op."""

    def __init__(self) -> None:
        self.last_score: float | None = None
        self.verified_documents: list[str] = []
        self.confidence: float | None = None
        self.reader: float | None = None
        self.reader_passage: float | None = None

    def trace(self, name: str = "answer", **attrs: object) -> AbstractContextManager[ScoreTracer]:
        self.last_score = None
        self.verified_documents = []
        self.confidence = self.reader = self.reader_passage = None
        return nullcontext(self)

    def span(self, name: str, **attrs: object) -> AbstractContextManager[ScoreTracer]:
        return nullcontext(self)

    def set(self, **attrs: object) -> None:
        documents = attrs.get("document_ids")
        if isinstance(documents, list):
            self.verified_documents = [str(d) for d in documents]
        for name, field_name in (
            ("confidence", "confidence"),
            ("reader_probability", "reader"),
            ("reader_passage", "reader_passage"),
        ):
            value = attrs.get(name)
            if isinstance(value, float | int):
                setattr(self, field_name, float(value))

    def score(self, name: str, value: float, *, comment: str | None = None) -> None:
        if name == "answer_score":
            self.last_score = value


@dataclass
class Outcome:
    row: ClapRow
    answer: Answer
    score: float
    cites_own: bool
    verified_own: bool  # the verified sentences cite the own passage (whatever the decision)
    confidence: float | None = None  # the best verified sentence's (None: none verified)
    reader: float | None = None  # the reader's best sentence (None: not read)
    reader_passage: float | None = None  # its best passage (None: not read)
    verbatim: list[bool] = field(default_factory=list)
    reference: list[bool] = field(default_factory=list)
    gold_found: int = 0


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def _matches(quote: str, gold: str) -> bool:
    a, b = _words(quote), _words(gold)
    return bool(a and b) and len(a & b) / min(len(a), len(b)) >= _OVERLAP


def _clean(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).split())


def judge(row: ClapRow, answer: Answer, tracer: ScoreTracer, texts: dict[str, str]) -> Outcome:
    """`answer` to `row`'s question, judged (`texts`: each document's parsed text by id)."""
    own = f"{SOURCE_ID}:{row.id}.md"
    outcome = Outcome(
        row,
        answer,
        tracer.last_score if tracer.last_score is not None else 0.0,
        cites_own=any(c.document_id == own for c in answer.citations),
        verified_own=own in tracer.verified_documents,
        confidence=(tracer.confidence if tracer.confidence is not None else tracer.last_score)
        if tracer.verified_documents
        else None,
        reader=tracer.reader,
        reader_passage=tracer.reader_passage,
    )
    sentences = re.split(r"\s*\[\d+\]\s*", answer.answer)
    for citation in answer.citations:
        document = texts.get(citation.document_id, "")
        sentence = sentences[citation.marker - 1] if citation.marker <= len(sentences) else ""
        exact = document[citation.start : citation.end] == citation.quote
        outcome.verbatim.append(exact and _clean(sentence) == _clean(citation.quote))
        outcome.reference.append(
            citation.document_id == own and any(_matches(citation.quote, g) for g in row.selected)
        )
    quotes = [c.quote for c in answer.citations if c.document_id == own]
    outcome.gold_found = sum(any(_matches(q, g) for q in quotes) for g in row.selected)
    return outcome
