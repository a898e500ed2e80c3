"""`agent.profile`: the operating point. `cautious` hands to a person (with the evidence) what
`balanced` would answer below a high confidence; with a reader, the thresholds apply to its
calibrated probability."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.decision import decide, handoff_summary
from agent.settings import AgentSettings
from agent.verification import Verification, combined_probability
from tests.fixtures.answers import make_verification
from tests.fixtures.pii import make_guard


def _read(probability: float) -> Verification:
    """A verification whose score is a reader's calibrated probability."""
    base = make_verification(0.7)
    return Verification(
        base.sentences,
        0,
        probability,
        confidence=0.7,
        reader_probability=0.9,
        calibration=(0, 0, 1, 0),
    )


@pytest.mark.parametrize(
    ("probability", "balanced", "cautious"),
    [
        (0.95, "answered", "answered"),
        (0.45, "answered", "escalated"),  # below cautious's 0.5, above balanced's 0.32
        (0.3, "escalated", "escalated"),
        (0.1, "refused_insufficient_support", "refused_insufficient_support"),
    ],
)
def test_each_profile_decides_on_the_calibrated_probability(
    probability: float, balanced: str, cautious: str
) -> None:
    for profile, expected in (("balanced", balanced), ("cautious", cautious)):
        settings = AgentSettings(profile=profile)
        got = decide(
            evidence_count=1,
            verification=_read(probability),
            human_requested=False,
            settings=settings,
        )
        assert got.status == expected, profile


def test_without_a_reader_cautious_raises_the_confidence_needed() -> None:
    settings = AgentSettings(profile="cautious")
    got = decide(
        evidence_count=1,
        verification=make_verification(0.7),
        human_requested=False,
        settings=settings,
    )
    assert got.status == "escalated"  # balanced (answer_threshold 0.66) would answer
    assert (
        decide(
            evidence_count=1,
            verification=make_verification(0.7),
            human_requested=False,
            settings=AgentSettings(),
        ).status
        == "answered"
    )


def test_a_cautious_hand_off_carries_the_evidence_for_the_person() -> None:
    decision = decide(
        evidence_count=1,
        verification=_read(0.45),
        human_requested=False,
        settings=AgentSettings(profile="cautious"),
    )
    summary = handoff_summary(
        question="How do I connect to the VPN?",
        decision=decision,
        verification=_read(0.45),
        evidence=[_read(0.45).sentences[0].evidence],
        mask=make_guard().mask_text,
    )
    assert "low confidence" in summary
    assert "Best passages (confidence 0.45)" in summary
    assert "about the VPN" in summary  # the passage itself, masked


def test_profiles_and_reader_thresholds_are_validated() -> None:
    with pytest.raises(ValidationError):
        AgentSettings.model_validate({"profile": "reckless"})
    with pytest.raises(ValidationError, match="ordered"):
        AgentSettings(reader_answer_threshold=0.9, reader_cautious_threshold=0.6)
    with pytest.raises(ValidationError, match="cautious_answer_threshold"):
        AgentSettings(cautious_answer_threshold=0.5)


def test_dropping_a_sentence_rescores_with_the_reader_kept() -> None:
    verification = _read(0.7)
    rescored = verification.restricted([], "policy")
    assert rescored.answer_score == 0.0 and rescored.calibrated
    kept = verification.restricted(list(verification.sentences), "policy")
    assert kept.answer_score == pytest.approx(combined_probability(0.7, 0.9, None, (0, 0, 1, 0)))
