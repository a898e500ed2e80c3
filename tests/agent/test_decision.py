"""The decision rules and the hand-off summary."""

from __future__ import annotations

import re

import pytest

from agent.decision import (
    HANDOFF_TEXT,
    INSUFFICIENT_SUPPORT_TEXT,
    NO_EVIDENCE_TEXT,
    Decision,
    decide,
    handoff_summary,
    status_text,
)
from agent.settings import AgentSettings
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from tests.fixtures.answers import make_evidence, make_verification
from tests.fixtures.pii import leaked_values, make_guard

SETTINGS = AgentSettings(answer_threshold=0.6, escalate_threshold=0.5)


@pytest.mark.parametrize(
    ("evidence", "score", "sentences", "human", "status", "reason", "shown"),
    [
        (2, 0.7, 1, False, "answered", "answered", True),
        (2, 0.6, 1, False, "answered", "answered", True),
        (2, 0.55, 1, False, "escalated", "low_confidence", False),
        (2, 0.5, 1, False, "escalated", "low_confidence", False),
        (2, 0.49, 1, False, "refused_insufficient_support", "insufficient_support", False),
        (2, 0.9, 0, False, "refused_insufficient_support", "insufficient_support", False),
        (0, 0.0, 0, False, "refused_no_evidence", "no_evidence", False),
        (2, 0.7, 1, True, "escalated", "human_requested", True),
        (2, 0.3, 1, True, "escalated", "human_requested", False),
        (0, 0.0, 0, True, "escalated", "human_requested", False),
    ],
)
def test_decision_rules(
    evidence: int,
    score: float,
    sentences: int,
    human: bool,
    status: str,
    reason: str,
    shown: bool,
) -> None:
    decision = decide(
        evidence_count=evidence,
        verification=make_verification(score, sentences),
        human_requested=human,
        settings=SETTINGS,
    )
    assert (decision.status, decision.reason, decision.show_answer) == (status, reason, shown)


@pytest.mark.parametrize(
    ("score", "required", "human", "status", "reason", "shown"),
    [
        (0.9, True, False, "escalated", "quantity_missing", False),
        (0.9, False, False, "answered", "answered", True),  # agent.require_quantity: false
        (0.4, True, False, "refused_insufficient_support", "insufficient_support", False),
        (0.9, True, True, "escalated", "human_requested", False),
    ],
)
def test_an_answer_lacking_the_amount_asked_for_is_handed_over(
    score: float, required: bool, human: bool, status: str, reason: str, shown: bool
) -> None:
    decision = decide(
        evidence_count=2,
        verification=make_verification(score, 1),
        human_requested=human,
        settings=SETTINGS.model_copy(update={"require_quantity": required}),
        quantity_missing=True,
    )
    assert (decision.status, decision.reason, decision.show_answer) == (status, reason, shown)


def test_refusal_and_handoff_texts_are_fixed() -> None:
    assert status_text(Decision("refused_no_evidence", "no_evidence", False)) == NO_EVIDENCE_TEXT
    assert (
        status_text(Decision("refused_insufficient_support", "insufficient_support", False))
        == INSUFFICIENT_SUPPORT_TEXT
    )
    assert status_text(Decision("escalated", "low_confidence", False)) == HANDOFF_TEXT
    assert status_text(Decision("answered", "answered", True)) == ""


def test_without_a_redactor_the_summary_holds_only_the_question_and_titles() -> None:
    summary = handoff_summary(
        question="I want to talk to a human about the VPN",
        decision=Decision("escalated", "human_requested", True),
        verification=make_verification(0.8),
        evidence=[make_evidence()],
        mask=None,
    )
    assert "I want to talk to a human about the VPN" in summary
    assert "VPN setup" in summary
    assert "555 0143" not in summary
    assert "jonah.pike" not in summary
    assert "Jonah" not in summary


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor(settings=RedactionSettings(engine="patterns"))


def test_with_a_redactor_the_summary_masks_question_and_passages(
    redactor: PresidioRedactor,
) -> None:
    summary = handoff_summary(
        question="My number is +1 503 555 0188, please call me",
        decision=Decision("escalated", "low_confidence", False),
        verification=make_verification(0.55),
        evidence=[make_evidence()],
        mask=redactor.mask,
    )
    assert "555 0188" not in summary
    assert "555 0143" not in summary
    assert "jonah.pike@northwind-labs.example" not in summary
    assert "about the VPN" in summary  # the passage is there, masked
    assert "low confidence" in summary


def test_the_masked_summary_masks_titles_too_with_the_requests_placeholders() -> None:
    guard = make_guard()
    title = "VPN notes from jonah.pike@northwind-labs.example"
    with guard.scope():
        summary = handoff_summary(
            question="Jonah said to call +1 503 555 0143, can a person help?",
            decision=Decision("escalated", "human_requested", False),
            verification=make_verification(0.55, title=title),
            evidence=[make_evidence(title)],
            mask=guard.mask_text,
        )
    assert leaked_values(summary, ["jonah.pike@northwind-labs.example", "555 0143"]) == []
    question_line, titles_line, *_ = summary.splitlines()[1:]
    passage_line = summary.splitlines()[-1]
    # One request, one numbering: the phone in the question and in the passage is one value.
    phone = re.search(r"<PHONE_NUMBER_\d+>", question_line)
    assert phone is not None and phone.group() in passage_line
    email = re.search(r"<EMAIL_ADDRESS_\d+>", titles_line)
    assert email is not None and email.group() in passage_line
