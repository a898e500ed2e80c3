"""`PiiGuard`: the choke point. Real Presidio redactor; a counting wrapper only to observe calls."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from policies.pii.guard import PiiGuard, safe_name
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from tests.fixtures.counting import CountingRedactor
from tests.fixtures.pii import labelled_texts, leaked_values, make_guard


@pytest.fixture
def guard() -> PiiGuard:
    return make_guard()


@dataclasses.dataclass
class _Evidence:
    chunk_id: str
    text: str
    score: float


def test_mask_value_masks_every_string_and_keeps_structure(guard: PiiGuard) -> None:
    for sample in labelled_texts():
        value = {
            "question": sample.text,
            "evidence": [_Evidence("c1", sample.text, 0.7), (sample.text, 3)],
            "nested": {"deeper": {sample.text: sample.text}},
            "top_k": 5,
            "ratio": 0.5,
            "ok": True,
            "none": None,
        }
        masked = guard.mask_value(value)

        assert isinstance(masked, dict)
        assert leaked_values(repr(masked["question"]), sample.values) == []
        assert leaked_values(repr(masked["evidence"]), sample.values) == []
        assert (masked["top_k"], masked["ratio"], masked["ok"], masked["none"]) == (
            5,
            0.5,
            True,
            None,
        )
        assert masked["evidence"][0]["chunk_id"] == "c1"
        assert masked["evidence"][0]["score"] == 0.7
        assert masked["evidence"][1][1] == 3
        # keys are kept as they are (they are code-defined names, not data)
        assert list(masked["nested"]["deeper"]) == [sample.text]


def test_placeholders_are_consistent_within_a_scope(guard: PiiGuard) -> None:
    with guard.scope() as session:
        first = guard.mask_text("Ticket from Maria Gonzalez (maria.gonzalez@contoso.com).")
        with guard.scope() as inner:  # nested scopes share the outer one
            second = guard.mask_text("Reply to maria.gonzalez@contoso.com, cc Priya Raman.")
        assert inner is session
    assert "<EMAIL_ADDRESS_1>" in first
    assert "<EMAIL_ADDRESS_1>" in second
    assert "<PERSON_2>" in second
    outside = guard.mask_text("Priya Raman called.")
    assert "<PERSON_1>" in outside  # a fresh numbering outside any scope


def test_a_text_is_analysed_once_per_scope_and_masked_output_never_again() -> None:
    counting = CountingRedactor(make_guard().redactor)
    guard = PiiGuard(redactor=counting)
    text = labelled_texts()[2].text
    with guard.scope():
        masked = guard.mask_text(text)
        assert guard.mask_text(text) == masked
        assert guard.mask_value({"q": masked, "a": [masked]}) == {"q": masked, "a": [masked]}
    assert counting.calls == 1
    assert guard.is_masked_output(masked)
    assert not guard.is_masked_output(text)


def test_pseudonyms_are_keyed_stable_and_never_the_id(guard: PiiGuard) -> None:
    user = "jane.doe@example.com"
    pseudonym = guard.pseudonymize(user)
    assert pseudonym == guard.pseudonymize(user)
    assert pseudonym == make_guard().pseudonymize(user)  # the configured key: stable
    assert pseudonym.startswith("usr_")
    assert "jane" not in pseudonym
    assert pseudonym != guard.pseudonymize("john.roe@example.com")


def test_without_a_key_pseudonyms_use_a_process_key_announced_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redactor = PresidioRedactor(settings=RedactionSettings(engine="patterns"))
    caplog.set_level(logging.INFO, logger="policies.pii.guard")
    first = PiiGuard(redactor=redactor)
    for _ in range(5):
        first.pseudonymize("jane.doe")
    second = PiiGuard(redactor=redactor)

    warnings = [r for r in caplog.records if "not stable across restarts" in r.getMessage()]
    assert len(warnings) == 2  # once per guard (one per process in an app), never per call
    assert first.pseudonymize("jane.doe") == first.pseudonymize("jane.doe")
    assert first.pseudonymize("jane.doe") != second.pseudonymize("jane.doe")
    assert "jane" not in first.pseudonymize("jane.doe")


def test_safe_id_keeps_clean_ids_and_pseudonymises_the_rest(guard: PiiGuard) -> None:
    assert guard.safe_id("c-7f9e2a") == "c-7f9e2a"
    assert guard.safe_id("4bf92f3577b34da6a3ce929d0e0e4736") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert guard.safe_id("2b0c9a1e-4f7d-4c41-9a65-0d3c2b7e8f10") == (
        "2b0c9a1e-4f7d-4c41-9a65-0d3c2b7e8f10"
    )
    unsafe_ids = (
        "maria.gonzalez@contoso.com",
        "Maria Gonzalez",
        "jane.doe",
        "EMP-204871",
        "415-555-0132",
        "4111111111111111",
        "x" * 200,
    )
    for unsafe in unsafe_ids:
        masked = guard.safe_id(unsafe)
        assert masked.startswith("usr_")
        assert unsafe not in masked


def test_exceptions_are_masked_and_bounded(guard: PiiGuard) -> None:
    message = guard.mask_exception(ValueError("no account for maria.gonzalez@contoso.com " * 50))
    assert message.startswith("ValueError: no account for <EMAIL_ADDRESS_1>")
    assert "maria" not in message
    assert len(message) <= 520


def test_safe_name_lets_only_code_style_names_through() -> None:
    assert safe_name("retrieve") == "retrieve"
    assert safe_name("llm.compose") == "llm.compose"
    assert safe_name("Maria Gonzalez") == "span"
    assert safe_name("status", default="score") == "status"
    assert safe_name("x" * 65) == "span"


def test_identifier_lists_pass_and_anything_else_under_them_is_masked() -> None:
    counting = CountingRedactor(make_guard().redactor)
    guard = PiiGuard(redactor=counting)
    masked = guard.mask_mapping(
        {
            "document_ids": ["it-kb:vpn/setup.md", "hr:handbook.md", "Call Maria Gonzalez"],
            "documents": ["it-kb:vpn/setup.md"],  # not an identifier key: analysed
        }
    )
    kept = masked["document_ids"]
    assert isinstance(kept, list)
    assert kept[:2] == ["it-kb:vpn/setup.md", "hr:handbook.md"]
    assert leaked_values(str(kept[2]), ["Maria Gonzalez"]) == []
    assert counting.calls == 2  # the free-text entry and the list under another key
