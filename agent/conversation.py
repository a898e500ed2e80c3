"""Conversations: a bounded in-memory history per (asker, conversation id), and follow-up
condensing.

History is keyed by the asker as well as the conversation id, so nobody reads another user's
history by guessing an id. Conversations expire after a time-to-live and the least recently
used ones are dropped beyond `max_conversations`; each keeps its last `max_turns` turns.

A follow-up ("and for contractors?", "how long does it last?") is condensed into a stand-alone
question for retrieval. `RuleCondenser` (the default) joins a follow-up to the previous
stand-alone question; an LLM condenser can plug in through the `Condenser` protocol.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from cachetools import TTLCache

from retrieval.sentences import content_terms

__all__ = [
    "Condenser",
    "ConversationStore",
    "InMemoryConversationStore",
    "RuleCondenser",
    "Turn",
]


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str
    standalone: str | None = None  # user turns: the question as it was answered


class ConversationStore(Protocol):
    def history(self, asker: str, conversation_id: str) -> list[Turn]:
        """The kept turns, oldest first; `[]` for an unknown or expired conversation."""

    def append(self, asker: str, conversation_id: str, turns: Sequence[Turn]) -> None: ...


class Condenser(Protocol):
    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """A stand-alone version of `question` given the history (the question itself when it
        already stands alone)."""


class InMemoryConversationStore:
    """Thread-safe, bounded, per-process. Replace with a shared store for several replicas.

    A cachetools `TTLCache` (least recently used out beyond `max_conversations`; a conversation
    lives `ttl_seconds` from its last append) behind a lock: cachetools caches are not
    thread-safe.
    """

    def __init__(
        self,
        *,
        max_turns: int = 6,
        max_conversations: int = 10_000,
        ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_turns = max_turns
        self._items: TTLCache[tuple[str, str], deque[Turn]] | None = (
            TTLCache(maxsize=max_conversations, ttl=ttl_seconds, timer=clock)
            if max_conversations > 0
            else None
        )
        self._lock = threading.Lock()

    def history(self, asker: str, conversation_id: str) -> list[Turn]:
        if self._items is None:
            return []
        with self._lock:
            turns = self._items.get((asker, conversation_id))
            return [] if turns is None else list(turns)

    def append(self, asker: str, conversation_id: str, turns: Sequence[Turn]) -> None:
        if self._max_turns == 0 or self._items is None:
            return
        key = (asker, conversation_id)
        with self._lock:
            kept = self._items.get(key)  # None when unknown or expired: a fresh history
            if kept is None:
                kept = deque(maxlen=self._max_turns)
            kept.extend(turns)
            self._items[key] = kept  # (re)starts its time-to-live

    def __len__(self) -> int:
        if self._items is None:
            return 0
        with self._lock:
            return len(self._items)


_CONNECTOR = re.compile(
    r"^(?:and|but|also|or|so|then|what about|how about|and what about|and how about|"
    r"what if|and if|same for|same question for|and for|and in|and on|and the)\b",
    re.IGNORECASE,
)
_REFERENCE = re.compile(
    r"\b(?:it|its|that|this|those|these|they|them|their|there|he|she|his|her|one)\b",
    re.IGNORECASE,
)


class RuleCondenser:
    """Joins a follow-up to the previous stand-alone question.

    A question is a follow-up when it opens with a connector ("and for …", "what about …"),
    or when it is short (at most `short_terms` content terms) and refers back ("it", "that",
    "they"). Anything else stands alone.
    """

    def __init__(self, *, short_terms: int = 3) -> None:
        self._short = short_terms

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        previous = next(
            (t.standalone or t.text for t in reversed(history) if t.role == "user"), None
        )
        if previous is None or not self.is_follow_up(question):
            return question
        return f"{previous.rstrip()} {question.lstrip()}"

    def is_follow_up(self, question: str) -> bool:
        if _CONNECTOR.match(question.strip()):
            return True
        return len(content_terms(question)) <= self._short and bool(_REFERENCE.search(question))
