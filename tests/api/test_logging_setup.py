"""`api.logging_setup`: the one masked handler every entry point installs (text or JSON), its
guard built on the first record, and the CLI commands and the audit CLI installing it."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from api.cli import audit as audit_cli
from api.cli.common import command_settings
from api.logging_setup import LoggingSettings, LogMasking, configure_logging, masking_guard
from policies.pii.guard import PiiGuard
from policies.pii.settings import RedactionSettings
from tests.fixtures.pii import make_guard

EMAIL = "maria.gonzalez@contoso.com"
CARD = "4111111111111111"


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def _our_handlers() -> list[logging.Handler]:
    return [
        h for h in logging.getLogger().handlers if any(isinstance(f, LogMasking) for f in h.filters)
    ]


def test_json_lines_are_masked() -> None:
    stream = io.StringIO()
    configure_logging(
        level="INFO", settings=LoggingSettings(format="json"), guard=make_guard, stream=stream
    )

    logging.getLogger("tests.logging").warning("refund for %s, card %s", EMAIL, CARD)

    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    [line] = [line for line in lines if line["logger"] == "tests.logging"]
    assert line["level"] == "WARNING" and line["logger"] == "tests.logging"
    assert "refund for <EMAIL_ADDRESS" in line["message"]
    assert EMAIL not in stream.getvalue() and CARD not in stream.getvalue()


def test_a_second_configuration_replaces_the_first_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(level="INFO", settings=LoggingSettings(), guard=make_guard, stream=first)
    configure_logging(level="INFO", settings=LoggingSettings(), guard=make_guard, stream=second)

    logging.getLogger("tests.logging").warning("mail %s", EMAIL)

    assert len(_our_handlers()) == 1
    assert first.getvalue() == "" and "mail <EMAIL_ADDRESS" in second.getvalue()


def test_records_logged_while_the_guard_is_built_wait_and_are_masked() -> None:
    stream = io.StringIO()

    def build() -> PiiGuard:
        logging.getLogger("tests.logging.build").warning("building for %s", EMAIL)
        return make_guard()

    configure_logging(level="INFO", settings=LoggingSettings(), guard=build, stream=stream)
    logging.getLogger("tests.logging").warning("first record %s", CARD)

    lines = [line for line in stream.getvalue().splitlines() if " tests.logging" in line]
    assert [line.split(": ", 1)[1].split(" ")[0] for line in lines] == ["building", "first"]
    assert EMAIL not in stream.getvalue() and CARD not in stream.getvalue()


def test_a_guard_build_that_logs_after_a_command_replaced_the_handler_does_not_deadlock() -> None:
    # CI hung here: a server thread built the command's guard (`masking_guard`, under its
    # lock), the command in the same process configured logging again meanwhile, and the
    # build's own warning reached the new handler, which built the guard again: under the
    # same lock, in the same thread, for ever.
    stream = io.StringIO()
    fresh = RedactionSettings(engine="patterns", allow_list=[f"deadlock-{uuid.uuid4().hex}"])

    def build_while_replaced() -> PiiGuard:
        configure_logging(
            level="INFO",
            settings=LoggingSettings(),
            guard=lambda: masking_guard(fresh),
            stream=stream,
        )
        return masking_guard(fresh)  # its build logs a warning (no hmac_secret) to the new one

    configure_logging(
        level="INFO", settings=LoggingSettings(), guard=build_while_replaced, stream=stream
    )
    worker = threading.Thread(
        target=lambda: logging.getLogger("tests.logging").warning("first %s", EMAIL), daemon=True
    )
    worker.start()
    worker.join(60)

    assert not worker.is_alive(), "logging deadlocked while the guard was built"
    assert "no redaction.hmac_secret configured" in stream.getvalue()
    assert EMAIL not in stream.getvalue()


def test_other_threads_never_wait_for_the_guard_build() -> None:
    stream = io.StringIO()
    building, release = threading.Event(), threading.Event()

    def slow_build() -> PiiGuard:
        building.set()
        assert release.wait(30)
        return make_guard()

    configure_logging(level="INFO", settings=LoggingSettings(), guard=slow_build, stream=stream)
    builder = threading.Thread(
        target=lambda: logging.getLogger("tests.logging").warning("first %s", CARD), daemon=True
    )
    builder.start()
    assert building.wait(30)
    other = threading.Thread(
        target=lambda: logging.getLogger("tests.logging").warning("other %s", EMAIL), daemon=True
    )
    other.start()
    other.join(10)
    assert not other.is_alive(), "a record from another thread waited for the build"
    assert stream.getvalue() == ""  # held, not written unmasked

    release.set()
    builder.join(30)
    logged = stream.getvalue()
    assert "first <CREDIT_CARD" in logged and "other <EMAIL_ADDRESS" in logged
    assert EMAIL not in logged and CARD not in logged


def test_records_wait_for_the_guard_handed_over_later() -> None:
    stream = io.StringIO()
    masking = configure_logging(level="INFO", settings=LoggingSettings(), guard=None, stream=stream)
    logging.getLogger("tests.logging").warning("early %s", EMAIL)
    assert stream.getvalue() == ""

    masking.use(make_guard())

    assert "early <EMAIL_ADDRESS" in stream.getvalue() and EMAIL not in stream.getvalue()


def test_a_guard_that_cannot_be_built_withholds_the_content() -> None:
    stream = io.StringIO()

    def broken() -> PiiGuard:
        raise RuntimeError("no model")

    configure_logging(level="INFO", settings=LoggingSettings(), guard=broken, stream=stream)
    logging.getLogger("tests.logging").error("mail %s", EMAIL)

    assert "withheld: log masking unavailable (RuntimeError)" in stream.getvalue()
    assert EMAIL not in stream.getvalue()


def test_the_logging_format_is_a_setting(tmp_path: Path) -> None:
    config = tmp_path / "proofdesk.yaml"
    config.write_text(yaml.safe_dump({"logging": {"format": "json"}}), encoding="utf-8")
    assert command_settings(config).logging.format == "json"
    config.write_text(yaml.safe_dump({"logging": {"format": "xml"}}), encoding="utf-8")
    with pytest.raises(typer.Exit):
        command_settings(config)


def test_cli_commands_log_masked(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # Every command (ingest, ask, scheduler, serve, ...) starts with `command_settings`.
    config = tmp_path / "proofdesk.yaml"
    config.write_text(yaml.safe_dump({"log_level": "INFO"}), encoding="utf-8")

    command_settings(config)
    logging.getLogger("proofdesk.test").warning("sync failed for %s (card %s)", EMAIL, CARD)

    logged = capfd.readouterr().err
    assert "sync failed for <EMAIL_ADDRESS" in logged
    assert EMAIL not in logged and CARD not in logged


def test_the_audit_cli_logs_masked(capfd: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = CliRunner().invoke(
        audit_cli.app, ["--server", f"http://127.0.0.1:{port}", "--api-key", "k", "queue"]
    )
    logging.getLogger("proofdesk.test").warning("reviewed by %s", EMAIL)

    assert result.exit_code != 0
    assert len(_our_handlers()) == 1
    logged = capfd.readouterr().err
    assert "reviewed by <EMAIL_ADDRESS" in logged and EMAIL not in logged
