"""The LLM composer (cited sentences from a model, validated) and the fallback chain of composers.

The model only writes sentences. Code decides everything else: what was retrieved and who may
see it (before the composer runs), which passage numbers exist, and which sentences survive:

- a sentence without a `[n]` marker is dropped;
- a sentence citing a number that was not provided (an invented passage) is dropped, even when
  it also cites a valid one: a model that invents sources is not trusted for that sentence;
- a sentence with several valid markers (`[1][3]`, `[1, 3]`) keeps the first as its evidence —
  verification checks the sentence against that passage, so the order the model chose matters;
- markers are removed from `ComposedSentence.text`; the pipeline adds the final `[n]`;
- a sentence stating the refusal phrase is never content; when nothing cited remains, the
  composition is empty and the pipeline refuses.

Notes carry counts and passage numbers, never sentence text (it may hold injected content).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from agent.llm.errors import LLMError, NoLLMRouteError
from agent.llm.gateway import LLMGateway, LLMReply
from agent.llm.prompts import (
    REFUSAL_PHRASE,
    PromptTemplate,
    load_prompt,
    render_answer_messages,
)
from agent.llm.settings import LLMSettings
from agent.types import ComposedSentence, Composer, ComposeRequest, Composition

__all__ = [
    "FallbackComposer",
    "LLMComposer",
    "LLMDraft",
    "ParsedAnswer",
    "parse_cited_answer",
    "split_sentences",
]

_MARKERS = r"(?:\s*\[\s*\d+(?:\s*,\s*\d+)*\s*\])"
_MARKER_GROUP = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
# A sentence ends at . ! or ? (plus closing quotes/brackets and any citation markers) before
# whitespace or the end, or at citation markers followed by a capitalised word (a missing
# period). Citation markers after the period belong to the sentence before them.
_BOUNDARY = re.compile(rf"""(?:[.!?]+["'”’)]*{_MARKERS}*(?=\s|$))|(?:{_MARKERS}+(?=\s+[A-Z]))""")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "no", "approx", "fig", "cf", "incl"}
)
_WORD_BEFORE_DOT = re.compile(r"(?<!\w)([A-Za-z][A-Za-z.]*)$")
_LEAD_IN = re.compile(r"^\s*(?:answer|response)\s*:\s*", re.IGNORECASE)
_REFUSAL = re.sub(r"\W+", " ", REFUSAL_PHRASE.casefold()).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of a model answer, each with the citation markers written after it.

    Hand-written on purpose: a general splitter (punkt) separates "… portal. [2]" from its
    marker and does not know that a marker ends a sentence; this one does, and treats lines and
    list items as boundaries. Over-splitting is the safe error: a fragment without its own
    marker is dropped, never credited to a neighbour's citation.
    """
    sentences: list[str] = []
    for raw_line in text.splitlines():
        line = _BULLET.sub("", raw_line).strip()
        start = 0
        for match in _BOUNDARY.finditer(line):
            if _is_abbreviation(line, match):
                continue
            piece = line[start : match.end()].strip()
            if piece:
                sentences.append(piece)
            start = match.end()
        if tail := line[start:].strip():
            sentences.append(tail)
    return sentences


def _is_abbreviation(line: str, match: re.Match[str]) -> bool:
    token = match.group(0)
    if not token.startswith(".") or _MARKER_GROUP.search(token):
        return False
    word = _WORD_BEFORE_DOT.search(line[: match.start()])
    if word is None:
        return False
    stem = word.group(1).rstrip(".").casefold()
    # "e.g.", "U.S.", "etc." — but not a lone capital ("plan A."): over-splitting is the safe side
    return stem in _ABBREVIATIONS or "." in stem


@dataclass(frozen=True)
class ParsedAnswer:
    sentences: list[ComposedSentence]
    notes: tuple[str, ...]
    refused: bool  # the model said it cannot answer and nothing cited survived
    dropped_uncited: int
    rejected_invented: int


def parse_cited_answer(text: str, *, provided: set[int]) -> ParsedAnswer:
    """Validate a model answer against the passage numbers that were actually provided."""
    kept: list[ComposedSentence] = []
    notes: list[str] = []
    uncited = invented = 0
    said_refusal = False
    invented_numbers: set[int] = set()
    for index, sentence in enumerate(split_sentences(_LEAD_IN.sub("", text.strip())), start=1):
        numbers = [int(n) for group in _MARKER_GROUP.findall(sentence) for n in group.split(",")]
        clean = _clean(sentence)
        if not re.search(r"\w", clean):
            continue  # markers or punctuation only
        if _REFUSAL in re.sub(r"\W+", " ", clean.casefold()):
            said_refusal = True
            continue
        if not numbers:
            uncited += 1
            continue
        unknown = {n for n in numbers if n not in provided}
        if unknown:
            invented += 1
            invented_numbers |= unknown
            continue
        if len(set(numbers)) > 1:
            cited = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
            notes.append(f"sentence {index} cited {cited}: kept [{numbers[0]}]")
        kept.append(ComposedSentence(text=clean, evidence_number=numbers[0]))
    if uncited:
        notes.append(f"dropped {uncited} sentence(s) without a citation")
    if invented:
        listed = ", ".join(f"[{n}]" for n in sorted(invented_numbers))
        notes.append(f"rejected {invented} sentence(s) citing passages not provided: {listed}")
    refused = said_refusal and not kept
    if refused:
        notes.append("model refused: the passages do not answer the question")
    elif said_refusal:
        notes.append("dropped a refusal sentence next to cited sentences")
    return ParsedAnswer(kept, tuple(notes), refused, uncited, invented)


def _clean(sentence: str) -> str:
    text = _MARKER_GROUP.sub("", sentence)
    text = re.sub(r"\s+([.!?,;:])", r"\1", text)
    return html.unescape(" ".join(text.split()))


@dataclass(frozen=True)
class LLMDraft:
    """What the model wrote and what survived validation (for evaluation and debugging)."""

    reply: LLMReply
    parsed: ParsedAnswer
    composition: Composition


class LLMComposer:
    """Composes through the gateway from a versioned prompt; validates every citation."""

    def __init__(
        self,
        *,
        gateway: LLMGateway,
        prompt: PromptTemplate | None = None,
        max_conversation_turns: int = 6,
        max_turn_chars: int = 1_000,
    ) -> None:
        self._gateway = gateway
        self._prompt = prompt or load_prompt()
        self._max_turns = max_conversation_turns
        self._max_turn_chars = max_turn_chars

    @classmethod
    def from_settings(cls, settings: LLMSettings, *, gateway: LLMGateway) -> LLMComposer:
        return cls(
            gateway=gateway,
            prompt=load_prompt(settings.prompt_id, settings.prompt_version),
            max_conversation_turns=settings.max_conversation_turns,
            max_turn_chars=settings.max_turn_chars,
        )

    @property
    def name(self) -> str:
        return "llm"

    @property
    def prompt(self) -> PromptTemplate:
        return self._prompt

    def compose(self, request: ComposeRequest) -> Composition:
        """Raises an `LLMError` when no model answered (the next composer should)."""
        if not request.evidence:
            # The pipeline refuses before composing; never spend a model call on nothing.
            return Composition(
                sentences=[],
                composer=self.name,
                prompt_id=self._prompt.id,
                prompt_version=self._prompt.version,
                notes=("no evidence: model not called",),
            )
        return self.draft(request).composition

    def draft(self, request: ComposeRequest) -> LLMDraft:
        route = self._gateway.route(request.question)
        if not route.endpoints:
            raise NoLLMRouteError(route.rule)
        messages = render_answer_messages(
            self._prompt,
            question=request.question,
            evidence=request.evidence,
            conversation=request.conversation,
            max_turns=self._max_turns,
            max_turn_chars=self._max_turn_chars,
        )
        reply = self._gateway.chat(messages, user_key=request.user_key, route=route)
        parsed = parse_cited_answer(reply.text, provided={e.number for e in request.evidence})
        composition = Composition(
            sentences=parsed.sentences,
            composer=f"llm:{reply.endpoint}/{reply.model}",
            prompt_id=self._prompt.id,
            prompt_version=self._prompt.version,
            usage=reply.usage,
            notes=reply.notes + parsed.notes,
        )
        return LLMDraft(reply=reply, parsed=parsed, composition=composition)


class FallbackComposer:
    """Tries each composer in order; the first that returns a composition answers.

    Only `LLMError`s (unavailable, over budget, routed away) move on to the next composer; any
    other exception is a bug and propagates. An empty composition is an answer too (the
    pipeline refuses): a model that found no support is not retried elsewhere. Put a composer
    that cannot fail this way (the extractive one) last. The answering composer is recorded in
    `Composition.composer`; the notes say which composers were skipped and why.
    """

    def __init__(self, composers: Sequence[Composer]) -> None:
        if not composers:
            raise ValueError("FallbackComposer needs at least one composer")
        self._composers = tuple(composers)

    @property
    def name(self) -> str:
        return "fallback:" + ">".join(c.name for c in self._composers)

    def compose(self, request: ComposeRequest) -> Composition:
        skipped: list[str] = []
        errors: list[LLMError] = []
        for composer in self._composers:
            try:
                composition = composer.compose(request)
            except LLMError as exc:
                skipped.append(f"fallback: {composer.name} skipped ({exc.reason}: {exc})")
                errors.append(exc)
                continue
            return replace(composition, notes=(*skipped, *composition.notes))
        raise errors[-1]  # every composer raised an LLMError: let the pipeline decide
