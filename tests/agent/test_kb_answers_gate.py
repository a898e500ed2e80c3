"""Gate: the answer pipeline over every question of kb/questions.yaml (evals/thresholds.yaml).

Each question is asked as its persona through the real pipeline. Measured:
- `answered_with_expected_document`: share of `expect: answer` questions answered, citing one
  of the expected documents, with every `answer_contains` string in the answer;
- `refused`: share of `expect: refuse` questions refused (`refused_*`);
- `not_answered`: share of `expect: refuse` questions refused or handed over to a person;
- `unreadable_citations`: citations of a document the persona may not read (must be 0);
- `excluded_strings`: `answer_excludes` strings found in an answer (must be 0).
Thresholds: section `kb_answers` of evals/thresholds.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.pipeline import AnswerService
from agent.types import Answer
from evals.reporting import DEFAULT_THRESHOLDS, check_thresholds, load_thresholds
from tests.kb_index import KB, KbIndex

QUESTIONS: list[dict[str, object]] = yaml.safe_load(
    (KB / "questions.yaml").read_text(encoding="utf-8")
)["questions"]


def _document_id(kb_index: KbIndex, rel: str) -> str:
    top, _, rest = rel.partition("/")
    source = {Path(str(s.root)).name: s.id for s in kb_index.registry}[top]
    return f"{source}:{rest}"


def _answered_well(kb_index: KbIndex, question: dict[str, object], answer: Answer) -> bool:
    expected = {_document_id(kb_index, str(d)) for d in question["documents"]}  # type: ignore[attr-defined]
    words = [str(w).casefold() for w in question["answer_contains"]]  # type: ignore[attr-defined]
    return (
        answer.status == "answered"
        and any(c.document_id in expected for c in answer.citations)
        and all(w in answer.answer.casefold() for w in words)
    )


@pytest.fixture(scope="module")
def measured(kb_index: KbIndex) -> dict[str, object]:
    service = AnswerService(
        retrieval=kb_index.retrieval,
        policy=kb_index.policy,
        embedder=kb_index.embedder,
        index_version=kb_index.state.index_version,
    )
    good: list[str] = []
    missed: list[str] = []
    refused: list[str] = []
    not_answered: list[str] = []
    answered_refusals: list[str] = []
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
        else:
            if answer.status.startswith("refused"):
                refused.append(str(q["id"]))
            if answer.status != "answered":
                not_answered.append(str(q["id"]))
            else:
                answered_refusals.append(str(q["id"]))
    answerable = sum(q["expect"] == "answer" for q in QUESTIONS)
    refusals = len(QUESTIONS) - answerable
    return {
        "answered_with_expected_document": len(good) / answerable,
        "refused": len(refused) / refusals,
        "not_answered": len(not_answered) / refusals,
        "unreadable_citations": unreadable,
        "excluded_strings": excluded,
        "missed": missed,
        "answered_refusals": answered_refusals,
    }


def test_the_kb_questions_meet_their_thresholds(measured: dict[str, object]) -> None:
    bounds = load_thresholds(DEFAULT_THRESHOLDS)["kb_answers"]
    checks = check_thresholds(measured, bounds)
    assert {c.metric for c in checks} >= {
        "answered_with_expected_document", "refused", "unreadable_citations", "excluded_strings",
    }  # fmt: skip
    failed = [c.describe() for c in checks if not c.passed]
    assert not failed, (failed, measured["missed"], measured["answered_refusals"])


def test_no_answer_cites_an_unreadable_document_or_shows_an_excluded_string(
    measured: dict[str, object],
) -> None:
    assert measured["unreadable_citations"] == 0
    assert measured["excluded_strings"] == 0
