"""Masked logs: the filter and the JSON formatter over the real redactor and real `logging`."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from agent.log_masking import MaskedJsonFormatter, PiiLogFilter
from agent.request_context import current_request_id, request_id_scope
from policies.pii.guard import PiiGuard
from policies.pii.masking_session import MaskingSession
from policies.pii.types import PiiFinding
from tests.fixtures.pii import labelled_texts, leaked_values, make_guard


@pytest.fixture
def guard() -> PiiGuard:
    return make_guard()


@pytest.fixture
def json_log(guard: PiiGuard) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose only handler masks (filter) and writes JSON lines into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PiiLogFilter(guard))
    handler.setFormatter(MaskedJsonFormatter(guard))
    logger = logging.getLogger("tests.agent.log_masking")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_json_logs_carry_no_labelled_pii(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_log
    samples = labelled_texts()
    with request_id_scope("req-7f3a9c"):
        for sample in samples:
            logger.info(
                "question received: %s",
                sample.text,
                extra={"evidence": [sample.text, {"quote": sample.text}], "top_k": 5},
            )
            try:
                raise RuntimeError(f"lookup failed for {sample.text}")
            except RuntimeError:
                logger.exception("step failed for %r", sample.text)

    output = stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 2 * len(samples)
    assert leaked_values(output) == []
    assert leaked_values(json.dumps(lines, ensure_ascii=False)) == []
    first = lines[0]
    assert set(first) >= {"time", "level", "logger", "request_id", "message", "evidence", "top_k"}
    assert first["request_id"] == "req-7f3a9c"
    assert first["level"] == "INFO"
    assert first["top_k"] == 5
    assert first["message"].startswith("question received: ")
    assert "Traceback" in lines[1]["exception"]
    assert "RuntimeError: lookup failed for" in lines[1]["exception"]


def test_filter_masks_for_every_later_handler(
    guard: PiiGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(PiiLogFilter(guard))
    logger = logging.getLogger("tests.agent.log_masking.caplog")
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            for sample in labelled_texts():
                logger.warning("user wrote %s", sample.text, extra={"raw": sample.text})
    finally:
        caplog.handler.filters.clear()
    assert len(caplog.records) == len(labelled_texts())
    assert leaked_values(caplog.text) == []
    assert leaked_values(repr([r.__dict__ for r in caplog.records])) == []
    assert all(r.args is None and r.exc_info is None for r in caplog.records)


def test_formatter_alone_masks_too(guard: PiiGuard) -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "caller %s", ("Priya Raman, +1 415 555 0132",), None
    )
    record.request_id = "Priya Raman"
    line = json.loads(MaskedJsonFormatter(guard).format(record))
    assert "Priya" not in json.dumps(line)
    assert "555 0132" not in line["message"]
    assert line["request_id"].startswith("usr_")  # an unsafe request id is pseudonymised


def test_bad_arguments_never_raise_and_never_leak(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    logger.info("two values %s %s", "maria.gonzalez@contoso.com")  # noqa: PLE1206 - on purpose
    line = json.loads(stream.getvalue())
    assert "withheld" in line["message"]
    assert "maria" not in stream.getvalue()
    assert current_request_id() is None
    assert line["request_id"] is None


class _BrokenRedactor:
    @property
    def entities(self) -> frozenset[str]:
        return frozenset({"PERSON"})

    def find(self, text: str) -> list[PiiFinding]:
        raise RuntimeError("analyzer down")

    def mask(self, text: str, *, session: MaskingSession | None = None) -> str:
        raise RuntimeError("analyzer down")


def test_when_masking_fails_the_record_is_withheld() -> None:
    guard = PiiGuard(redactor=_BrokenRedactor(), pseudonymizer=make_guard())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PiiLogFilter(guard))
    handler.setFormatter(MaskedJsonFormatter(guard))
    logger = logging.getLogger("tests.agent.log_masking.broken")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("for %s", "Maria Gonzalez", extra={"who": "Maria Gonzalez"})
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "Maria" not in output
    assert "masking failed" in json.loads(output)["message"]
