"""The state database's migrations (`infra.state_migrations`): every store migrates its
database instead of `create_all`, the migrated schema is the models' schema, a database made
by a version before migrations is adopted with its rows, and `proofdesk migrate` reports it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)

from infra.state_migrations import (
    STATE_VERSION_TABLE,
    ensure_state_schema,
    state_head_revision,
    state_revision,
    upgrade_state_db,
)
from ingest import jobs, state
from ingest.jobs import JobStore
from policies.pii import findings_store
from retrieval import sentence_vectors


def _models() -> MetaData:
    """Every table of the state database, as its store's models declare it."""
    combined = MetaData()
    for module in (state, jobs, sentence_vectors, findings_store):
        for table in module._Base.metadata.sorted_tables:
            table.to_metadata(combined)
    return combined


def test_the_migrated_schema_is_the_models_schema(sql_engine: Engine) -> None:
    upgrade_state_db(sql_engine)

    with sql_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": STATE_VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, _models()) == []
    assert state_revision(sql_engine) == state_head_revision()


def test_each_store_migrates_its_database(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    assert state_revision(engine) is None

    JobStore(engine=engine)

    assert state_revision(engine) == state_head_revision()
    assert {t.name for t in _models().sorted_tables} <= set(inspect(engine).get_table_names())


def _before_migrations() -> MetaData:
    """Two tables as an older version's `create_all` made them: the leases had no holder host,
    pid or start time then."""
    old = MetaData()
    Table(
        "pd_source_leases",
        old,
        Column("source_id", String(64), primary_key=True),
        Column("holder", String(256), nullable=False),
        Column("job_id", String(36), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "pd_meta",
        old,
        Column("name", String(64), primary_key=True),
        Column("value", Text(), nullable=False),
    )
    return old


def test_a_database_from_before_migrations_is_adopted_with_its_rows(sql_engine: Engine) -> None:
    # As an older version's `create_all` left it: no version table, the leases without the
    # holder's host, pid and start time (added later), a row in each.
    _before_migrations().create_all(sql_engine)
    with sql_engine.begin() as connection:
        connection.execute(
            text("INSERT INTO pd_source_leases VALUES ('hr-kb', 'old-holder', 'job-1', :at)"),
            {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        )
        connection.execute(text("INSERT INTO pd_meta VALUES ('index_version', '7')"))

    JobStore(engine=sql_engine)

    assert state_revision(sql_engine) == state_head_revision()
    columns = {c["name"] for c in inspect(sql_engine).get_columns("pd_source_leases")}
    assert {"host", "pid", "process_started"} <= columns
    with sql_engine.connect() as connection:
        assert connection.execute(text("SELECT holder FROM pd_source_leases")).scalar() == (
            "old-holder"
        )
        assert connection.execute(text("SELECT value FROM pd_meta")).scalar() == "7"
        context = MigrationContext.configure(
            connection, opts={"version_table": STATE_VERSION_TABLE}
        )
        assert compare_metadata(context, _models()) == []


def test_processes_starting_together_migrate_once(sql_engine: Engine) -> None:
    # Two processes (two replicas, or a command beside the server) on one fresh database.
    migrate = (
        "import json, sys; from sqlalchemy import create_engine; "
        "from infra.state_migrations import upgrade_state_db; "
        "print(upgrade_state_db(create_engine(sys.argv[1], connect_args=json.loads(sys.argv[2]))))"
    )
    url = sql_engine.url.render_as_string(hide_password=False)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", migrate, url, json.dumps(_connect_args(sql_engine))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outcomes
    assert [out.strip() for out, _ in outcomes] == [state_head_revision()] * 2
    assert state_revision(sql_engine) == state_head_revision()


def _connect_args(engine: Engine) -> dict[str, object]:
    if engine.dialect.name == "postgresql":  # the fixture's schema, through its search_path
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar()
        return {"options": f"-csearch_path={schema}"}
    return {}


def test_a_store_built_again_does_not_migrate_again(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    ensure_state_schema(engine)
    with engine.begin() as connection:  # a marker the baseline would not leave alone
        connection.execute(text(f"UPDATE {STATE_VERSION_TABLE} SET version_num = 'unknown'"))

    ensure_state_schema(engine)  # once per engine: not run again, so no error on 'unknown'

    with pytest.raises(Exception, match="unknown"):  # a fresh engine does run it, and says so
        ensure_state_schema(create_engine(engine.url))


def test_the_migrate_command_reports_and_upgrades_both_databases(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agent.audit.migrations import audit_head_revision
    from api import cli

    config = tmp_path / "proofdesk.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "ingest": {"state_url": f"sqlite:///{tmp_path / 'state' / 'state.db'}"},
                "audit": {"url": f"sqlite:///{tmp_path / 'audit' / 'audit.db'}"},
            }
        ),
        encoding="utf-8",
    )

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, ["migrate", "--config", str(config), *args])
        return result.exit_code, result.output

    code, output = run("--check", "--json")
    assert code == 1, output
    report = json.loads(output)
    assert report["behind"] == ["state", "audit"]
    assert report["databases"]["state"] == {
        "before": None,
        "now": None,
        "head": state_head_revision(),
    }

    code, output = run()
    assert code == 0, output
    assert f"state: {state_head_revision()} (was empty), up to date" in output
    assert f"audit: {audit_head_revision()} (was empty), up to date" in output

    code, output = run("--check")
    assert code == 0, output
    assert f"state: {state_head_revision()}, up to date" in output
