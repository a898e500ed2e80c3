"""Where citation audit reviews are kept: the migrations (append-only tables), the whole flow on
PostgreSQL, and retention deleting reviews with their answers."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, delete, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError

from agent.audit.migrations import AUDIT_VERSION_TABLE, upgrade_audit_db
from agent.audit.models import AnswerRow, RetentionGrantRow
from agent.review.store import audit_database_metadata, review_deletes
from tests.fixtures.audit_reviews import START, build_world, drop_schema, queued, review_a_sample
from tests.fixtures.databases import POSTGRES_URL
from tests.fixtures.kb_index import KbIndex

REVIEW_TABLES = {"audit_review_picks", "audit_reviews", "audit_review_verdicts"}


# --- schema --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_migrations_create_the_tables_the_models_expect_and_keep_them_append_only(
    backend: str, tmp_path: Path
) -> None:
    schema = f"review_test_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    url = POSTGRES_URL if schema else f"sqlite:///{tmp_path / 'audit.db'}"
    with drop_schema(schema) if schema else nullcontext():
        upgrade_audit_db(url, schema=schema)
        engine = create_engine(url)
        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
        try:
            with engine.connect() as connection:
                if schema:
                    connection.execute(text(f'SET search_path TO "{schema}"'))
                assert set(inspect(connection).get_table_names()) >= REVIEW_TABLES
                context = MigrationContext.configure(
                    connection, opts={"version_table": AUDIT_VERSION_TABLE}
                )
                assert compare_metadata(context, audit_database_metadata()) == []
            prefix = f'"{schema}".' if schema else ""
            with engine.begin() as connection:
                connection.execute(
                    text(
                        f"INSERT INTO {prefix}audit_answers (answer_id, created_at,"
                        " conversation_id, status, question, answer, policy_version,"
                        " index_version, composer, timings_json, prompt_tokens,"
                        " completion_tokens, cost_usd, flags_json, citation_count) VALUES"
                        " ('a1', '2026-01-01', 'c', 'answered', 'q', 'a', 'p', 'i', 'x', '{}',"
                        " 0, 0, 0, '[]', 0)"
                    )
                )
                connection.execute(
                    text(
                        f"INSERT INTO {prefix}audit_reviews (review_id, answer_id, created_at,"
                        " reviewer, answer_verdict) VALUES"
                        " ('r1', 'a1', '2026-01-02', 'usr_x', 'correct')"
                    )
                )
            for statement in (
                f"UPDATE {prefix}audit_reviews SET answer_verdict = 'incorrect'",
                f"DELETE FROM {prefix}audit_reviews",
            ):
                with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                    connection.execute(text(statement))
        finally:
            engine.dispose()


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_whole_flow_on_postgresql(tmp_path: Path, kb_index: KbIndex) -> None:
    schema = f"review_flow_{uuid.uuid4().hex[:12]}"
    with drop_schema(schema):
        world = build_world(tmp_path, kb_index, url=POSTGRES_URL, schema=schema)
        try:
            a = world.answers
            world.audit.add_feedback(a["lockout"], -1, principal=world.principal("bob"))
            world.service.pick(a["five"], world.oscar)
            assert queued(world.service, world.oscar) == [a["five"], a["lockout"], a["weak"]]
            review_a_sample(world)
            assert queued(world.service, world.oscar) == [a["lockout"], a["weak"]]
            report = world.service.report(world.oscar)
            assert report.reviews == 3 and report.agreement.citation_kappa == 0.375
        finally:
            world.close()


# --- retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_reviews_go_with_their_answers(backend: str, tmp_path: Path, kb_index: KbIndex) -> None:
    schema = f"review_keep_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    with drop_schema(schema) if schema else nullcontext():
        world = build_world(tmp_path, kb_index, url=POSTGRES_URL if schema else None, schema=schema)
        try:
            review_a_sample(world)
            world.service.pick(world.answers["weak"], world.oscar)
            engine = world.audit.engine
            # What the retention job runs first, inside its transaction (holding its grant).
            old = select(AnswerRow.answer_id).where(
                AnswerRow.created_at < START + timedelta(days=7)
            )
            with engine.begin() as connection:
                connection.execute(insert(RetentionGrantRow).values(token="test-grant"))
                for statement in review_deletes(old):
                    connection.execute(statement)
                connection.execute(delete(RetentionGrantRow))
            report = world.service.report(world.oscar)
            assert report.reviews == 2  # five's two reviews stay; vpn's went
            # The job itself: PostgreSQL cascades what is left; nothing refuses the deletes.
            result = world.audit.delete_older_than(5)
            assert result.answers == len(world.answers)
            assert world.service.report(world.oscar).reviews == 0
            assert world.service.queue(world.oscar) == []
            if backend == "postgresql":
                with engine.connect() as connection:
                    for table in sorted(REVIEW_TABLES):
                        query = f'SELECT count(*) FROM "{schema}".{table}'
                        rows = connection.execute(text(query))
                        assert rows.scalar_one() == 0, table
        finally:
            world.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_retention_job_deletes_the_reviews_of_the_answers_it_deletes(
    backend: str, tmp_path: Path, kb_index: KbIndex
) -> None:
    schema = f"review_gone_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    with drop_schema(schema) if schema else nullcontext():
        world = build_world(tmp_path, kb_index, url=POSTGRES_URL if schema else None, schema=schema)
        try:
            review_a_sample(world)
            world.service.pick(world.answers["weak"], world.oscar)

            result = world.audit.delete_older_than(5)

            assert result.answers == len(world.answers) and result.reviews > 0
            prefix = f'"{schema}".' if schema else ""
            with world.audit.engine.connect() as connection:
                for table in sorted(REVIEW_TABLES):  # no orphans, SQLite included
                    rows = connection.execute(text(f"SELECT count(*) FROM {prefix}{table}"))
                    assert rows.scalar_one() == 0, table
        finally:
            world.close()
