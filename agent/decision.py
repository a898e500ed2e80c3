"""The decision: answer, refuse or hand over to a person, and the texts each one shows.

Rules, in order:
1. the user asks for a person → `escalated` (the verified answer, if confident, is shown too);
2. no permitted evidence on topic → `refused_no_evidence`;
3. fewer than `min_answer_sentences` verified sentences, or the answer score below the
   profile's escalate threshold → `refused_insufficient_support`;
4. a score between the profile's escalate and answer thresholds → `escalated` (low confidence;
   the hand-off carries the best passages for the person who picks it up); so is a question
   asking for an amount ("how many", "how much", "how long", ...) whose verified sentences state
   none in the answer's lead (`agent.extractive.missing_cue`; `agent.require_quantity`):
   passages on the topic that never give the figure are the helpdesk's typical unanswerable
   question;
5. otherwise → `answered`.

The answer score (see `agent.verification`) is, with a reading model, the calibrated
probability that the evidence states the answer (the reader's probability combined with the
confidence) and the thresholds are `reader_*`; without one it is the best sentence's confidence
(relevance plus the share of what the question asks about that its passage names) against
`escalate_threshold` / `answer_threshold`. `agent.profile` picks the operating point:
`cautious` answers only above a high threshold (`reader_cautious_threshold`).

The refusal texts are constants: they never depend on what the user may not read, so a refusal
cannot reveal that a hidden document exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agent.settings import AgentSettings
from agent.types import AnswerStatus, Evidence
from agent.verification import Verification

__all__ = [
    "HANDOFF_TEXT",
    "INSUFFICIENT_SUPPORT_TEXT",
    "NO_EVIDENCE_TEXT",
    "Decision",
    "DecisionReason",
    "decide",
    "handoff_summary",
]

NO_EVIDENCE_TEXT = (
    "I can't answer that from the sources available to you. "
    "Please rephrase the question, or contact the helpdesk team."
)
INSUFFICIENT_SUPPORT_TEXT = (
    "I couldn't find a passage that answers this question in the sources available to you, "
    "so I won't guess. Please rephrase the question, or contact the helpdesk team."
)
HANDOFF_TEXT = "I've passed your question to the helpdesk team; a person will follow up with you."
HANDOFF_WITH_ANSWER_TEXT = HANDOFF_TEXT + " Meanwhile, this is what the sources say:"

DecisionReason = Literal[
    "answered",
    "no_evidence",
    "insufficient_support",
    "low_confidence",
    "quantity_missing",
    "human_requested",
]


@dataclass(frozen=True)
class Decision:
    status: AnswerStatus
    reason: DecisionReason
    show_answer: bool  # whether the verified sentences (and their citations) are shown


def decide(
    *,
    evidence_count: int,
    verification: Verification,
    human_requested: bool,
    settings: AgentSettings,
    quantity_missing: bool = False,
) -> Decision:
    """`quantity_missing`: the question asks for an amount (a number or a duration) that the
    answer's lead sentence does not state (ignored unless `settings.require_quantity`)."""
    escalate_at, answer_at = settings.thresholds(calibrated=verification.calibrated)
    untyped = quantity_missing and settings.require_quantity
    confident = (
        evidence_count > 0
        and len(verification.sentences) >= settings.min_answer_sentences
        and verification.answer_score >= answer_at
        and not untyped
    )
    if human_requested:
        return Decision("escalated", "human_requested", show_answer=confident)
    if evidence_count == 0:
        return Decision("refused_no_evidence", "no_evidence", show_answer=False)
    if (
        len(verification.sentences) < settings.min_answer_sentences
        or verification.answer_score < escalate_at
    ):
        return Decision("refused_insufficient_support", "insufficient_support", show_answer=False)
    if untyped:
        return Decision("escalated", "quantity_missing", show_answer=False)
    if not confident:
        return Decision("escalated", "low_confidence", show_answer=False)
    return Decision("answered", "answered", show_answer=True)


def status_text(decision: Decision) -> str:
    """The fixed text of a refusal or hand-off (an answer's text is its sentences)."""
    if decision.status == "refused_no_evidence":
        return NO_EVIDENCE_TEXT
    if decision.status == "refused_insufficient_support":
        return INSUFFICIENT_SUPPORT_TEXT
    if decision.status == "escalated":
        return HANDOFF_WITH_ANSWER_TEXT if decision.show_answer else HANDOFF_TEXT
    return ""


_REASONS: dict[DecisionReason, str] = {
    "human_requested": "the user asked for a person",
    "low_confidence": "the sources may not answer this question (low confidence)",
    "quantity_missing": "the question asks for an amount and no passage found gives one",
    "answered": "answered",
    "no_evidence": "nothing in the sources the user may read is on topic",
    "insufficient_support": "no passage answers the question",
}


def handoff_summary(
    *,
    question: str,
    decision: Decision,
    verification: Verification,
    evidence: Sequence[Evidence],
    mask: Callable[[str], str] | None,
) -> str:
    """A short summary a person can pick the question up from.

    With `mask` (the request's `PiiGuard.mask_text`), every text that came from the user or the
    index - the question, the documents' titles and the best passages - is masked on its own
    and the summary holds only those masked texts and fixed wording, so it is masked as a
    whole. Without one, only the question and the titles of the documents found are included
    (never passages, which may hold personal data nobody masked).
    """
    shown = mask or _unmasked
    titles = list(dict.fromkeys(shown(e.chunk.title) for e in evidence))
    lines = [
        f"Hand-off: {_REASONS[decision.reason]}.",
        f"Question: {shown(question)}",
        f"Documents found ({len(titles)}): " + ("; ".join(titles) if titles else "none"),
    ]
    if mask is not None and verification.sentences:
        lines.append(f"Best passages (confidence {verification.answer_score:.2f}):")
        lines += [
            f"- {mask(v.text)} ({mask(v.evidence.chunk.title)})" for v in verification.sentences[:3]
        ]
    return "\n".join(lines)


def _unmasked(text: str) -> str:
    return text
