"""`load_settings`: a settings file given to one load is read by that load only; the process
environment is never written, so a later load (another command in the process, a test) does
not inherit it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from api.settings import CONFIG_ENV, ConfigFileError, load_settings


def _config(path: Path, log_level: str) -> Path:
    path.write_text(yaml.safe_dump({"log_level": log_level}), encoding="utf-8")
    return path


def test_a_loaded_file_does_not_leak_into_the_next_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./proofdesk.yaml here
    config = _config(tmp_path / "elsewhere.yaml", "ERROR")

    assert load_settings(config).log_level == "ERROR"

    assert CONFIG_ENV not in os.environ
    assert load_settings().log_level != "ERROR"  # the defaults, not the last file


def test_the_environment_variable_and_the_default_file_still_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CONFIG_ENV, str(_config(tmp_path / "named.yaml", "ERROR")))
    assert load_settings().log_level == "ERROR"

    monkeypatch.delenv(CONFIG_ENV)
    _config(tmp_path / "proofdesk.yaml", "WARNING")
    assert load_settings().log_level == "WARNING"

    with pytest.raises(ConfigFileError, match="not found"):
        load_settings(tmp_path / "missing.yaml")


def test_the_removed_api_question_limit_names_the_one_that_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The question limit is `agent.max_question_chars` alone: an old file setting the API's
    # copy is refused with the new key's name, not a bare "extra inputs are not permitted".
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    config = tmp_path / "old.yaml"
    config.write_text(yaml.safe_dump({"api": {"max_question_chars": 3000}}), encoding="utf-8")

    with pytest.raises(ValidationError, match=r"api\.max_question_chars was removed") as raised:
        load_settings(config)
    assert "agent.max_question_chars" in str(raised.value)
