"""The audit record on SQLite and PostgreSQL: migrated by Alembic, masked, append-only."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from agent.audit.migrations import AUDIT_VERSION_TABLE, upgrade_audit_db
from agent.audit.retention import delete_older_than
from agent.audit.store import (
    AuditStore,
    DuplicateAnswerError,
    UnknownAnswerError,
)
from agent.review.store import audit_database_metadata
from agent.types import AnswerStatus
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from tests.fixtures.answers import make_answer
from tests.fixtures.clocks import WallClock
from tests.fixtures.databases import POSTGRES_URL
from tests.fixtures.pii import labelled_texts, leaked_values, make_guard

USER_ID = "jane.doe@example.com"
AUDIT_TABLES = {
    "audit_answers",
    "audit_answer_askers",
    "audit_citations",
    "audit_feedback",
    "audit_retention_grant",
}


@dataclass
class Database:
    url: str
    schema: str | None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database(url=f"sqlite:///{tmp_path_factory.mktemp('audit')}/audit.db", schema=None)
        return
    # A schema of its own per test, dropped afterwards. If the server is down this fails loudly.
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    yield Database(url=POSTGRES_URL, schema=schema)
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def guard() -> PiiGuard:
    return make_guard()


@pytest.fixture
def clock() -> WallClock:
    return WallClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(database: Database, guard: PiiGuard, clock: WallClock) -> Iterator[AuditStore]:
    built = AuditStore(url=database.url, guard=guard, schema=database.schema, clock=clock)
    yield built
    built.close()


def _table(store: AuditStore, name: str) -> str:
    """The table name for raw SQL (raw SQL is not schema-translated)."""
    return f'"{store.schema}".{name}' if store.schema else name


def _all_rows_text(store: AuditStore) -> str:
    with store.engine.connect() as connection:
        rows = [
            repr(tuple(row))
            for table in sorted(AUDIT_TABLES)
            for row in connection.execute(text(f"SELECT * FROM {_table(store, table)}"))
        ]
    return "\n".join(rows)


def test_migration_creates_the_schema_the_models_expect(
    database: Database, guard: PiiGuard
) -> None:
    upgrade_audit_db(database.url, schema=database.schema)
    upgrade_audit_db(database.url, schema=database.schema)  # idempotent
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            if database.schema is not None:
                connection.execute(text(f'SET search_path TO "{database.schema}"'))
            tables = set(inspect(connection).get_table_names())
            assert AUDIT_TABLES | {"audit_alembic_version"} <= tables
            context = MigrationContext.configure(
                connection, opts={"version_table": AUDIT_VERSION_TABLE}
            )
            # The migrations' head also holds the review tables (0002), so compare against the
            # whole audit database's metadata, not only the answer tables'.
            assert compare_metadata(context, audit_database_metadata()) == []
    finally:
        engine.dispose()


def test_audit_rows_carry_no_labelled_pii(store: AuditStore, guard: PiiGuard) -> None:
    principal = Principal(user_id=USER_ID, groups=frozenset({"staff"}))
    samples = labelled_texts()
    ids = []
    for n, sample in enumerate(samples):
        answer = make_answer(sample.text, status="escalated" if n % 5 == 0 else "answered")
        store.record(answer, principal)
        store.add_feedback(answer.answer_id, -1, f"wrong, ask {sample.text}", principal=principal)
        ids.append(answer.answer_id)

    dump = _all_rows_text(store)
    assert leaked_values(dump) == []
    assert "jane.doe" not in dump
    assert store.count() == len(samples)
    record = store.get(ids[2])
    assert record is not None
    assert record.user_pseudonym == guard.pseudonymize(USER_ID)
    assert leaked_values(repr(record)) == []


def test_a_record_holds_everything_an_auditor_needs(store: AuditStore, clock: WallClock) -> None:
    answer = make_answer("How do I reset my VPN token?", answer_id="a-1")
    store.record(answer, Principal(user_id=None))

    record = store.get("a-1")
    assert record is not None
    assert record.created_at == clock.now
    assert record.user_pseudonym is None  # anonymous
    assert (record.status, record.question) == ("answered", "How do I reset my VPN token?")
    assert record.answer == "How do I reset my VPN token? [1]"
    assert (record.policy_version, record.index_version) == ("policy-3", "index-9")
    assert (record.composer, record.prompt_id, record.prompt_version) == (
        "llm:local/test-model",
        "answer",
        "1",
    )
    assert (record.prompt_tokens, record.completion_tokens, record.cost_usd) == (100, 20, 0.0012)
    assert record.latency_ms == 61.0
    assert record.timings_ms == {"retrieve": 12.5, "compose": 40.0, "total": 61.0}
    assert record.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert record.conversation_id == "c-7f9e"
    assert record.flags == ("cache_miss",)
    assert record.min_support == 0.7
    first, second = record.citations
    assert (first.marker, first.document_id, first.chunk_id) == (1, "kb/doc-0", "kb/doc-0#0")
    assert (first.document_version, first.source_id) == ("sha256:0000", "kb")
    assert (second.start, second.end, second.support) == (10, 38, 0.7)
    assert first.quote == "How do I reset my VPN token?"
    assert store.get("missing") is None


def test_list_filters_by_time_status_and_support(store: AuditStore, clock: WallClock) -> None:
    start = clock.now
    cases: list[tuple[AnswerStatus, tuple[float, ...]]] = [
        ("answered", (0.95, 0.9)),
        ("answered", (0.4, 0.9)),
        ("refused_no_evidence", ()),
        ("escalated", (0.6,)),
    ]
    for day, (status, supports) in enumerate(cases):
        clock.now = start + timedelta(days=day)
        store.record(
            make_answer("VPN", status=status, supports=supports, answer_id=f"a{day}"),
            Principal(user_id="u1"),
        )

    assert [r.answer_id for r in store.list()] == ["a3", "a2", "a1", "a0"]
    assert [r.answer_id for r in store.list(since=start + timedelta(days=1))] == ["a3", "a2", "a1"]
    assert [r.answer_id for r in store.list(until=start + timedelta(days=1))] == ["a0"]
    assert [r.answer_id for r in store.list(status="answered")] == ["a1", "a0"]
    assert [r.answer_id for r in store.list(status=["escalated", "refused_no_evidence"])] == [
        "a3",
        "a2",
    ]
    assert [r.answer_id for r in store.list(max_support=0.65)] == ["a3", "a1"]
    assert [r.answer_id for r in store.list(min_support=0.85)] == ["a0"]
    assert [r.answer_id for r in store.list(limit=1, offset=1)] == ["a2"]
    pseudonym = store.get("a0")
    assert pseudonym is not None
    assert len(store.list(user_pseudonym=pseudonym.user_pseudonym)) == 4


def test_records_are_never_overwritten(store: AuditStore) -> None:
    store.record(make_answer("first", answer_id="same"), Principal(user_id="u1"))
    with pytest.raises(DuplicateAnswerError):
        store.record(make_answer("second", answer_id="same"), Principal(user_id="u1"))
    record = store.get("same")
    assert record is not None
    assert record.question == "first"


def test_the_store_has_no_update_or_delete_api() -> None:
    public = {name for name in dir(AuditStore) if not name.startswith("_")}
    verbs = {"update", "delete", "remove", "set", "put", "modify", "replace", "truncate", "drop"}
    mutating = {n for n in public if n.split("_")[0] in verbs}
    assert mutating == {"delete_older_than"}


def test_the_database_refuses_updates_and_deletes(store: AuditStore) -> None:
    answer = make_answer("VPN", answer_id="locked")
    store.record(answer, Principal(user_id="u1"), owner="user:u1")
    store.add_feedback("locked", 1, "thanks")
    answers, citations, feedback, askers = (
        _table(store, t)
        for t in ("audit_answers", "audit_citations", "audit_feedback", "audit_answer_askers")
    )
    statements = [
        f"UPDATE {askers} SET asker_pseudonym = 'someone else'",
        f"DELETE FROM {askers}",
        f"UPDATE {answers} SET answer = 'rewritten'",
        f"DELETE FROM {answers}",
        f"UPDATE {citations} SET quote = 'rewritten'",
        f"DELETE FROM {citations}",
        f"UPDATE {feedback} SET rating = -1",
        f"DELETE FROM {feedback}",
    ]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
            connection.execute(text(statement))
    record = store.get("locked")
    assert record is not None
    assert record.answer == "VPN [1]"
    assert len(record.citations) == 2
    assert len(store.feedback_for("locked")) == 1
    assert store.asked_by(record, "user:u1")


def test_the_asker_is_kept_as_a_keyed_pseudonym(store: AuditStore, guard: PiiGuard) -> None:
    store.record(make_answer("VPN", answer_id="mine"), Principal(user_id="bob"), owner="user:bob")
    store.record(make_answer("VPN", answer_id="keys"), Principal(user_id=None), owner="key:w-a")
    store.record(make_answer("VPN", answer_id="nobodys"), Principal(user_id="bob"))

    mine, keys, nobodys = (store.get(i) for i in ("mine", "keys", "nobodys"))
    assert mine is not None and keys is not None and nobodys is not None
    assert mine.asker_pseudonym == guard.pseudonymize("user:bob")
    assert store.asked_by(mine, "user:bob") and not store.asked_by(mine, "user:alice")
    assert store.asked_by(keys, "key:w-a") and not store.asked_by(keys, "key:w-b")
    assert not store.asked_by(nobodys, "user:bob")  # no owner named: auditors only
    assert "user:bob" not in _all_rows_text(store) and "key:w-a" not in _all_rows_text(store)
    listed = {r.answer_id: r.asker_pseudonym is not None for r in store.list(limit=10)}
    assert listed == {"mine": True, "keys": True, "nobodys": False}


def test_retention_deletes_by_age_only(
    store: AuditStore, clock: WallClock, caplog: pytest.LogCaptureFixture
) -> None:
    start = clock.now
    store.record(make_answer("old", answer_id="old"), Principal(user_id="u1"))
    store.add_feedback("old", 1, "ok")
    clock.now = start + timedelta(days=20)
    store.record(make_answer("recent", answer_id="recent"), Principal(user_id="u1"))
    store.add_feedback("recent", -1, None)
    clock.now = start + timedelta(days=40)

    caplog.set_level(logging.INFO, logger="agent.audit.retention")
    result = delete_older_than(store, 30)

    assert (result.answers, result.citations, result.feedback) == (1, 2, 1)
    assert result.cutoff == start + timedelta(days=10)
    assert store.get("old") is None
    assert store.get("recent") is not None
    assert [f.answer_id for f in store.feedback_for("recent")] == ["recent"]
    assert "deleted 1 answers, 2 citations, 1 feedback" in caplog.text
    with pytest.raises(ValueError, match="at least one day"):
        store.delete_older_than(0)
    # The grant was withdrawn in the same transaction: deletes are refused again.
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
        connection.execute(text(f"DELETE FROM {_table(store, 'audit_answers')}"))


def test_feedback_is_masked_and_needs_a_recorded_answer(store: AuditStore, guard: PiiGuard) -> None:
    store.record(make_answer("VPN", answer_id="a1"), Principal(user_id="u1"))
    feedback = store.add_feedback(
        "a1", -1, "Please call Priya Raman on +1 415 555 0132", principal=Principal(user_id="u1")
    )
    assert feedback.comment is not None
    assert "Priya" not in feedback.comment
    assert "555 0132" not in feedback.comment
    assert feedback.user_pseudonym == guard.pseudonymize("u1")
    assert store.feedback_for("a1") == [feedback]
    with pytest.raises(UnknownAnswerError):
        store.add_feedback("missing", 1)
    with pytest.raises(ValueError, match="rating"):
        store.add_feedback("a1", 5)  # type: ignore[arg-type]
