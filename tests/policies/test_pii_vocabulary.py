"""The corpus vocabulary keeps the organisation's own words readable in masked evidence, never
the people it names (issue 18, the auditor)."""

from __future__ import annotations

import pytest

from evals.suites.pii_kb import REPO_KB, load_terms, measure, vocabulary_of
from policies.pii.redaction import PresidioRedactor
from policies.pii.vocabulary import CorpusVocabulary, corpus_vocabulary, document_terms


def test_words_of_several_documents_are_vocabulary_and_name_pairs_are_not() -> None:
    docs = [
        "Submit it in PeopleHub. Ask Heidi Brandt in People Operations.",
        "PeopleHub shows your leave. Heidi Brandt approves it for People Operations; the "
        "operations team and its people run it.",
        "Update PeopleHub, then email Heidi Brandt (heidi.brandt@example.com) or People "
        "Operations.",
        "Nothing about them here.",
    ]
    vocabulary = corpus_vocabulary(document_terms(d) for d in docs)
    assert {"PeopleHub", "People", "Operations"} <= vocabulary
    assert not {"Heidi", "Brandt"} & vocabulary  # a first name and surname, always together
    # two documents are too few
    assert "PeopleHub" not in corpus_vocabulary(document_terms(d) for d in docs[:2])


def test_a_failing_load_keeps_the_last_vocabulary() -> None:
    answers = iter([frozenset({"Northwind"})])

    def load() -> frozenset[str]:
        return next(answers)  # StopIteration the second time

    vocabulary = CorpusVocabulary(load=load, refresh_seconds=0)
    assert vocabulary.folded() == {"northwind"}
    assert vocabulary.folded() == {"northwind"}


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor(vocabulary=vocabulary_of(REPO_KB))


def test_kb_evidence_keeps_its_own_words_and_masks_its_people(redactor: PresidioRedactor) -> None:
    readable, _ = load_terms(REPO_KB)
    report = measure(redactor)
    assert not report.readable_masked, dict(report.readable_masked)
    assert {"Northwind", "PeopleHub", "ExpensePoint", "Mac", "L5"} <= set(readable)
    alone = measure(PresidioRedactor())  # without the vocabulary: no loss of recall with it
    assert report.people_masked == alone.people_masked
    assert report.person_recall() >= 0.94
    assert report.person_precision() > 2 * alone.person_precision()


@pytest.mark.parametrize(
    ("text", "readable", "masked"),
    [
        ("Submit the claim in ExpensePoint, then tell Heidi Brandt.", "ExpensePoint", "Brandt"),
        ("On a Mac, open PeopleHub and ask Priya Raman.", "PeopleHub", "Raman"),
        ("Northwind pays on the 15th; Frank Osei signs.", "Northwind", "Osei"),
        ("The salary band L5 is reviewed by Grace Tanaka.", "L5", "Tanaka"),
    ],
)
def test_evidence_sentence(
    redactor: PresidioRedactor, text: str, readable: str, masked: str
) -> None:
    out = redactor.mask(text)
    assert readable in out and masked not in out, out
