"""How the answer pipeline uses the answer cache: what one request's key is made of, which
answers may be kept for another request, and how a cached answer becomes this request's."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from agent.llm.prompts import PromptTemplate
from agent.types import Answer, Composer, TokenUsage
from policies.access.filters import AccessFilter

__all__ = ["CACHE_HIT_FLAG", "CacheScope", "answer_flags", "composer_version", "reused_answer"]

CACHE_HIT_FLAG = "cache_hit"
# Flags that describe the request rather than the answer: a cache hit takes them from its own.
_REQUEST_FLAGS = frozenset(
    {"follow_up_condensed", "question_injection_suspected", "human_requested"}
)


@dataclass(frozen=True)
class CacheScope:
    """What an answer-cache key of one request is made of (besides the prompt version)."""

    question: str  # the standalone question
    access: AccessFilter
    index_version: str

    def admits(self, answer: Answer, flags: Sequence[str]) -> bool:
        """Whether another request with the same question and access may reuse `answer`: not
        a hand-off (its summary is this request's), not one made by a fallback composer, and
        not one made while the index changed under it."""
        return (
            answer.status != "escalated"
            and "composer_fallback" not in flags
            and answer.index_version == self.index_version
        )


def answer_flags(cached: Answer) -> list[str]:
    """The flags a cache hit takes from the cached answer (those describing the answer, not
    its request), then `CACHE_HIT_FLAG`."""
    return [*(f for f in cached.flags if f not in _REQUEST_FLAGS), CACHE_HIT_FLAG]


def reused_answer(
    cached: Answer, *, cid: str, question: str, flags: Iterable[str], trace_id: str | None
) -> Answer:
    """A cached answer as this request's: its own id, conversation, question, trace and
    flags; no tokens spent."""
    return replace(
        cached,
        answer_id=uuid.uuid4().hex,
        conversation_id=cid,
        question=question,
        trace_id=trace_id,
        usage=TokenUsage(),
        flags=tuple(flags),
        handoff_summary=None,
    )


def composer_version(composer: Composer) -> str:
    """A composer's part of a cache key: its prompt's version (a prompt edit starts a fresh
    key space), or its name."""
    prompt = getattr(composer, "prompt", None)
    return prompt.cache_version if isinstance(prompt, PromptTemplate) else composer.name
