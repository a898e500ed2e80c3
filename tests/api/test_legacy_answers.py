"""Upgrading from the API's own answer store (state revision 0001: `pd_api_answers`,
`pd_api_feedback`) to the audit record as the one store of answers, on SQLite: a start-up
refuses to drop the old tables while they hold rows, and `proofdesk migrate` copies them into
the audit record first (askers, answers it lacked, ratings it lacked, comments masked), once."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from alembic import command
from alembic.config import Config
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, inspect, text
from typer.testing import CliRunner

import infra.state_migrations
from agent.audit.store import AuditStore
from api import cli
from infra.state_migrations import state_head_revision, state_revision, upgrade_state_db
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from tests.fixtures.answers import wifi_answer

SECRET = "a-stable-pseudonym-key-for-this-test"
EMAIL = "jane.doe@example.com"
ASKED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _guard() -> PiiGuard:
    """Patterns only (no spaCy), with the configured key: pseudonyms agree with the command's."""
    settings = RedactionSettings(
        engine="patterns", analysis_processes=0, hmac_secret=SecretStr(SECRET)
    )
    return PiiGuard(redactor=PresidioRedactor(settings=settings))


def _state_at_baseline(url: str) -> Engine:
    """A state database as the previous version left it (revision 0001, the API's tables)."""
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(infra.state_migrations.__file__).parent))
    config.attributes["engine"] = engine
    command.upgrade(config, "0001_state_baseline")
    return engine


def _old_answer(engine: Engine, answer_id: str, asker: str) -> None:
    answer = dataclasses.replace(wifi_answer(), answer_id=answer_id)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO pd_api_answers VALUES (:id, :asker, :at, :json)"),
            {
                "id": answer_id,
                "asker": asker,
                "at": ASKED,
                "json": json.dumps(dataclasses.asdict(answer)),
            },
        )


def _old_rating(
    engine: Engine, answer_id: str, asker: str, rating: int, comment: str | None, at: datetime
) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO pd_api_feedback VALUES (:fid, :aid, :asker, :rating, :c, :at)"),
            {
                "fid": f"f-{answer_id}-{rating}-{at.timestamp()}",
                "aid": answer_id,
                "asker": asker,
                "rating": rating,
                "c": comment,
                "at": at,
            },
        )


@pytest.fixture
def upgrading(tmp_path: Path) -> tuple[Path, Engine, str]:
    """The previous version's databases: answer `a1` in both stores (the audit record without
    its asker, and bob's -1 in both, as the old service wrote it), a +1 on it only in the old
    store, answer `b2` (a key's, given before the audit record kept answers) only in the old
    store with a rating whose comment holds an e-mail address, and a rating of an answer
    neither store holds any more."""
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    state = _state_at_baseline(state_url)
    audit = AuditStore(url=audit_url, guard=_guard(), clock=lambda: ASKED)
    a1 = dataclasses.replace(wifi_answer(), answer_id="a1")
    audit.record(a1, Principal(user_id="bob"))  # the old pipeline named no asker
    audit.add_feedback("a1", -1, "outdated")  # the old service's copy: no user
    audit.close()
    _old_answer(state, "a1", "user:bob")
    _old_rating(state, "a1", "user:bob", -1, "outdated", ASKED + timedelta(seconds=1))
    _old_rating(state, "a1", "user:bob", 1, None, ASKED + timedelta(hours=2))
    _old_answer(state, "b2", "key:widget-a")
    _old_rating(state, "b2", "key:widget-a", -1, f"mail {EMAIL}", ASKED + timedelta(hours=3))
    _old_rating(state, "gone", "user:carol", 1, None, ASKED)
    config = tmp_path / "proofdesk.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "ingest": {"state_url": state_url},
                "audit": {"url": audit_url},
                "redaction": {"engine": "patterns", "hmac_secret": SECRET},
            }
        ),
        encoding="utf-8",
    )
    return config, state, audit_url


def _migrate(config: Path) -> dict[str, object]:
    result = CliRunner().invoke(cli.app, ["migrate", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_a_start_up_refuses_to_drop_the_old_answer_store_while_it_holds_rows(
    upgrading: tuple[Path, Engine, str],
) -> None:
    _, state, _ = upgrading
    with pytest.raises(RuntimeError, match="run `proofdesk migrate`"):
        upgrade_state_db(state)
    assert state_revision(state) == "0001_state_baseline"
    assert {"pd_api_answers", "pd_api_feedback"} <= set(inspect(state).get_table_names())


def test_migrate_copies_the_old_answers_and_feedback_into_the_audit_record(
    upgrading: tuple[Path, Engine, str],
) -> None:
    config, state, audit_url = upgrading

    report = _migrate(config)

    assert report["copied_from_api_store"] == {
        "askers": 1,
        "answers": 1,
        "feedback": 2,
        "duplicates": 1,
        "orphans": 1,
    }
    assert state_revision(state) == state_head_revision()
    assert not {"pd_api_answers", "pd_api_feedback"} & set(inspect(state).get_table_names())
    audit = AuditStore(url=audit_url, guard=_guard())
    try:
        a1, b2 = audit.get("a1"), audit.get("b2")
        assert a1 is not None and b2 is not None
        # Their askers read them back; nobody else does.
        assert audit.asked_by(a1, "user:bob") and not audit.asked_by(a1, "user:alice")
        assert audit.asked_by(b2, "key:widget-a") and not audit.asked_by(b2, "key:widget-b")
        assert b2.created_at == ASKED and b2.answer == wifi_answer().answer
        bob = _guard().pseudonymize("bob")
        assert sorted((f.rating, f.user_pseudonym) for f in audit.feedback_for("a1")) == [
            (-1, None),  # the copy the old service wrote: kept once
            (1, bob),
        ]
        [rated] = audit.feedback_for("b2")
        assert rated.rating == -1 and rated.created_at == ASKED + timedelta(hours=3)
        assert rated.comment is not None and EMAIL not in rated.comment
    finally:
        audit.close()

    again = _migrate(config)  # nothing is copied twice
    assert again["copied_from_api_store"] == dict.fromkeys(
        ("askers", "answers", "feedback", "duplicates", "orphans"), 0
    )
