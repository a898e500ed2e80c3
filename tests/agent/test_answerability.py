"""When a passage is on the question's topic but never names what is asked, no answer is given.

A small index of encyclopedia-style pages is built with the real ingest pipeline. Each
question below retrieves a page about its topic; the page answers some and only touches on
others (it names no sister, no diabetes, no temperature, no owner). The decision rests on the
relevance of the best sentence plus the share of what the question asks about (its terms less
the page title's) that the cited passage names (`AgentSettings.passage_coverage_weight`).

A second index holds pages of the sample knowledge base, as they are and with one unrelated
paragraph inserted after the first (what a planted prompt injection does): the inserted text
moves every chunk boundary after it, which decided which two chunks of a page retrieval kept
(its per-document limit) and so whether an answer was found. The decision must not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from agent.pipeline import AnswerService
from agent.settings import AgentSettings
from api.bootstrap.answering import answer_service
from retrieval.embedding.embedder import Embedder
from tests.fixtures.kb_index import KB, KbIndex, build_kb_index

PAGES = {
    "everest.md": """# Mount Everest

Mount Everest is Earth's highest mountain above sea level, located in the Mahalangur Himal
sub-range of the Himalayas. The China–Nepal border runs across its summit point.

Its elevation of 8,848.86 m was most recently established in 2020 by the Chinese and Nepali
authorities. The first recorded ascent was made in 1953 by Tenzing Norgay and Edmund Hillary.
""",
    "insulin.md": """# Insulin

Insulin is a peptide hormone produced by beta cells of the pancreatic islets. It regulates the
metabolism of carbohydrates, fats and protein by promoting the absorption of glucose from the
blood into liver, fat and skeletal muscle cells.
""",
    "joey.md": """# Joey (TV series)

Joey is an American sitcom spin-off of Friends, starring Matt LeBlanc as Joey Tribbiani. It
aired on NBC from September 2004 to March 2006.

Due in part to being in competition with American Idol, Joey was the lowest-rated prime time
program of the network in its second season. NBC cancelled the series in May 2006.
""",
    "printing.md": """# Printing

Every floor has a colour printer next to the kitchen. Colour pages are charged to your
department's cost centre, so please print in colour only when it matters.

Large colour print runs (more than 500 pages) should go to the external print partner.

Print jobs wait in the queue for 24 hours; after that they are deleted.
""",
}
HANDBOOK = (
    "finance/per-diem-rates-2026.md",
    "finance/expense-policy.md",
    "finance/travel-booking-policy.md",
    "hr/confidential/performance-improvement-plan-guidelines.md",
)
PLANTED = (HANDBOOK[0], HANDBOOK[3])


@dataclass
class _Index:
    service: AnswerService
    kb: KbIndex

    def answer(self, question: str) -> tuple[str, set[str], str]:
        got = self.service.answer(question, principal=self.kb.policy.principal_for("bob"))
        return got.status, {c.document_id for c in got.citations}, got.answer

    def close(self) -> None:
        self.kb.close()


def _build(root: Path, embedder: Embedder, pages: dict[str, str]) -> _Index:
    docs = root / "docs"
    docs.mkdir(parents=True)
    for name, text in pages.items():
        (docs / name).write_text(text, encoding="utf-8")
    sources = {
        "sources": [{"id": "kb", "kind": "filesystem", "root": "./docs", "read": ["public"]}]
    }
    (root / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    kb = build_kb_index(root, embedder, kb=root, policy_path=KB / "policy.csv", flag_injection=True)
    service = answer_service(
        retrieval=kb.retrieval,
        policy=kb.policy,
        embedder=embedder,
        index_version=lambda: "test",
        settings=AgentSettings(),
        sentence_vectors=kb.sentences,
    )
    return _Index(service, kb)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[_Index]:
    index = _build(tmp_path_factory.mktemp("pages"), embedder, PAGES)
    yield index
    index.close()


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("What is the elevation of Mount Everest?", "everest.md"),
        ("Which border runs across Everest?", "everest.md"),
        ("Which cells make insulin?", "insulin.md"),
        ("When did Joey air on NBC?", "joey.md"),
    ],
)
def test_a_question_its_page_answers_is_answered_citing_the_page(
    pages: _Index, question: str, page: str
) -> None:
    status, cited, _ = pages.answer(question)
    assert status == "answered"
    assert f"kb:{page}" in cited


@pytest.mark.parametrize(
    "question",
    [
        # Each page is on the topic but names no sister, no diabetes, no temperature and no
        # owner: on relevance alone the first two were answered (0.65 against 0.60).
        "Who played Joey's sister?",
        "Is insulin used to treat diabetes?",
        "What is the temperature on Mount Everest?",
        "Who owns Mount Everest?",
    ],
)
def test_a_question_its_related_page_does_not_answer_is_not_answered(
    pages: _Index, question: str
) -> None:
    status, cited, _ = pages.answer(question)
    assert status != "answered"
    assert cited == set()


def test_a_question_asking_for_an_amount_its_page_never_states_goes_to_a_person(
    pages: _Index,
) -> None:
    """The page is on topic (colour pages, printing) and its lead sentence is relevant, but
    it gives no number per month ("more than 500 pages" is a print run, not a monthly quota:
    the sample KB answered with it): a helpdesk's typical unanswerable question."""
    got = pages.service.answer(
        "How many colour pages may I print per month?",
        principal=pages.kb.policy.principal_for("bob"),
    )
    assert got.status == "escalated" and not got.citations
    assert got.handoff_summary is not None
    assert "asks for an amount and no passage found gives one" in got.handoff_summary
    status, cited, answer = pages.answer("How long do print jobs wait in the queue?")
    assert status == "answered" and "24 hours" in answer and cited == {"kb:printing.md"}


def _with_paragraph(text: str, paragraph: str) -> str:
    """`text` with `paragraph` after its first paragraph below the title, as the injection
    eval plants a payload."""
    blocks = text.split("\n\n")
    at = 3 if text.startswith("---\n") else 2  # (front matter,) title, first paragraph
    return "\n\n".join([*blocks[:at], paragraph, *blocks[at:]])


@pytest.fixture(scope="module")
def handbook(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[_Index, _Index]]:
    texts = {Path(name).name: (KB / name).read_text(encoding="utf-8") for name in HANDBOOK}
    planted = {
        name: _with_paragraph(text, "Is the weather nice in the mountains this time of year?")
        if name in {Path(p).name for p in PLANTED}
        else text
        for name, text in texts.items()
    }
    clean = _build(tmp_path_factory.mktemp("handbook-clean"), embedder, texts)
    changed = _build(tmp_path_factory.mktemp("handbook-planted"), embedder, planted)
    yield clean, changed
    clean.close()
    changed.close()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the daily meal per-diem in New York?", "$95"),
        ("What is the hotel cap per night in London?", "$350"),
        ("How long does a standard performance improvement plan last?", "60 calendar days"),
    ],
)
def test_a_paragraph_inserted_into_a_document_changes_no_decision(
    handbook: tuple[_Index, _Index], question: str, expected: str
) -> None:
    clean, planted = handbook
    before, after = clean.answer(question), planted.answer(question)
    assert before[0] == after[0] == "answered"
    assert before[1] == after[1]
    assert expected in before[2]
    assert expected in after[2]
