"""Gate: the answer pipeline over every question of kb/questions.yaml (evals/thresholds.yaml).

Each question is asked as its persona through the real pipeline. Measured:
- `answered_with_expected_document`: share of `expect: answer` questions answered, citing one
  of the expected documents, with every `answer_contains` string in the answer;
- `complete_answers`: share of the answered `expect: answer` questions whose answer contains
  every `answer_contains` fact (a helpdesk lead's "is the answer all there");
- `refused`: share of `expect: refuse` questions refused (`refused_*`), those marked
  `unanswerable: on_topic` aside;
- `not_answered`: share of `expect: refuse` questions refused or handed over to a person;
- `on_topic_not_answered`: share of the `unanswerable: on_topic` questions (passages on topic,
  none stating the answer) refused or handed over;
- `unreadable_citations`: citations of a document the persona may not read (must be 0);
- `excluded_strings`: `answer_excludes` strings found in an answer (must be 0).
Thresholds: section `kb_answers` of evals/thresholds.yaml.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from agent.answer_shape import asks_how
from agent.types import Answer
from api.bootstrap.answering import answer_service
from evals.reporting import DEFAULT_THRESHOLDS, check_thresholds, load_thresholds
from tests.fixtures.kb_index import KB, KbIndex

_LOG = logging.getLogger(__name__)
QUESTIONS: list[dict[str, object]] = yaml.safe_load(
    (KB / "questions.yaml").read_text(encoding="utf-8")
)["questions"]


def _document_id(kb_index: KbIndex, rel: str) -> str:
    top, _, rest = rel.partition("/")
    source = {Path(str(s.root)).name: s.id for s in kb_index.registry}[top]
    return f"{source}:{rest}"


def _has_every_fact(question: dict[str, object], answer: Answer) -> bool:
    words = [str(w).casefold() for w in question["answer_contains"]]  # type: ignore[attr-defined]
    return all(w in answer.answer.casefold() for w in words)


def _answered_well(kb_index: KbIndex, question: dict[str, object], answer: Answer) -> bool:
    expected = {_document_id(kb_index, str(d)) for d in question["documents"]}  # type: ignore[attr-defined]
    return (
        answer.status == "answered"
        and any(c.document_id in expected for c in answer.citations)
        and _has_every_fact(question, answer)
    )


@pytest.fixture(scope="module")
def measured(kb_index: KbIndex) -> dict[str, object]:
    service = answer_service(
        retrieval=kb_index.retrieval,
        policy=kb_index.policy,
        embedder=kb_index.embedder,
        index_version=kb_index.state.index_version,
    )
    good: list[str] = []
    missed: list[str] = []
    complete: list[str] = []
    incomplete: list[str] = []
    refused: list[str] = []
    not_answered: list[str] = []
    answered_refusals: list[str] = []
    on_topic: list[str] = []
    unreadable = excluded = 0
    for q in QUESTIONS:
        principal = kb_index.policy.principal_for(str(q["user"]))
        answer = service.answer(str(q["question"]), principal=principal)
        for citation in answer.citations:
            state = kb_index.state.document(citation.document_id)
            if state is None or not kb_index.policy.can_read(
                principal, source_id=state.source_id, read=state.read, deny=state.deny
            ):
                unreadable += 1
        shown = f"{answer.answer}\n{answer.handoff_summary or ''}"
        excluded += sum(str(x) in shown for x in q.get("answer_excludes") or [])  # type: ignore[attr-defined]
        if q["expect"] == "answer":
            (good if _answered_well(kb_index, q, answer) else missed).append(str(q["id"]))
            if answer.status == "answered":
                (complete if _has_every_fact(q, answer) else incomplete).append(str(q["id"]))
        elif q.get("unanswerable") == "on_topic":
            if answer.status != "answered":
                on_topic.append(str(q["id"]))
            else:
                answered_refusals.append(str(q["id"]))
        else:
            if answer.status.startswith("refused"):
                refused.append(str(q["id"]))
            if answer.status != "answered":
                not_answered.append(str(q["id"]))
            else:
                answered_refusals.append(str(q["id"]))
    answerable = sum(q["expect"] == "answer" for q in QUESTIONS)
    topical = sum(q.get("unanswerable") == "on_topic" for q in QUESTIONS)
    refusals = len(QUESTIONS) - answerable - topical
    return {
        "answered_with_expected_document": len(good) / answerable,
        "complete_answers": len(complete) / max(1, len(complete) + len(incomplete)),
        "refused": len(refused) / refusals,
        "not_answered": len(not_answered) / refusals,
        "on_topic_not_answered": len(on_topic) / max(1, topical),
        "incomplete": incomplete,
        "unreadable_citations": unreadable,
        "excluded_strings": excluded,
        "missed": missed,
        "answered_refusals": answered_refusals,
    }


def test_the_kb_questions_meet_their_thresholds(measured: dict[str, object]) -> None:
    bounds = load_thresholds(DEFAULT_THRESHOLDS)["kb_answers"]
    checks = check_thresholds(measured, bounds)
    assert {c.metric for c in checks} >= {
        "answered_with_expected_document", "complete_answers", "refused", "on_topic_not_answered",
        "unreadable_citations", "excluded_strings",
    }  # fmt: skip
    _LOG.info("kb_answers: %s", measured)  # the figures: --log-cli-level=INFO
    failed = [c.describe() for c in checks if not c.passed]
    assert not failed, (
        failed, measured["missed"], measured["incomplete"], measured["answered_refusals"]
    )  # fmt: skip


def test_the_questions_hold_procedures_and_on_topic_unanswerable_ones() -> None:
    how = [q for q in QUESTIONS if q["expect"] == "answer" and asks_how(str(q["question"]))]
    assert len(how) >= 10
    topical = [q for q in QUESTIONS if q.get("unanswerable") == "on_topic"]
    assert len(topical) >= 5 and all(q["expect"] == "refuse" for q in topical)


def test_no_answer_cites_an_unreadable_document_or_shows_an_excluded_string(
    measured: dict[str, object],
) -> None:
    assert measured["unreadable_citations"] == 0
    assert measured["excluded_strings"] == 0
