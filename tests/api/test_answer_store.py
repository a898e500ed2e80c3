"""`SqlAnswerStore` on SQLite and PostgreSQL: answers round-trip exactly, feedback is kept."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from api.answer_store import SqlAnswerStore
from tests.fixtures.answers import wifi_answer
from tests.fixtures.clocks import WallClock


def test_answers_and_feedback_round_trip(sql_engine: Engine) -> None:
    store = SqlAnswerStore(engine=sql_engine)
    answer = wifi_answer()
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
    answer = wifi_answer()
    store.save(answer, asker="user:bob")
    again = dataclasses.replace(answer, answer="Use NW-Guest [1].")
    store.save(again, asker="user:carol")  # served again, e.g. from the answer cache
    stored = store.get(answer.answer_id)
    assert stored is not None
    assert (stored.answer, stored.asker) == (again, "user:carol")


def test_retention_deletes_old_answers_and_their_feedback_only(sql_engine: Engine) -> None:
    clock = WallClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    store = SqlAnswerStore(engine=sql_engine, clock=clock)
    old, recent = wifi_answer(), wifi_answer()
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
