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
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

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
    """Thread-safe, bounded, per-process. Replace with a shared store for several replicas."""

    def __init__(
        self,
        *,
        max_turns: int = 6,
        max_conversations: int = 10_000,
        ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_turns = max_turns
        self._max_conversations = max_conversations
        self._ttl = ttl_seconds
        self._clock = clock
        self._items: OrderedDict[tuple[str, str], tuple[float, deque[Turn]]] = OrderedDict()
        self._lock = threading.Lock()

    def history(self, asker: str, conversation_id: str) -> list[Turn]:
        key = (asker, conversation_id)
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return []
            touched, turns = found
            if self._clock() - touched > self._ttl:
                del self._items[key]
                return []
            return list(turns)

    def append(self, asker: str, conversation_id: str, turns: Sequence[Turn]) -> None:
        if self._max_turns == 0:
            return
        key = (asker, conversation_id)
        now = self._clock()
        with self._lock:
            found = self._items.get(key)
            kept = (
                found[1]
                if found is not None and now - found[0] <= self._ttl
                else deque(maxlen=self._max_turns)
            )
            kept.extend(turns)
            self._items[key] = (now, kept)
            self._items.move_to_end(key)
            while len(self._items) > self._max_conversations:
                self._items.popitem(last=False)

    def __len__(self) -> int:
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
