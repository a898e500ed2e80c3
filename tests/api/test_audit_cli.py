"""`proofdesk audit …`: the whole flow directly on the database and through a running server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import audit as audit_cli
from api.cli.audit import CliDeps
from tests.fixtures.audit_app import AuditKeys, audit_app, make_authenticator
from tests.fixtures.audit_reviews import AuditWorld, build_world
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.live_server import LiveServer, serve

runner = CliRunner(env={"COLUMNS": "240"})  # wide enough that tables do not wrap ids


@pytest.fixture
def world(tmp_path: Path, kb_index: KbIndex) -> Iterator[AuditWorld]:
    built = build_world(tmp_path, kb_index)
    yield built
    built.close()


def direct(world: AuditWorld, *args: str, user: str = "oscar") -> tuple[int, str]:
    """Run a command in direct mode over the test world (as `user`), return (code, output)."""
    deps = CliDeps(service=lambda: world.service, policy=world.kb.policy)
    result = runner.invoke(audit_cli.app, ["--as", user, *args], obj=deps)
    return result.exit_code, result.output


def test_direct_queue_pick_show_review_report(world: AuditWorld, tmp_path: Path) -> None:
    five, weak = world.answers["five"], world.answers["weak"]
    code, output = direct(world, "queue", "--json")
    assert code == 0, output
    assert [i["answer_id"] for i in json.loads(output)["items"]] == [weak]
    code, output = direct(world, "queue")
    assert code == 0 and weak in output and "low_support" in output

    code, output = direct(world, "pick", five)
    assert code == 0 and f"picked {five}" in output
    code, output = direct(world, "queue", "--json", "--limit", "1")
    assert [i["answer_id"] for i in json.loads(output)["items"]] == [five]

    code, output = direct(world, "show", five)
    assert code == 0, output
    item = world.service.item(five, world.oscar)
    assert "415 555 0134" not in output
    assert all(c.quote.split()[0] in output for c in item.citations)
    code, output = direct(world, "show", five, "--json")
    assert json.loads(output)["reviewable_markers"] == [1, 2, 3, 4, 5]

    code, output = direct(
        world,
        "review",
        five,
        "--all",
        "supports",
        "-v",
        "3=2",
        "-v",
        "5=i",
        "--answer",
        "partially_correct",
        "--note",
        "Citation 5 is off topic; ask jane.doe@example.com.",
        "--json",
    )
    assert code == 0, output
    stored = json.loads(output)
    assert stored["citation_verdicts"] == {
        "1": "supports",
        "2": "supports",
        "3": "partially_supports",
        "4": "supports",
        "5": "irrelevant",
    }
    assert "jane.doe@example.com" not in stored["note"]

    code, output = direct(world, "report", "--format", "json")
    assert code == 0, output
    report = json.loads(output)
    assert report["reviews"] == 1 and report["overall"]["precision"] == 0.7
    code, output = direct(world, "report")
    assert code == 0 and "citation precision 70.0%" in output and "2026-W46" in output
    target = tmp_path / "report.csv"
    code, output = direct(world, "report", "--format", "csv", "--output", str(target))
    assert code == 0 and f"wrote {target}" in output.replace("\n", "")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0]["group"] == "overall" and rows[0]["precision"] == "0.7000"
    code, output = direct(world, "report", "--format", "json", "--until", "2026-11-09")
    assert json.loads(output)["reviews"] == 0


def test_direct_mode_errors_are_one_line_and_an_exit_code(world: AuditWorld) -> None:
    five = world.answers["five"]
    result = runner.invoke(
        audit_cli.app, ["queue"], obj=CliDeps(service=lambda: world.service, policy=world.kb.policy)
    )
    assert result.exit_code == 2 and "--as USER" in result.output
    code, output = direct(world, "queue", user="bob")
    assert code == 1 and "auditor role" in output
    code, output = direct(world, "show", "no-such-answer")
    assert code == 4 and "no recorded answer" in output
    code, output = direct(world, "review", five, "-v", "1=supports", "--answer", "correct")
    assert code == 2 and "[2], [3], [4], [5] needs a verdict" in output
    code, output = direct(world, "review", five, "-v", "one", "--answer", "correct")
    assert code == 2 and "MARKER=VERDICT" in output
    code, output = direct(world, "review", five, "--all", "maybe", "--answer", "correct")
    assert code == 2 and "invalid review" in output
    code, output = direct(world, "report", "--format", "pdf")
    assert code == 2 and "table, json or csv" in output
    assert world.service.history(five, world.oscar) == []


@pytest.fixture
def live(world: AuditWorld) -> Iterator[tuple[LiveServer, AuditKeys]]:
    authenticator, keys = make_authenticator(world.kb.policy)
    server = serve(audit_app(world.service, authenticator))
    yield server, keys
    server.stop()


def test_through_a_running_server(
    world: AuditWorld, live: tuple[LiveServer, AuditKeys], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, keys = live
    five = world.answers["five"]
    monkeypatch.setenv("PROOFDESK_API_KEY", keys.oscar)

    def remote(*args: str) -> tuple[int, str]:
        result = runner.invoke(audit_cli.app, ["--server", server.url, *args])
        # JSON is read from stdout alone: the live server runs in this process, and a line it
        # logs meanwhile goes to the (captured) stderr, which `output` interleaves.
        return result.exit_code, result.stdout if "--json" in args else result.output

    code, output = remote("pick", five)
    assert code == 0, output
    code, output = remote("queue", "--json")
    assert next(i["answer_id"] for i in json.loads(output)["items"]) == five
    code, output = remote("show", five)
    assert code == 0 and "[1]" in output and "[5]" in output
    code, output = remote("review", five, "--all", "s", "--answer", "correct", "--json")
    assert code == 0, output
    assert set(json.loads(output)["citation_verdicts"].values()) == {"supports"}
    code, output = remote("report", "--format", "csv")
    assert code == 0 and output.startswith("group,key,answers,citations")
    assert "overall,all,1,5,5,5,0,0,0,1.0000,1.0000" in output

    code, output = remote("show", "no-such-answer")
    assert code == 4 and "404" in output
    monkeypatch.setenv("PROOFDESK_API_KEY", keys.bob_audit)
    code, output = remote("queue")
    assert code == 1 and "403" in output and "auditor role" in output
    monkeypatch.setenv("PROOFDESK_API_KEY", "pdk_not-a-key")
    code, output = remote("queue")
    assert code == 1 and "401" in output
    monkeypatch.setenv("PROOFDESK_API_KEY", keys.act_as)
    result = runner.invoke(audit_cli.app, ["--server", server.url, "--as", "oscar", "queue"])
    assert result.exit_code == 0, result.output


def test_direct_mode_builds_itself_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test doubles: the settings' default audit database (here empty) and the KB policy."""
    monkeypatch.chdir(tmp_path)
    policy = Path(__file__).resolve().parents[2] / "kb" / "policy.csv"
    monkeypatch.setenv("PROOFDESK_POLICY__POLICY_PATH", str(policy))
    result = runner.invoke(audit_cli.app, ["--as", "oscar", "queue", "--json"])
    assert result.exit_code == 0, result.output
    # stdout is the document; warnings (no hmac_secret here) go to stderr, masked
    assert json.loads(result.stdout) == {"items": []}
    assert (tmp_path / ".proofdesk" / "audit.db").is_file()
    result = runner.invoke(audit_cli.app, ["--as", "bob", "report"])
    assert result.exit_code == 1 and "auditor role" in result.output


def test_an_answer_with_only_restricted_citations_is_skipped_with_a_reason(
    world: AuditWorld,
) -> None:
    salary = world.answers["salary"]
    code, output = direct(world, "show", salary)
    assert code == 0 and "every citation is restricted for you" in output
    code, output = direct(world, "review", salary, "--answer", "correct")
    assert code == 2 and "skip it with a reason" in output  # today: recorded as a review

    code, output = direct(world, "skip", salary, "--reason", "all restricted for me")

    assert code == 0 and f"skipped {salary}" in output, output
    assert world.service.history(salary, world.oscar) == []
