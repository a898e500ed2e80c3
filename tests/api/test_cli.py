"""The `proofdesk` command line, run as a user runs it (a real process, real components)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

from retrieval.store_factory import EdgeStoreSettings, open_store
from tests.fixtures.cli import run_cli, write_cli_config

REPO = Path(__file__).resolve().parents[2]
POLICY = "p, public, source:*, read, allow\ng, user:erin, group:all-staff\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_cli_config(tmp_path, POLICY)


def test_ingest_json_reports_every_source_and_a_rerun_embeds_nothing(config: Path) -> None:
    first = run_cli(config, "ingest", "--json")
    second = run_cli(config, "ingest", "--json")

    assert first.returncode == 0, first.stderr
    [report] = json.loads(first.stdout)["sources"]
    assert (report["source_id"], report["status"], report["added"]) == ("it-kb", "succeeded", 4)
    assert report["chunks_embedded"] > 0 and report["failures"] == []
    assert {"job_id", "duration_seconds", "quarantined", "acl_changed"} <= set(report)
    [again] = json.loads(second.stdout)["sources"]
    assert (again["unchanged"], again["chunks_embedded"]) == (4, 0)
    jobs = json.loads(run_cli(config, "jobs", "--json").stdout)["jobs"]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"]


def test_an_unapproved_source_is_refused_before_anything_runs(config: Path) -> None:
    result = run_cli(config, "ingest", "--source", "payroll-share")

    assert result.returncode == 2
    assert "'payroll-share' is not declared in the sources file" in result.stderr
    assert json.loads(run_cli(config, "jobs", "--json").stdout)["jobs"] == []


def test_an_invalid_sources_file_is_a_clear_error(config: Path, tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text("sources:\n  - id: x\n    kind: ftp\n", "utf-8")

    result = run_cli(config, "ingest")

    assert result.returncode == 2
    assert "unknown source kind 'ftp'" in result.stderr


def test_an_invalid_policy_is_a_configuration_error_not_a_traceback(tmp_path: Path) -> None:
    # Every ConfigurationError (here the policy's PolicyLoadError) is one line and exit 2.
    config = write_cli_config(tmp_path, "p, public, source:Not An Id, read, allow\n")

    result = run_cli(config, "search", "VPN")

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: policy file ")
    assert "invalid source 'source:Not An Id'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        ("ingest", "proofdesk ingest --server URL"),
        ("prune", "proofdesk prune --server URL"),
        ("search VPN", "proofdesk search --server URL"),
    ],
)
def test_a_command_while_another_process_owns_the_index_fails_clearly(
    config: Path, tmp_path: Path, command: str, hint: str
) -> None:
    holder = open_store(EdgeStoreSettings(path=tmp_path / "index"), dimension=384)
    try:
        result = run_cli(config, *command.split())
    finally:
        holder.close()

    assert result.returncode == 3
    assert "open in another process" in result.stderr
    assert hint in result.stderr


def test_search_and_ask_answer_as_a_user(config: Path) -> None:
    assert run_cli(config, "ingest").returncode == 0

    search = json.loads(
        run_cli(config, "search", "VPN tunnel drops", "--user", "erin", "--json").stdout
    )
    ask = run_cli(config, "ask", "What does error 809 mean?", "--user", "erin", "--json")

    assert search["hits"] and search["hits"][0]["document_id"] == "it-kb:vpn.md"
    assert "group:all-staff" in search["hits"][0]["allowed_by"]
    answer = json.loads(ask.stdout)
    assert answer["status"] == "answered", answer
    assert any(c["document_id"] == "it-kb:vpn.md" for c in answer["citations"])


def test_api_key_prints_a_key_whose_entry_the_keys_file_accepts(
    config: Path, tmp_path: Path
) -> None:
    from api.auth import ApiKeyStore

    result = run_cli(config, "api-key", "--id", "bot", "--scopes", "chat,act_as", "--user", "svc")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    entry_yaml = result.stderr.split("api.api_keys_file:", 1)[1]
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(yaml.safe_dump({"keys": yaml.safe_load(entry_yaml)}), encoding="utf-8")

    store = ApiKeyStore.load(keys_file)
    found = store.lookup(key)
    assert found is not None and set(found.scopes) == {"chat", "act_as"}
    assert store.lookup(key + "x") is None
    assert key not in keys_file.read_text(encoding="utf-8")


def test_api_key_rejects_an_unknown_scope(config: Path) -> None:
    result = run_cli(config, "api-key", "--id", "bot", "--scopes", "chat,root")
    assert result.returncode == 2 and "scopes must be among" in result.stderr


def test_eval_and_audit_are_subcommands_of_the_installed_cli(config: Path) -> None:
    # `eval` lives above `api` in the layering and arrives through the entry point that
    # pyproject.toml declares; `audit` is the CLI's own.
    listing = run_cli(config, "--help")
    assert listing.returncode == 0, listing.stderr
    assert "eval" in listing.stdout and "audit" in listing.stdout
    suites = run_cli(config, "eval", "--help")
    assert suites.returncode == 0, suites.stderr
    for suite in ("retrieval", "answers", "leakage", "pii", "injection", "all"):
        assert suite in suites.stdout
    missing = run_cli(config, "eval", "retrieval", "--data", str(config.parent / "no-such-dir"))
    assert missing.returncode == 2
    assert "no-such-dir" in missing.stdout + missing.stderr
    audit = run_cli(config, "audit", "--help")
    assert audit.returncode == 0, audit.stderr
    assert "queue" in audit.stdout and "review" in audit.stdout


def test_an_unwritable_onnx_cache_dir_is_a_usage_error_not_a_traceback(
    config: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["embedding"] = {"onnx_cache_dir": str(blocker / "onnx")}
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    result = run_cli(config, "ingest", "--json")

    assert result.returncode == 2, result.stderr
    assert "embedding.onnx_cache_dir" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "index").exists()  # nothing was written


def test_prune_removes_what_deleted_documents_left_and_keeps_the_rest(
    config: Path, tmp_path: Path
) -> None:
    assert run_cli(config, "ingest").returncode == 0
    (tmp_path / "kb" / "it" / "printers.txt").unlink()
    assert run_cli(config, "ingest").returncode == 0

    dry = run_cli(config, "prune", "--dry-run", "--json")
    done = run_cli(config, "prune", "--json")

    assert dry.returncode == 0 and done.returncode == 0, dry.stderr + done.stderr
    planned, report = json.loads(dry.stdout), json.loads(done.stdout)
    assert planned["dry_run"] and not report["dry_run"]
    assert report["removed"] == planned["removed"] > 0
    assert {"embedding_cache", "sentence_vectors", "sentence_screens", "pii_findings"} == set(
        report["tables"]
    )
    assert all(t["removed"] > 0 for t in report["tables"].values())
    # The live chunks kept their rows: re-syncing the same tree embeds nothing.
    [again] = json.loads(run_cli(config, "ingest", "--json").stdout)["sources"]
    assert again["chunks_embedded"] == 0


def test_an_invalid_prune_schedule_is_a_settings_error(config: Path) -> None:
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["ingest"]["prune_schedule"] = "every night"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    result = run_cli(config, "prune")

    assert result.returncode == 2
    assert "invalid cron expression 'every night'" in result.stderr


def test_scheduler_once_runs_due_sources_and_lists_the_maintenance_tasks(config: Path) -> None:
    result = run_cli(config, "scheduler", "--once")

    assert result.returncode == 0, result.stderr
    assert "it-kb: next run" in result.stderr
    assert "state:prune: next run" in result.stderr  # waits for its first 03:30
    assert "audit:retention: next run" in result.stderr
    jobs = json.loads(run_cli(config, "jobs", "--json").stdout)["jobs"]
    assert [(j["source_id"], j["trigger"], j["status"]) for j in jobs] == [
        ("it-kb", "schedule", "succeeded")
    ]


@pytest.mark.parametrize("command", ["prune", "ingest", "retention"])
def test_an_unreachable_database_is_one_line_and_exit_1(config: Path, command: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    settings["ingest"]["state_url"] = unreachable
    settings["audit"]["url"] = unreachable
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    result = run_cli(config, command)

    assert result.returncode == 1, result.stderr
    assert "error: database: OperationalError" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_output_shows_control_characters_in_file_names_escaped(
    config: Path, tmp_path: Path
) -> None:
    # A file whose name would recolour the terminal and forge a line of the report.
    name = "evil\x1b[31mred\nfailed it-kb:forged.md: \u202eok [bold]x.pdf"
    (tmp_path / "kb" / "it" / name).write_bytes(b"not a pdf at all")

    result = run_cli(config, "ingest")

    assert result.returncode == 0, result.stderr
    shown = result.stdout
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "\nfailed it-kb:forged.md" not in shown
    # (words, not the whole line: the table console wraps long lines at blanks)
    assert "evil\\x1b[31mred\\nfailed" in shown
    assert "\\u202eok" in shown and "[bold]x.pdf" in shown
