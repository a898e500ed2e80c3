"""Bounded conversation history and the rule-based follow-up condenser."""

from __future__ import annotations

import pytest

from agent.conversation import InMemoryConversationStore, RuleCondenser, Turn
from tests.fixtures.clocks import FakeClock


def test_history_keeps_the_last_turns_only() -> None:
    store = InMemoryConversationStore(max_turns=3)
    store.append("u1", "c1", [Turn("user", "q1"), Turn("assistant", "a1")])
    store.append("u1", "c1", [Turn("user", "q2"), Turn("assistant", "a2")])
    assert [t.text for t in store.history("u1", "c1")] == ["a1", "q2", "a2"]


def test_history_belongs_to_its_asker() -> None:
    store = InMemoryConversationStore()
    store.append("u1", "c1", [Turn("user", "my question")])
    assert store.history("u2", "c1") == []
    assert store.history("u1", "c2") == []


def test_conversations_expire_after_their_time_to_live() -> None:
    clock = FakeClock()
    store = InMemoryConversationStore(ttl_seconds=60, clock=clock)
    store.append("u1", "c1", [Turn("user", "q1")])
    clock.now += 59
    assert len(store.history("u1", "c1")) == 1
    clock.now += 61
    assert store.history("u1", "c1") == []
    store.append("u1", "c1", [Turn("user", "q2")])
    assert [t.text for t in store.history("u1", "c1")] == ["q2"]


def test_the_least_recently_used_conversation_is_dropped_beyond_the_limit() -> None:
    store = InMemoryConversationStore(max_conversations=2)
    store.append("u", "a", [Turn("user", "1")])
    store.append("u", "b", [Turn("user", "2")])
    store.append("u", "a", [Turn("user", "3")])
    store.append("u", "c", [Turn("user", "4")])
    assert len(store) == 2
    assert store.history("u", "b") == []
    assert [t.text for t in store.history("u", "a")] == ["1", "3"]


def test_reading_a_history_does_not_extend_its_time_to_live() -> None:
    clock = FakeClock()
    store = InMemoryConversationStore(ttl_seconds=60, clock=clock)
    store.append("u1", "c1", [Turn("user", "q1")])
    clock.now += 40
    assert len(store.history("u1", "c1")) == 1
    clock.now += 40
    assert store.history("u1", "c1") == []


def test_a_store_without_room_keeps_no_conversation() -> None:
    store = InMemoryConversationStore(max_conversations=0)
    store.append("u1", "c1", [Turn("user", "q1")])
    assert store.history("u1", "c1") == []
    assert len(store) == 0


HISTORY = [
    Turn(
        "user", "How many days of annual leave do I get?", "How many days of annual leave do I get?"
    ),
    Turn("assistant", "You get 25 days. [1]"),
]


@pytest.mark.parametrize(
    "follow_up",
    ["and for contractors?", "What about part-time staff?", "How long does it last?"],
)
def test_a_follow_up_is_joined_to_the_previous_question(follow_up: str) -> None:
    condensed = RuleCondenser().condense(follow_up, HISTORY)
    assert condensed == f"How many days of annual leave do I get? {follow_up}"


@pytest.mark.parametrize(
    "question",
    ["How do I reset my password?", "What is the per-diem for meals in London?"],
)
def test_a_question_that_stands_alone_is_kept(question: str) -> None:
    assert RuleCondenser().condense(question, HISTORY) == question


def test_without_history_nothing_is_condensed() -> None:
    assert RuleCondenser().condense("and for contractors?", []) == "and for contractors?"


def test_the_previous_standalone_question_is_used_for_a_chain_of_follow_ups() -> None:
    history = [
        *HISTORY,
        Turn(
            "user",
            "and for contractors?",
            "How many days of annual leave do I get? and for contractors?",
        ),
    ]
    condensed = RuleCondenser().condense("and for interns?", history)
    assert condensed.startswith("How many days of annual leave do I get? and for contractors?")
    assert condensed.endswith("and for interns?")
