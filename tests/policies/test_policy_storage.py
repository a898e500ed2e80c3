"""Policy storage: the file adapter and the SQLAlchemy adapter (SQLite, PostgreSQL), and reloads."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.engine import PolicyLoadError
from policies.access.settings import DEFAULT_MODEL_PATH, PolicySettings
from tests.fixtures.clocks import FakeClock

POSTGRES_URL = os.environ.get(
    "PROOFDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

BASE = [
    "p, public, source:*, read, allow",
    "p, group:contractors, source:finance-kb, read, deny",
    "g, group:hr, group:all-staff",
    "g, user:alice, group:it-staff",
    "g, group:it-staff, group:all-staff",
]


# --- file adapter ------------------------------------------------------------------------------


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.csv"
    path.write_text("\n".join(BASE) + "\n", encoding="utf-8")
    return path


def _edit(path: Path, content: str, *, mtime: float) -> None:
    """Rewrite a file and give it a distinct mtime (filesystem timestamps can be coarse)."""
    path.write_text(content, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_file_policy_edit_applies_on_the_very_next_check(policy_file: Path) -> None:
    clock = FakeClock()
    settings = PolicySettings(policy_path=policy_file, reload_interval_seconds=3600)
    with CasbinPolicyEngine(settings=settings, clock=clock) as engine:
        first = engine.version
        assert engine.principal_for("bob").groups == frozenset()
        assert engine.maybe_reload() is False  # unchanged file: nothing to do
        _edit(policy_file, "\n".join([*BASE, "g, user:bob, group:hr"]), mtime=2_000_000_000)

        # A file has a cheap change marker (stat): no interval applies to it.
        assert engine.maybe_reload() is True
        assert engine.version != first
        assert engine.principal_for("bob").groups == {"hr", "all-staff"}
        assert engine.maybe_reload() is False


def test_file_policy_broken_edit_keeps_serving_the_last_good_one(policy_file: Path) -> None:
    clock = FakeClock()
    settings = PolicySettings(policy_path=policy_file, reload_interval_seconds=0)
    with CasbinPolicyEngine(settings=settings, clock=clock) as engine:
        good = engine.version
        _edit(policy_file, "\n".join([*BASE, "g, user:bob, hr"]), mtime=2_000_000_000)
        assert engine.maybe_reload() is False  # never raises
        assert engine.version == good
        assert engine.status.last_error is not None
        assert "'g, user:bob, hr'" in engine.status.last_error
        assert "group:all-staff" in engine.access_filter(engine.principal_for("alice")).holds

        _edit(policy_file, "\n".join([*BASE, "g, user:bob, group:hr"]), mtime=2_000_000_100)
        assert engine.maybe_reload() is True
        assert engine.status.last_error is None
        assert "hr" in engine.principal_for("bob").groups


def test_file_policy_deleted_keeps_serving_the_last_good_one(policy_file: Path) -> None:
    with CasbinPolicyEngine(settings=PolicySettings(policy_path=policy_file)) as engine:
        good = engine.version
        policy_file.unlink()
        with pytest.raises(PolicyLoadError, match="policy file not found"):
            engine.reload()
        assert engine.version == good


def test_a_model_edit_is_a_new_version(policy_file: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.conf"
    model.write_text(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    settings = PolicySettings(model_path=model, policy_path=policy_file, reload_interval_seconds=0)
    with CasbinPolicyEngine(settings=settings, clock=FakeClock()) as engine:
        first = engine.version
        _edit(model, "# reviewed\n" + model.read_text(encoding="utf-8"), mtime=2_000_000_000)
        assert engine.maybe_reload() is True
        assert engine.version != first


# --- SQLAlchemy adapter ------------------------------------------------------------------------


def _unreachable(url: str) -> str | None:
    probe = create_engine(url)
    try:
        with probe.connect() as connection:
            connection.execute(text("select 1"))
    except SQLAlchemyError as exc:
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    finally:
        probe.dispose()
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PolicySettings]:
    """Settings for a policy table of its own (unique name), dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'policy.db'}"
    else:
        url = POSTGRES_URL
        problem = _unreachable(url)
        if problem is not None:
            shown = make_url(url).render_as_string(hide_password=True)
            pytest.fail(
                f"PostgreSQL is not reachable at {shown} ({problem}). CI starts it (.ci/run); "
                "start it locally, set PROOFDESK_TEST_POSTGRES_URL, or deselect these tests "
                "with -m 'not postgres'.",
                pytrace=False,
            )
    table = f"policy_test_{uuid.uuid4().hex[:12]}"
    yield PolicySettings(database_url=url, table_name=table, reload_interval_seconds=10)
    cleanup = create_engine(url)
    try:
        with cleanup.begin() as connection:
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
    finally:
        cleanup.dispose()


def _table_exists(settings: PolicySettings) -> bool:
    assert settings.database_url is not None
    engine = create_engine(settings.database_url.get_secret_value())
    try:
        return inspect(engine).has_table(settings.table_name)
    finally:
        engine.dispose()


def test_an_edit_by_one_instance_is_seen_by_another_after_reload(
    database: PolicySettings,
) -> None:
    with CasbinPolicyEngine(settings=database) as writer:
        assert writer.status.rules == 0  # a new table: an empty policy, nothing readable
        assert _table_exists(database)
        assert writer.add_rules(BASE) is True
        assert writer.add_rules(BASE[:2]) is False  # already there: nothing written

        with CasbinPolicyEngine(settings=database) as reader:
            assert reader.version == writer.version
            assert reader.principal_for("x").groups == frozenset()

            assert writer.add_rules(["g, user:x, group:hr"]) is True
            assert writer.principal_for("x").groups == {"hr", "all-staff"}
            assert reader.principal_for("x").groups == frozenset()  # until it reloads

            assert reader.reload() is True
            assert reader.principal_for("x").groups == {"hr", "all-staff"}
            assert reader.version == writer.version
            assert reader.reload() is False

            assert writer.remove_rules(["g, user:x, group:hr"]) is True
            assert writer.remove_rules(["g, user:x, group:hr"]) is False
            assert reader.reload() is True
            assert reader.principal_for("x").groups == frozenset()
            contractor = reader.principal_for("y", ["contractors", "hr"])
            assert not reader.can_read(contractor, source_id="finance-kb", read=["public"], deny=[])


def test_an_invalid_edit_is_not_written(database: PolicySettings) -> None:
    with CasbinPolicyEngine(settings=database) as engine:
        engine.add_rules(BASE)
        version = engine.version
        with pytest.raises(PolicyLoadError, match="cycle in the g lines"):
            engine.add_rules(["g, group:all-staff, group:hr"])
        with pytest.raises(PolicyLoadError, match="invalid principal"):
            engine.add_rules(["g, user:x, group:hr", "g, x, group:hr"])
        assert engine.reload() is False
        assert engine.version == version
        assert engine.principal_for("x").groups == frozenset()


def test_a_broken_row_keeps_the_last_good_policy(database: PolicySettings) -> None:
    clock = FakeClock()
    with CasbinPolicyEngine(settings=database, clock=clock) as engine:
        engine.add_rules(BASE)
        good = engine.version
        assert database.database_url is not None
        raw = create_engine(database.database_url.get_secret_value())
        try:
            with raw.begin() as connection:
                connection.execute(
                    text(
                        f'INSERT INTO "{database.table_name}" (ptype, v0, v1, v2, v3) '
                        "VALUES ('pp', 'group:contractors', 'source:it-kb', 'read', 'deny')"
                    )
                )
            with pytest.raises(PolicyLoadError, match="unknown line type 'pp'"):
                engine.reload()
            assert engine.version == good

            clock.now += 10  # the periodic check reports, never raises
            assert engine.maybe_reload() is False
            assert engine.status.last_error is not None
            assert "'pp'" in engine.status.last_error

            with raw.begin() as connection:
                connection.execute(
                    text(f"DELETE FROM \"{database.table_name}\" WHERE ptype = 'pp'")
                )
        finally:
            raw.dispose()
        clock.now += 10
        assert engine.maybe_reload() is False  # same version as before the broken row
        assert engine.status.last_error is None


def test_database_policy_is_polled_every_interval(database: PolicySettings) -> None:
    clock = FakeClock()
    with (
        CasbinPolicyEngine(settings=database) as writer,
        CasbinPolicyEngine(settings=database, clock=clock) as reader,
    ):
        writer.add_rules([*BASE, "g, user:x, group:hr"])
        clock.now += 5
        assert reader.maybe_reload() is False
        clock.now += 5
        assert reader.maybe_reload() is True
        assert reader.principal_for("x").groups == {"hr", "all-staff"}


def test_unreachable_database_refuses_to_start_without_leaking_the_password() -> None:
    settings = PolicySettings(
        database_url="postgresql+psycopg://proofdesk:s3cret-pw@127.0.0.1:1/policies"
    )
    with pytest.raises(PolicyLoadError, match="cannot open the policy table") as caught:
        CasbinPolicyEngine(settings=settings)
    assert "s3cret-pw" not in str(caught.value)
