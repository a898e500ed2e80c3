"""`proofdesk api-key --write FILE`: the entry goes into the keys file the server reads (created
when missing, mode 0600), a duplicate is refused and the file is left as it was; the file
loads as the server loads `api.api_keys_file`, and accepts the printed keys."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner, Result

from api.auth import ApiKeyStore
from api.cli import app


def _api_key(*args: str) -> Result:
    return CliRunner().invoke(app, ["api-key", *args], env={"COLUMNS": "400"})


def test_write_creates_appends_and_refuses_duplicates(tmp_path: Path) -> None:
    keys_file = tmp_path / "conf" / "api_keys.yaml"
    bot = _api_key("--id", "ticket-bot", "--scopes", "chat,act_as", "--write", str(keys_file))
    assert bot.exit_code == 0, bot.stderr
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    auditor = _api_key(
        "--id",
        "oscar-audit",
        "--scopes",
        "audit,chat",
        "--user",
        "oscar",
        "--write",
        str(keys_file),
    )
    assert auditor.exit_code == 0, auditor.stderr
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    text = keys_file.read_text(encoding="utf-8")
    assert text.startswith("keys:")
    bot_key, auditor_key = bot.stdout.strip(), auditor.stdout.strip()
    assert bot_key not in text and auditor_key not in text  # hashes only

    store = ApiKeyStore.load(keys_file)
    found = store.lookup(auditor_key)
    assert found is not None and found.user_id == "oscar" and set(found.scopes) == {"audit", "chat"}
    assert store.lookup(bot_key) is not None

    again = _api_key("--id", "ticket-bot", "--write", str(keys_file))
    assert again.exit_code != 0 and "already has a key with id 'ticket-bot'" in again.stderr
    assert keys_file.read_text(encoding="utf-8") == text  # nothing lost, nothing added


def test_write_refuses_an_invalid_keys_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "api_keys.yaml"
    keys_file.write_text("keys:\n  - id: broken\n", encoding="utf-8")
    result = _api_key("--id", "bot", "--write", str(keys_file))
    assert result.exit_code != 0 and str(keys_file) in result.stderr
    assert keys_file.read_text(encoding="utf-8") == "keys:\n  - id: broken\n"
