"""Citation audit reviews (`ReviewService`) over a real audit store, the sample KB index and
the real Casbin policy (the `world` fixture): review items (quotes in their chunks; restricted,
changed and removed citations) and the reviews taken on them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agent.review.service import HIDDEN_TEXT, InvalidReviewError, UnknownAnswerError
from tests.fixtures.audit_reviews import ALL_SUPPORT, AuditWorld
from tests.fixtures.pii import leaked_values

# --- review items --------------------------------------------------------------------------------


def test_an_item_shows_each_quote_inside_its_chunk_text_masked(world: AuditWorld) -> None:
    item = world.service.item(world.answers["five"], world.oscar)
    assert "415 555 0134" not in item.question and "<PHONE_NUMBER_1>" in item.question
    assert len(item.citations) == 5 and item.reviewable_markers == (1, 2, 3, 4, 5)
    record = world.audit.get(item.answer_id)
    assert record is not None
    chunks = world.kb.store.retrieve_chunks([c.chunk_id for c in record.citations])
    for view, cited, chunk in zip(item.citations, record.citations, chunks, strict=True):
        assert (view.state, view.changed, view.restricted) == ("current", False, False)
        assert view.title == cited.title and view.uri == cited.uri
        assert view.before is not None and view.after is not None
        assert view.quote.strip() and view.quote == cited.quote
        raw = chunk.text
        start = cited.start - chunk.start
        assert raw[start : start + len(view.quote)] == view.quote
        assert view.before.lstrip("…") in raw[:start] or "<" in view.before
    assert [s.marker for s in item.segments if s.marker] == [1, 2, 3, 4, 5]
    assert "".join(s.text for s in item.segments) == item.answer


def test_a_citation_the_auditor_may_not_read_is_restricted(world: AuditWorld) -> None:
    salary = world.answers["salary"]
    hidden = world.service.item(salary, world.oscar)
    assert hidden.citations and all(c.restricted for c in hidden.citations)
    for c in hidden.citations:
        assert (c.title, c.uri, c.document_id, c.quote, c.before, c.after) == (
            "",
            "",
            "",
            "",
            None,
            None,
        )
    assert hidden.reviewable_markers == ()
    # The answer's sentences are the restricted documents' text: hidden too, markers kept.
    assert [p.marker for p in hidden.segments if p.marker] == [c.marker for c in hidden.citations]
    assert all(p.hidden for p in hidden.segments if p.marker is None and p.text.strip())
    assert HIDDEN_TEXT in hidden.answer
    record = world.audit.get(salary)
    assert record is not None
    assert all(c.quote.strip() not in hidden.answer for c in record.citations)
    # An auditor who may read HR's confidential documents sees them.
    frank = world.kb.policy.principal_for("frank", ["auditors"])
    shown = world.service.item(salary, frank)
    assert not any(c.restricted for c in shown.citations)
    assert all(c.quote and c.title for c in shown.citations)
    assert shown.answer == record.answer and not any(p.hidden for p in shown.segments)
    # Nothing to judge: no verdict is taken (not even one on the answer alone); it is skipped.
    assert hidden.all_restricted and not shown.all_restricted
    for verdicts in ({1: "supports"}, {}):
        with pytest.raises(InvalidReviewError, match="every citation of this answer is restricted"):
            world.service.review(
                salary, world.oscar, citation_verdicts=verdicts, answer_verdict="correct"
            )


def test_changed_and_removed_documents_are_flagged(world: AuditWorld) -> None:
    item = world.service.item(world.answers["moved"], world.oscar)
    version, gone_chunk, gone_document = item.citations
    assert (version.state, version.restricted) == ("changed", False)
    assert version.before is not None  # the chunk is unchanged: the quote is found in it
    assert (gone_chunk.state, gone_chunk.restricted) == ("changed", False)
    assert gone_chunk.before is None and gone_chunk.quote  # the recorded quote alone
    assert (gone_document.state, gone_document.restricted, gone_document.changed) == (
        "removed",
        True,
        True,
    )
    with pytest.raises(UnknownAnswerError):
        world.service.item("no-such-answer", world.oscar)


# --- reviews -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdicts", "answer_verdict", "note", "message"),
    [
        ({1: "supports"}, "correct", None, r"citation \[2\], \[3\], \[4\], \[5\] needs a verdict"),
        ({**ALL_SUPPORT, 6: "supports"}, "correct", None, r"has no citation \[6\]"),
        ({**ALL_SUPPORT, 2: "maybe"}, "correct", None, r"citation \[2\]: a verdict is one of"),
        (ALL_SUPPORT, "fine", None, "the answer verdict is one of"),
        (ALL_SUPPORT, "correct", "x" * 2001, "longer than 2000"),
    ],
)
def test_incomplete_or_invalid_reviews_are_refused(
    world: AuditWorld,
    verdicts: dict[int, str],
    answer_verdict: str,
    note: str | None,
    message: str,
) -> None:
    with pytest.raises(InvalidReviewError, match=message):
        world.service.review(
            world.answers["five"],
            world.oscar,
            citation_verdicts=verdicts,
            answer_verdict=answer_verdict,
            note=note,
        )
    assert world.service.history(world.answers["five"], world.oscar) == []


def test_notes_are_masked_and_reviewers_pseudonymous(world: AuditWorld) -> None:
    note = "Ask Jane Doe (jane.doe@example.com, +1 415 555 0199) about citation 3."
    review = world.service.review(
        world.answers["five"],
        world.oscar,
        citation_verdicts=ALL_SUPPORT,
        answer_verdict="correct",
        note=note,
    )
    assert review.note is not None and "citation 3" in review.note
    assert leaked_values(review.note, ["Jane", "Doe", "jane.doe@example.com", "415 555 0199"]) == []
    assert review.reviewer.startswith("usr_") and "oscar" not in review.reviewer
    with world.audit.engine.connect() as connection:
        stored = " ".join(
            str(row) for row in connection.execute(text("SELECT * FROM audit_reviews"))
        )
    assert "jane" not in stored.lower() and "oscar" not in stored


def test_a_second_review_counts_instead_of_the_first_and_history_keeps_both(
    world: AuditWorld,
) -> None:
    service, five = world.service, world.answers["five"]
    service.review(five, world.oscar, citation_verdicts=ALL_SUPPORT, answer_verdict="correct")
    world.clock.advance(minutes=3)
    changed = {**ALL_SUPPORT, 4: "does_not_support"}
    service.review(five, world.oscar, citation_verdicts=changed, answer_verdict="incorrect")
    history = service.history(five, world.oscar)
    assert [r.answer_verdict for r in history] == ["correct", "incorrect"]
    assert service.item(five, world.oscar).mine == history[1]
    report = service.report(world.oscar)
    assert (report.reviews, report.overall.citations, report.overall.precision) == (1, 5, 0.8)
    assert report.answer_verdicts == {"incorrect": 1}
