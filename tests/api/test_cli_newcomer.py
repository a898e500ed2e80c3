"""The `proofdesk` command line as a newcomer meets it: fast start, quiet logs, whole tables,
clear refusals. Each command runs in a real process, as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rich.progress import Progress

from api.cli.console import CountColumn
from tests.fixtures.cli import write_cli_config
from tests.fixtures.served_app import STAFF_QUESTION, ServedApp
from tests.fixtures.sync_sources import write_sources_file

REPO = Path(__file__).resolve().parents[2]
POLICY = (
    "p, public, source:*, read, allow\n"
    "p, role:auditor, api, audit, allow\n"
    "g, user:erin, group:all-staff\n"
    "g, user:oscar, role:auditor\n"
)
MODEL_STACK = ("torch", "transformers", "sentence_transformers", "spacy", "presidio_analyzer")
# Runs the CLI as `python -m api.cli` does and, on exit, lists which of the model stack's
# modules the command imported.
PROBE = """
import atexit, json, runpy, sys
heavy = {heavy!r}
out = {out!r}
atexit.register(lambda: open(out, "w").write(json.dumps([m for m in heavy if m in sys.modules])))
sys.argv = ["proofdesk", *sys.argv[1:]]
runpy.run_module("api.cli", run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_cli_config(tmp_path, POLICY)


def _env(config: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PROOFDESK_CONFIG": str(config), **extra}
    env.pop("COLUMNS", None)
    return env


def _run(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=_env(config, **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _imported_model_stack(
    config: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    record = config.parent / "imported.json"
    code = PROBE.format(heavy=MODEL_STACK, out=str(record))
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=_env(config),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    imported: list[str] = json.loads(record.read_text(encoding="utf-8"))
    return result, imported


@pytest.mark.parametrize(
    ("args", "exit_code", "says"),
    [
        (["--help"], 0, "Usage"),
        (["audit", "--help"], 0, "queue"),
        (["api-key", "--id", "bot"], 0, "API key"),
        (["sources"], 0, "it-kb"),
        (["jobs"], 0, "job"),
        (["ask", "   "], 2, "the question is empty"),
        (["ask", "x" * 3000], 2, "the question is longer than 2000 characters"),
        (["ask", "why?", "--conversation", "no spaces allowed"], 2, "conversation_id must be"),
        (["search", "vpn", "--source", "nope"], 2, "unknown --source nope: the sources are it-kb"),
        (["search", "vpn", "--type", "exe"], 2, "unknown --type exe: the types are md, txt"),
    ],
)
def test_commands_that_need_no_model_do_not_load_one(
    config: Path, args: list[str], exit_code: int, says: str
) -> None:
    result, imported = _imported_model_stack(config, *args)

    assert result.returncode == exit_code, result.stderr
    assert says in result.stdout + result.stderr
    assert imported == []


def test_a_config_error_loads_no_model_and_names_the_source_by_id(
    config: Path, tmp_path: Path
) -> None:
    (tmp_path / "sources.yaml").write_text(
        "sources:\n"
        "  - {id: wiki, kind: filesystem, root: .}\n"
        "  - {id: handbook, kind: filesystem}\n",
        encoding="utf-8",
    )

    result, imported = _imported_model_stack(config, "ingest")

    assert result.returncode == 2
    assert "sources[handbook]: a filesystem source needs 'root'" in result.stderr
    assert "sources.1" not in result.stderr
    assert imported == []


def test_casbin_chatter_is_debug_not_info(config: Path) -> None:
    quiet = _run(config, "policy", "show")
    verbose = _run(config, "policy", "show", PROOFDESK_LOG_LEVEL="DEBUG")

    assert quiet.returncode == 0, quiet.stderr
    assert "casbin." not in quiet.stderr  # today: ~11 INFO lines with every user→group link
    assert "access policy" in quiet.stderr  # our own INFO line stays
    assert "DEBUG [-] casbin.policy: Model:" in verbose.stderr


def test_tables_written_to_a_pipe_are_not_cut_to_80_columns(config: Path, tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-for-the-knowledge-base-" * 2) / "it"
    deep.parent.mkdir(parents=True)
    (tmp_path / "kb" / "it").rename(deep)
    write_sources_file(tmp_path / "sources.yaml", deep)

    result = _run(config, "sources")

    assert result.returncode == 0, result.stderr
    [row] = [line for line in result.stdout.splitlines() if "it-kb" in line]
    assert str(deep) in row and "group:all-staff" in row and "0 * * * *" in row


def test_progress_shows_the_count_and_the_total_when_known() -> None:
    column = CountColumn()
    with Progress(column, disable=True) as bar:
        open_ended = bar.add_task("documents", total=None, completed=3)
        bounded = bar.add_task("chunks", total=10, completed=4)
        tasks = {t.id: t for t in bar.tasks}

    assert column.render(tasks[open_ended]).plain == "3"  # Rich's own column shows "3/?"
    assert column.render(tasks[bounded]).plain == "4/10"


def test_jobs_shows_an_access_only_change(config: Path, tmp_path: Path) -> None:
    assert _run(config, "ingest").returncode == 0
    sources = tmp_path / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    sources.write_text(text.replace('"group:all-staff"', '"group:it-staff"'), encoding="utf-8")
    [report] = json.loads(_run(config, "ingest", "--json").stdout)["sources"]
    assert (report["added"], report["updated"], report["deleted"]) == (0, 0, 0)
    assert report["acl_changed"] > 0

    listing = _run(config, "jobs")

    assert listing.returncode == 0, listing.stderr
    latest = next(line for line in listing.stdout.splitlines() if "+0 ~0 -0" in line)
    assert f"access changed {report['acl_changed']}" in latest


def test_scheduler_once_says_when_nothing_is_due(config: Path) -> None:
    first = _run(config, "scheduler", "--once")
    second = _run(config, "scheduler", "--once")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "ran: it-kb" in first.stderr
    assert "nothing is due now; next: " in second.stderr
    assert "--once" in _run(config, "scheduler", "--help").stdout


def test_audit_options_may_follow_the_subcommand(config: Path) -> None:
    # As the README writes it: `proofdesk audit queue --as oscar`.
    after = _run(config, "audit", "queue", "--json", "--as", "oscar", "--config", str(config))

    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == {"items": []}
    not_auditor = _run(config, "audit", "queue", "--as=erin")
    assert not_auditor.returncode == 1
    assert "(check --as)" in not_auditor.stderr


def test_ask_through_a_running_server(served: ServedApp) -> None:
    """`proofdesk ask --server` against the app as `proofdesk serve` builds it."""
    from typer.testing import CliRunner

    from api import cli

    def ask(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, ["ask", STAFF_QUESTION, *args])
        # JSON from stdout alone: the served app runs in this process and may log to the
        # captured stderr meanwhile, which `output` interleaves.
        return result.exit_code, result.stdout if "--json" in args else result.output

    act_as = served.keys["act_as"]
    code, output = ask("--server", served.url, "--api-key", act_as, "-u", "bob", "--json")
    assert code == 0, output
    answer = json.loads(output)
    assert answer["status"] == "answered" and answer["citations"], answer
    assert {c["source_id"] for c in answer["citations"]} == {"staff-kb"}
    stored = httpx.get(  # read back as its asker: the key acting for bob
        f"{served.url}/v1/answers/{answer['answer_id']}",
        headers={**served.auth("act_as"), "X-Proofdesk-User": "bob"},
    )
    assert stored.status_code == 200, stored.text  # the server answered it and recorded it
    code, output = ask("--server", served.url, "--api-key", served.keys["audit_svc"], "-u", "bob")
    assert code == 1 and "server refused the question (403)" in output, output
    code, output = ask("--server", served.url)
    assert code == 2 and "--server needs an API key" in output
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    code, output = ask("--server", closed, "--api-key", act_as)
    assert code == 1 and "cannot reach" in output
