"""Settings of the answer pipeline (`AgentSettings`): one slice of the app settings.

The answer thresholds and `passage_coverage_weight` are calibrated on CLAP NQ (see
`evals/suites/answers.py` and the figures in its report); change them only with a new evaluation
run.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DEFAULT_ESCALATION_PHRASES", "AgentSettings", "Profile"]

Profile = Literal["balanced", "cautious"]

# Phrases that mean "let me talk to a person". Matched on word boundaries, case-insensitively.
DEFAULT_ESCALATION_PHRASES: tuple[str, ...] = (
    "talk to a person",
    "talk to a human",
    "talk to someone",
    "talk to a real person",
    "speak to a person",
    "speak to a human",
    "speak to someone",
    "speak with a person",
    "speak with a human",
    "speak with someone",
    "human agent",
    "live agent",
    "real person",
    "a human please",
    "connect me to an agent",
    "escalate",
)


class AgentSettings(BaseModel):
    """What the pipeline may take, how much evidence it reads, and when it answers."""

    model_config = ConfigDict(extra="forbid")

    # --- screening -------------------------------------------------------------------------
    max_question_chars: int = Field(
        default=2000,
        ge=10,
        le=100_000,
        description="the one question limit: longer → 422 question_too_long, checked by the API "
        "before the pipeline runs and by the pipeline; also the search query's limit",
    )
    escalation_phrases: tuple[str, ...] = Field(
        default=DEFAULT_ESCALATION_PHRASES,
        description="a question containing one of these is handed over to a person",
    )
    # --- retrieval and evidence --------------------------------------------------------------
    retrieval_top_k: int = Field(default=8, ge=1, le=100, description="chunks retrieved")
    evidence_k: int = Field(default=6, ge=1, le=50, description="chunks given to the composer")
    evidence_per_document: int = Field(
        default=3,
        ge=1,
        le=50,
        description="at most this many chunks of one document are retrieved; 2 let a "
        "paragraph inserted into a page decide, by moving chunk boundaries, which of its "
        "chunks were kept",
    )
    evidence_min_similarity: float = Field(
        default=0.35,
        ge=-1.0,
        le=1.0,
        description="a chunk whose dense similarity to the question is below this is not "
        "evidence; no chunk above it means `refused_no_evidence`",
    )
    sentence_min_similarity: float = Field(
        default=0.3,
        ge=-1.0,
        le=1.0,
        description="a chunk none of whose candidate sentences reaches this similarity to the "
        "question is not evidence either",
    )
    injection_penalty: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="relevance subtracted from sentences of chunks flagged as possible injection "
        "at ingest; 0 by default: paragraphs that read as instructions are left out of the "
        "candidates anyway, and the rest of such a chunk is ordinary evidence",
    )
    sentence_cache_chunks: int = Field(
        default=4096, ge=0, description="chunks whose sentence embeddings are kept (LRU)"
    )
    # --- extractive composition --------------------------------------------------------------
    coverage_weight: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="weight of the (IDF-weighted) share of question terms a sentence covers",
    )
    max_answer_sentences: int = Field(default=4, ge=1, le=10, description="lead + supporting")
    supporting_margin: float = Field(
        default=0.08,
        ge=0.0,
        le=1.0,
        description="a supporting sentence scores at most this much below the lead",
    )
    complement_margin: float = Field(
        default=0.25,
        ge=0.0,
        le=2.0,
        description="a sentence covering a part of the question nothing chosen covers may "
        "score this much below the lead",
    )
    supporting_min_relevance: float = Field(default=0.35, ge=-1.0, le=2.0)
    continuation_margin: float = Field(
        default=0.3,
        ge=0.0,
        le=2.0,
        description="the sentence after the lead in its paragraph is added when it scores at "
        "most this much below the lead",
    )
    complement_min_gain: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="share of the question's (IDF-weighted) terms a complement must add",
    )
    mmr_lambda: float = Field(
        default=0.7, ge=0.0, le=1.0, description="relevance vs novelty of supporting sentences"
    )
    max_redundancy: float = Field(
        default=0.9, ge=0.0, le=1.0, description="a sentence this similar to one taken is skipped"
    )
    # --- verification and decision -----------------------------------------------------------
    support_threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="a sentence whose support by its cited span is below this is removed",
    )
    min_answer_sentences: int = Field(default=1, ge=1, le=10)
    require_quantity: bool = Field(
        default=True,
        description="a question asking for an amount (how many / much / long / often) whose "
        "answer's lead sentence states none is handed to a person rather than answered with "
        "topical quotes",
    )
    passage_coverage_weight: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="weight, in a verified sentence's confidence, of the share of what the "
        "question asks about (its terms less the document title's) that the cited passage names",
    )
    answer_threshold: float = Field(
        default=0.66,
        ge=-1.0,
        le=2.0,
        description="confidence of the best verified sentence (relevance + "
        "passage_coverage_weight × passage coverage) needed to answer",
    )
    escalate_threshold: float = Field(
        default=0.62,
        ge=-1.0,
        le=2.0,
        description="between this and answer_threshold the answer is handed to a person "
        "(low confidence); below it the question is refused",
    )
    # --- the reading model and the operating point -------------------------------------------
    profile: Profile = Field(
        default="balanced",
        description="balanced: answer at the calibrated threshold; cautious: answer only above "
        "a high confidence, and hand the rest over to a person (with the evidence attached) or "
        "refuse",
    )
    reader_sentences: int = Field(
        default=4,
        ge=1,
        le=50,
        description="the candidate sentences (by relevance) the reader reads, with their "
        "passages, to decide whether the evidence states the answer",
    )
    reader_calibration: tuple[float, float, float, float] = Field(
        default=(-7.1, 9.23, 0.313, 0.0),
        description="(a, b, c, d): with a reader, the decision's score is the probability "
        "sigmoid(a + b × confidence + c × logit(best sentence) + d × logit(best passage)), "
        "fitted for the bundled reader on CLAP NQ dev (evals/suites/answers.py, "
        "metrics.reader.fitted_calibration; figures in docs/benchmarks.md); d = 0: passages "
        "are not read",
    )
    reader_answer_threshold: float = Field(
        default=0.32,
        ge=0.0,
        le=1.0,
        description="with a reader, balanced profile: the probability needed to answer "
        "(re-measure with `python -m evals.suites.answers` for a new model)",
    )
    reader_cautious_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="with a reader, cautious profile: the probability needed to answer",
    )
    reader_escalate_threshold: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="with a reader: below this probability the question is refused; from it "
        "up to the profile's threshold it is handed to a person",
    )
    cautious_answer_threshold: float = Field(
        default=0.76,
        ge=-1.0,
        le=2.0,
        description="without a reader, cautious profile: the confidence needed to answer",
    )
    # --- conversations -----------------------------------------------------------------------
    history_turns: int = Field(default=6, ge=0, le=50, description="turns kept per conversation")
    max_conversations: int = Field(default=10_000, ge=1)
    conversation_ttl_seconds: float = Field(default=3600.0, gt=0)

    def thresholds(self, *, calibrated: bool) -> tuple[float, float]:
        """(escalate, answer) thresholds of the profile, on the reader's calibrated probability
        or, without a reader, on the confidence."""
        if calibrated:
            answer = (
                self.reader_cautious_threshold
                if self.profile == "cautious"
                else self.reader_answer_threshold
            )
            return self.reader_escalate_threshold, answer
        answer = (
            self.cautious_answer_threshold if self.profile == "cautious" else self.answer_threshold
        )
        return self.escalate_threshold, answer

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> Self:
        if self.escalate_threshold > self.answer_threshold:
            raise ValueError("escalate_threshold must not be above answer_threshold")
        if not (
            self.reader_escalate_threshold
            <= self.reader_answer_threshold
            <= self.reader_cautious_threshold
        ):
            raise ValueError(
                "reader thresholds must be ordered: reader_escalate_threshold <= "
                "reader_answer_threshold <= reader_cautious_threshold"
            )
        if self.cautious_answer_threshold < self.answer_threshold:
            raise ValueError("cautious_answer_threshold must not be below answer_threshold")
        if self.evidence_k > self.retrieval_top_k:
            raise ValueError("evidence_k must not be above retrieval_top_k")
        if self.min_answer_sentences > self.max_answer_sentences:
            raise ValueError("min_answer_sentences must not be above max_answer_sentences")
        return self
