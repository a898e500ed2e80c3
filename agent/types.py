"""The shapes the answer pipeline passes around: evidence in, composed sentences, the Answer out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from retrieval.records import ChunkRecord

__all__ = [
    "Answer",
    "AnswerStatus",
    "Citation",
    "ComposeRequest",
    "ComposedSentence",
    "Composer",
    "Composition",
    "Evidence",
    "TokenUsage",
]

AnswerStatus = Literal[
    "answered", "refused_no_evidence", "refused_insufficient_support", "escalated"
]


@dataclass(frozen=True)
class Evidence:
    """One passage a composer may use, numbered as it is shown (`[1]`, `[2]`, …)."""

    number: int
    chunk: ChunkRecord
    score: float


@dataclass(frozen=True)
class ComposedSentence:
    """A sentence of the draft answer and the evidence it claims to rest on.

    `span` is the character span inside `evidence.chunk.text` the sentence was taken from, when
    the composer knows it (extractive); verification finds the best span otherwise (LLM).
    """

    text: str
    evidence_number: int
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Composition:
    sentences: list[ComposedSentence]
    composer: str  # "extractive", or "llm:<endpoint>/<model>"
    prompt_id: str | None = None
    prompt_version: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    notes: tuple[str, ...] = ()  # e.g. "dropped 2 sentences without a valid citation"


@dataclass(frozen=True)
class ComposeRequest:
    question: str
    evidence: Sequence[Evidence]
    user_key: str  # pseudonymous key for per-user budgets; never a raw identity
    conversation: Sequence[tuple[str, str]] = ()  # (role, text), already bounded


class Composer(Protocol):
    """Turns a question and numbered evidence into cited sentences. Never decides access."""

    @property
    def name(self) -> str: ...

    def compose(self, request: ComposeRequest) -> Composition: ...


@dataclass(frozen=True)
class Citation:
    """Where one `[n]` marker of an answer points: an exact span of a document the user may read."""

    marker: int
    document_id: str
    title: str
    source_id: str
    uri: str
    chunk_id: str
    quote: str
    start: int  # character offsets of the quote in the document's normalised text
    end: int
    support: float  # 0..1, from verification
    document_version: str = ""


@dataclass(frozen=True)
class Answer:
    answer_id: str
    status: AnswerStatus
    answer: str  # text with [n] markers, or the refusal / hand-off text
    citations: list[Citation]
    conversation_id: str
    question: str
    policy_version: str
    index_version: str
    composer: str
    prompt_id: str | None = None
    prompt_version: str | None = None
    handoff_summary: str | None = None  # masked, for a human agent when escalated
    usage: TokenUsage = field(default_factory=TokenUsage)
    timings_ms: dict[str, float] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # e.g. "question_injection_suspected", "cache_hit"
    trace_id: str | None = None
