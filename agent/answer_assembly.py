"""The `Answer` of a decided request: the shown sentences with their `[n]` markers and
citations, the status text, and the masked hand-off summary of an escalation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.decision import Decision, handoff_summary, status_text
from agent.types import Answer, Citation, Composition, Evidence
from agent.verification import Verification, VerifiedSentence

if TYPE_CHECKING:
    from policies.pii.guard import PiiGuard

__all__ = ["assemble_answer", "citation_of", "with_timings"]


def assemble_answer(
    *,
    cid: str,
    question: str,
    decision: Decision,
    verification: Verification,
    evidence: Sequence[Evidence],
    composition: Composition,
    policy_version: str,
    index_version: str,
    flags: Sequence[str],
    trace_id: str | None,
    guard: PiiGuard | None,
) -> Answer:
    """The answer the decision allows: the verified sentences, each followed by its marker,
    when it shows the answer; the status text alone otherwise (and the hand-off summary, masked
    with `guard`'s placeholders, when escalated)."""
    shown = verification.sentences if decision.show_answer else []
    citations = [citation_of(n, v) for n, v in enumerate(shown, 1)]
    body = " ".join(f"{v.text} [{n}]" for n, v in enumerate(shown, 1))
    prefix = status_text(decision)
    text = f"{prefix} {body}".strip() if prefix else body
    return Answer(
        answer_id=uuid.uuid4().hex,
        status=decision.status,
        answer=text,
        citations=citations,
        conversation_id=cid,
        question=question,
        policy_version=policy_version,
        index_version=index_version,
        composer=composition.composer,
        prompt_id=composition.prompt_id,
        prompt_version=composition.prompt_version,
        handoff_summary=_handoff(question, decision, verification, evidence, guard),
        usage=composition.usage,
        flags=tuple(flags),
        trace_id=trace_id,
    )


def citation_of(marker: int, sentence: VerifiedSentence) -> Citation:
    """Where marker `[marker]` points: the sentence's span, as offsets in its document."""
    chunk = sentence.evidence.chunk
    return Citation(
        marker=marker,
        document_id=chunk.document_id,
        title=chunk.title,
        source_id=chunk.source_id,
        uri=chunk.uri,
        chunk_id=chunk.chunk_id,
        quote=sentence.quote,
        start=chunk.start + sentence.start,
        end=chunk.start + sentence.end,
        support=sentence.support,
        document_version=chunk.document_version,
    )


def with_timings(answer: Answer, timings: dict[str, float]) -> Answer:
    """`answer` carrying `timings` (ms per step), rounded to microseconds."""
    return replace(answer, timings_ms={k: round(v, 3) for k, v in timings.items()})


def _handoff(
    question: str,
    decision: Decision,
    verification: Verification,
    evidence: Sequence[Evidence],
    guard: PiiGuard | None,
) -> str | None:
    """The hand-off summary of an escalated answer, masked part by part with the request's
    placeholders; the guard then knows the whole is masked, so the audit record and the
    trace do not analyse it again."""
    if decision.status != "escalated":
        return None
    summary = handoff_summary(
        question=question,
        decision=decision,
        verification=verification,
        evidence=evidence,
        mask=guard.mask_text if guard is not None else None,
    )
    if guard is not None:
        guard.mark_masked(summary)
    return summary
