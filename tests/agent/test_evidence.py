"""Sentence units with exact spans, content terms, and evidence selection."""

from __future__ import annotations

import numpy as np
import pytest

from agent.evidence import SentenceIndex, on_topic, select_evidence
from agent.types import Evidence
from policies.access.filters import AccessFilter
from retrieval.embedding.embedder import Embedder
from retrieval.records import ChunkRecord, ScoredChunk
from retrieval.sentences import content_terms, numbers_in, sentence_units
from retrieval.service import RetrievalResult, RetrievedChunk

MARKDOWN = """## Printing and releasing a job

1. Print to `NW-FollowMe` from any application.
2. Go to any office printer and tap your badge on the reader.

Jobs wait for **24 hours**; after that they are deleted automatically. If your badge is not
recognised, sign in on the printer screen once.

| Location | Nightly cap |
|---|---|
| London | $350 |
"""

FIXED_WIDTH = """PUBLIC HOLIDAYS
===============

  Date               Day        Holiday
  -----------------  ---------  ---------------------
  19 June 2026       Friday     Juneteenth
  3 July 2026        Friday     Independence Day (observed; 4 July
                                falls on a Saturday)
"""


def test_every_unit_is_an_exact_span_of_the_chunk_text() -> None:
    units = sentence_units(MARKDOWN)
    assert [MARKDOWN[u.start : u.end] for u in units] == [
        "Print to `NW-FollowMe` from any application.",
        "Go to any office printer and tap your badge on the reader.",
        "Jobs wait for **24 hours**; after that they are deleted automatically.",
        "If your badge is not\nrecognised, sign in on the printer screen once.",
        "| London | $350 |",
    ]
    assert [u.kind for u in units] == ["item", "item", "sentence", "sentence", "row"]


def test_display_text_drops_markup_and_shows_a_table_row_with_its_header() -> None:
    units = {u.kind + str(i): u for i, u in enumerate(sentence_units(MARKDOWN))}
    assert units["item0"].display == "Print to NW-FollowMe from any application."
    assert units["sentence3"].display == (
        "If your badge is not recognised, sign in on the printer screen once."
    )
    assert units["row4"].display == "Location: London; Nightly cap: $350"
    assert units["row4"].context == "Location | Nightly cap"


def test_sentences_of_one_paragraph_share_a_block_and_list_items_do_not() -> None:
    units = sentence_units(MARKDOWN)
    blocks = [u.block for u in units]
    assert blocks[2] == blocks[3]
    assert len({blocks[0], blocks[1], blocks[2]}) == 3
    assert blocks[4] == -1  # table rows stand alone


def test_fixed_width_tables_are_split_into_rows_with_their_wrapped_lines() -> None:
    units = sentence_units(FIXED_WIDTH)
    assert [u.display for u in units] == [
        "Date: 19 June 2026; Day: Friday; Holiday: Juneteenth",
        "Date: 3 July 2026; Day: Friday; Holiday: Independence Day (observed; 4 July falls on a "
        "Saturday)",
    ]
    assert FIXED_WIDTH[units[1].start : units[1].end].endswith("falls on a Saturday)")


def test_headings_and_fragments_are_not_candidates() -> None:
    text = "Reset your password\n\nReset it yourself at the portal. Done.\n"
    units = sentence_units(text, headings=["Reset your password"])
    assert [u.display for u in units] == ["Reset it yourself at the portal."]


# A PDF's text layer: no blank line after the title, the metadata line or a heading; a table's
# columns are only spaces; prose is wrapped at the page width.
PDF_TEXT = """Salary bands 2026
Classification: Restricted - Owner: Head of People Operations - Audience: HR managers and the
Compensation Committee only - Effective: 1 April 2026
These bands set the minimum, midpoint and maximum annual base salary (US dollars) for each
level. They apply to offers and promotions from 1 April 2026, and to the annual merit review in
Northwind Labs offices.
Sales
Level Minimum Midpoint Maximum
L1 $52,000 $61,000 $70,000
L2 $64,000 $75,000 $86,000
"""


def test_pdf_heading_and_metadata_lines_do_not_run_into_the_first_sentence() -> None:
    units = sentence_units(PDF_TEXT, headings=["Salary bands 2026", "Sales"])
    assert [u.display for u in units[:4]] == [
        "Classification: Restricted - Owner: Head of People Operations - Audience: HR managers "
        "and the Compensation Committee only - Effective: 1 April 2026",
        "These bands set the minimum, midpoint and maximum annual base salary (US dollars) for "
        "each level.",
        # a wrapped line whose next line starts with a capital still goes on
        "They apply to offers and promotions from 1 April 2026, and to the annual merit review "
        "in Northwind Labs offices.",
        "Level: L1; Minimum: $52,000; Midpoint: $61,000; Maximum: $70,000",
    ]
    assert units[3].kind == "row" and units[3].context == "Level | Minimum | Midpoint | Maximum"
    assert PDF_TEXT[units[4].start : units[4].end] == "L2 $64,000 $75,000 $86,000"
    assert len(units) == 5


def test_a_line_that_ends_short_is_not_joined_to_the_next() -> None:
    text = (
        "Caregiver Paid leave Pay\nPrimary caregiver 20 weeks 100% of base salary\n"
        "Secondary caregiver 6 weeks 100% of base salary\n"
        "The primary caregiver is the parent with the main responsibility for the child's care.\n"
    )
    units = sentence_units(text)
    assert [(u.display, u.kind, u.context) for u in units] == [
        ("Primary caregiver 20 weeks 100% of base salary", "row", "Caregiver Paid leave Pay"),
        ("Secondary caregiver 6 weeks 100% of base salary", "row", "Caregiver Paid leave Pay"),
        (
            "The primary caregiver is the parent with the main responsibility for the child's "
            "care.",
            "sentence",
            "",
        ),
    ]


def test_a_list_item_carries_the_label_line_above_its_list() -> None:
    text = (
        "## Installing the client\n\n**Windows**\n\n1. Open **Software Center**.\n"
        "2. Search for *NW Connect* and click Install.\n\n**macOS**\n\n"
        "1. Open Self Service from the Applications folder.\n\nThen sign in as usual.\n\n"
        "- Keep the laptop on mains power.\n"
    )
    units = sentence_units(text)
    assert [(u.display, u.context) for u in units] == [
        ("Open Software Center.", "Windows"),
        ("Search for NW Connect and click Install.", "Windows"),
        ("Open Self Service from the Applications folder.", "macOS"),
        ("Then sign in as usual.", ""),
        ("Keep the laptop on mains power.", ""),  # prose in between ends the label
    ]


def test_a_definition_is_shown_with_its_term() -> None:
    """A plain-text definition list: the term on a line of its own, its text indented below."""
    text = (
        "NW-Guest\n    For visitors and employees' personal phones, tablets and laptops.\n"
        "    Bandwidth is limited to 20 Mbps per device. It\n    resets daily.\n"
    )
    assert [u.display for u in sentence_units(text)] == [
        "NW-Guest: For visitors and employees' personal phones, tablets and laptops.",
        "Bandwidth is limited to 20 Mbps per device.",
        "It resets daily.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "How many failed sign-in attempts lock my account?",
            ["fail", "sign-in", "attempt", "lock", "account"],
        ),
        ("What is the $2,500 threshold?", ["2,500", "threshold"]),
    ],
)
def test_content_terms_are_stemmed_without_stop_or_question_words(
    text: str, expected: list[str]
) -> None:
    assert content_terms(text) == expected


def test_numbers_compare_without_separators() -> None:
    assert numbers_in("$2,500 within 1 hour") == {"2500", "1"}


def _retrieved(rank: int, dense: float | None) -> RetrievedChunk:
    chunk = ChunkRecord(
        chunk_id=f"c{rank}",
        document_id=f"src:doc{rank}.md",
        source_id="src",
        title=f"Doc {rank}",
        heading_path=(),
        uri=f"file:///doc{rank}.md",
        start=0,
        end=10,
        text="Some text.",
        content_hash=f"h{rank}",
        document_version="v1",
        read=("public",),
        deny=(),
        doc_type="md",
        ordinal=0,
    )
    scores = {"dense": dense} if dense is not None else {}
    return RetrievedChunk(ScoredChunk(chunk, 0.5, scores), rank, ("public",))  # type: ignore[arg-type]


def test_evidence_keeps_on_topic_chunks_numbered_from_one() -> None:
    result = RetrievalResult(
        chunks=[_retrieved(1, 0.6), _retrieved(2, 0.1), _retrieved(3, None), _retrieved(4, 0.5)],
        policy_version="p1",
        access=AccessFilter(holds=frozenset({"public"})),
    )
    evidence = select_evidence(result, limit=2, min_similarity=0.2)
    assert [(e.number, e.chunk.chunk_id) for e in evidence] == [(1, "c1"), (2, "c3")]


def _chunk(chunk_id: str, title: str, text: str) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=chunk_id,
        document_id=f"src:{chunk_id}.md",
        source_id="src",
        title=title,
        heading_path=(title,),
        uri=f"file:///{chunk_id}.md",
        start=0,
        end=len(text),
        text=text,
        content_hash=chunk_id,
        document_version="v1",
        read=("public",),
        deny=(),
        doc_type="md",
        ordinal=0,
    )


def test_on_topic_narrows_the_pool_to_what_a_pool_of_its_evidence_holds(
    embedder: Embedder,
) -> None:
    chunks = [
        _chunk("bin", "Recycle bin", "Deleted files stay in the recycle bin for 93 days."),
        _chunk("food", "Cafeteria", "The cafeteria serves pizza every Friday at noon."),
        _chunk("restore", "Restoring files", "Restore a deleted file from the recycle bin."),
    ]
    evidence = [Evidence(number=n, chunk=c, score=0.5) for n, c in enumerate(chunks, 1)]
    index = SentenceIndex(embedder=embedder, cache_chunks=0)
    question = embedder.embed_query("How long are deleted files kept in the recycle bin?")

    narrowed = on_topic(index.pool(evidence), question, min_similarity=0.5)

    assert [(e.number, e.chunk.chunk_id) for e in narrowed.evidence] == [(1, "bin"), (2, "restore")]
    built = index.pool(narrowed.evidence)
    assert narrowed.evidence == built.evidence
    assert (narrowed.owners, narrowed.sentences, narrowed.terms) == (
        built.owners,
        built.sentences,
        built.terms,
    )
    np.testing.assert_array_equal(narrowed.vectors, built.vectors)
    np.testing.assert_array_equal(narrowed.context_vectors, built.context_vectors)
    assert on_topic(index.pool(evidence), question, min_similarity=2.0).evidence == ()


def test_an_faq_answer_of_one_word_is_kept_with_the_sentence_after_it() -> None:
    """The sample KB's FAQ answers "Which Wi-Fi should my personal phone use?" with
    "`NW-Guest`. The daily access code is on the reception screens.": the one-word sentence
    was dropped as a fragment, and with it the answer."""
    text = "`NW-Guest`. The daily access code is on the reception and meeting room screens.\n"
    assert [u.display for u in sentence_units(text)] == [
        "NW-Guest. The daily access code is on the reception and meeting room screens."
    ]


def test_a_cut_after_a_question_mark_inside_a_sentence_is_mended() -> None:
    """ "click **Forgot password?** on the sign-on page" was quoted as two sentences, the second
    "on the single sign-on page."; a part starting in lower case goes on the one before it."""
    text = (
        "1. Go to the portal from any browser, or click **Forgot password?**\n"
        "   on the single sign-on page.\n"
        "2. Enter your Northwind email address.\n"
    )
    assert [u.display for u in sentence_units(text)] == [
        "Go to the portal from any browser, or click Forgot password? on the single sign-on page.",
        "Enter your Northwind email address.",
    ]
