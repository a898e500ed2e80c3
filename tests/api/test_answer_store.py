"""`SqlAnswerStore` on SQLite and PostgreSQL: answers round-trip exactly, feedback is kept."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from agent.types import Answer, Citation, TokenUsage
from api.answer_store import SqlAnswerStore


def _answer() -> Answer:
    return Answer(
        answer_id=uuid.uuid4().hex,
        status="answered",
        answer="Use NW-Staff [1].",
        citations=[
            Citation(
                marker=1,
                document_id="it-kb:wifi.md",
                title="Wi-Fi",
                source_id="it-kb",
                uri="file:///kb/it/wifi.md",
                chunk_id="c1",
                quote="Connect to NW-Staff.",
                start=10,
                end=30,
                support=0.9,
                document_version="v1",
            )
        ],
        conversation_id="conv-1",
        question="Which Wi-Fi?",
        policy_version="p1",
        index_version="i1",
        composer="extractive",
        usage=TokenUsage(prompt_tokens=3, completion_tokens=4, cost_usd=0.0),
        timings_ms={"total": 12.5},
        flags=("follow_up_condensed",),
        trace_id="t1",
    )


def test_answers_and_feedback_round_trip(sql_engine: Engine) -> None:
    store = SqlAnswerStore(engine=sql_engine)
    answer = _answer()
    store.save(answer, asker="user:bob")
    stored = store.get(answer.answer_id)
    assert stored is not None
    assert stored.answer == answer and stored.asker == "user:bob"
    assert stored.created_at.tzinfo is not None
    assert store.get("missing") is None
    store.add(answer_id=answer.answer_id, asker="user:bob", rating=-1, comment="stale")
    store.add(answer_id=answer.answer_id, asker="user:bob", rating=1, comment=None)
    kept = store.for_answer(answer.answer_id)
    assert sorted((f.rating, f.comment or "") for f in kept) == [(-1, "stale"), (1, "")]
    assert {f.asker for f in kept} == {"user:bob"}


def test_an_answer_saved_again_keeps_the_last_version(sql_engine: Engine) -> None:
    store = SqlAnswerStore(engine=sql_engine)
    answer = _answer()
    store.save(answer, asker="user:bob")
    again = dataclasses.replace(answer, answer="Use NW-Guest [1].")
    store.save(again, asker="user:carol")  # served again, e.g. from the answer cache
    stored = store.get(answer.answer_id)
    assert stored is not None
    assert (stored.answer, stored.asker) == (again, "user:carol")


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_retention_deletes_old_answers_and_their_feedback_only(sql_engine: Engine) -> None:
    clock = _Clock()
    store = SqlAnswerStore(engine=sql_engine, clock=clock)
    old, recent = _answer(), _answer()
    store.save(old, asker="user:erin")
    store.add(answer_id=old.answer_id, asker="user:erin", rating=1, comment=None)
    clock.now += timedelta(days=20)
    store.save(recent, asker="user:erin")
    store.add(answer_id=recent.answer_id, asker="user:erin", rating=-1, comment="no")
    # Feedback given late on the old answer goes with it, however recent.
    store.add(answer_id=old.answer_id, asker="user:erin", rating=-1, comment="still wrong")
    clock.now += timedelta(days=15)

    assert store.delete_older_than(40) == (0, 0)
    assert store.delete_older_than(30) == (1, 2)

    assert store.get(old.answer_id) is None and store.for_answer(old.answer_id) == []
    kept = store.get(recent.answer_id)
    assert kept is not None and kept.answer == recent
    assert [f.rating for f in store.for_answer(recent.answer_id)] == [-1]
    with pytest.raises(ValueError, match="at least one day"):
        store.delete_older_than(0)
