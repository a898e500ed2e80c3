"""Chunker: structure-aware packing with the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunking import Chunker
from ingest.documents import ChunkDraft, ParsedDocument, Section
from ingest.parsing import parse_document
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from tests.fixtures.kb_index import KB

SENTENCES = [
    f"Step {number} of the guide explains how to reset a forgotten password safely."
    for number in range(60)
]


def assert_chunk_invariants(
    document: ParsedDocument,
    chunks: list[ChunkDraft],
    tokens: SentenceTransformerEmbedder,
    max_tokens: int,
) -> None:
    """The guarantees every caller relies on."""
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert [chunk.start for chunk in chunks] == sorted(chunk.start for chunk in chunks)
    counts = tokens.count([chunk.embed_text for chunk in chunks])
    for chunk, count in zip(chunks, counts, strict=True):
        assert chunk.text == document.text[chunk.start : chunk.end]
        assert chunk.text
        assert chunk.text == chunk.text.strip()
        assert count <= max_tokens, f"chunk {chunk.ordinal} has {count} tokens"
        assert chunk.embed_text.endswith("\n" + chunk.text) or chunk.embed_text == chunk.text
        homes = [
            section
            for section in document.sections
            if section.start <= chunk.start and chunk.end <= section.end
        ]
        assert len(homes) == 1, "a chunk crosses a section boundary"
        assert (chunk.heading_path, chunk.anchor) == (homes[0].heading_path, homes[0].anchor)


def letters(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def assert_text_covered(document: ParsedDocument, chunks: list[ChunkDraft]) -> None:
    """Every non-whitespace character lands in some chunk, but for sections that hold only
    their heading line (those give no chunk)."""
    covered = bytearray(len(document.text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    for section in document.sections:
        body = document.text[section.start : section.end]
        if section.heading_path and letters(body) == letters(section.heading_path[-1]):
            covered[section.start : section.end] = b"\x01" * (section.end - section.start)
    missing = "".join(
        char for char, hit in zip(document.text, covered, strict=True) if not hit
    ).split()
    assert not missing, f"text left out of every chunk: {missing[:5]}"


def markdown(source: str, title: str = "fallback") -> ParsedDocument:
    return parse_document(source.encode(), "md", fallback_title=title)


@pytest.fixture
def chunker(embedder: SentenceTransformerEmbedder) -> Chunker:
    return Chunker(tokens=embedder, target_tokens=60)


def test_empty_document_gives_no_chunks(chunker: Chunker) -> None:
    assert chunker.chunk(ParsedDocument(title="t", text="", sections=())) == []
    assert chunker.chunk(ParsedDocument(title="t", text=" \n ", sections=())) == []


def test_document_without_sections_is_read_as_one_section(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    text = " ".join(SENTENCES[:10])
    document = ParsedDocument(title="Loose text", text=text, sections=())

    chunks = chunker.chunk(document)

    assert len(chunks) > 1
    assert {chunk.heading_path for chunk in chunks} == {()}
    assert all(chunk.text == text[chunk.start : chunk.end] for chunk in chunks)
    assert all(chunk.embed_text.startswith("Loose text\n") for chunk in chunks)


def test_chunks_pack_sentences_and_never_cross_sections(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    document = markdown(
        "# Passwords\n\n"
        + "## Reset\n\n"
        + " ".join(SENTENCES[:12])
        + "\n\n## Unlock\n\n"
        + " ".join(SENTENCES[12:20])
    )

    chunks = chunker.chunk(document)

    assert_chunk_invariants(document, chunks, embedder, embedder.max_tokens)
    assert_text_covered(document, chunks)
    assert {chunk.heading_path for chunk in chunks} == {
        ("Passwords", "Reset"),
        ("Passwords", "Unlock"),
    }
    # Packed up to the 60-token target; a tiny tail (< 20 tokens) may join the last chunk.
    assert all(count <= 60 + 20 for count in embedder.count([c.text for c in chunks]))
    assert len(chunks) >= 5
    assert all(chunk.text.endswith(".") for chunk in chunks)  # cut between sentences


def test_consecutive_chunks_of_a_section_share_one_sentence(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    document = markdown(" ".join(SENTENCES[:20]))

    chunks = chunker.chunk(document)

    assert len(chunks) >= 3
    for previous, following in pairwise(chunks):
        shared = document.text[following.start : previous.end]
        assert shared in SENTENCES, f"overlap is not exactly one sentence: {shared!r}"


def test_a_table_row_is_not_repeated_as_the_next_chunks_overlap(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """The sample KB's payroll calendar: the table's last row began the next chunk, cut from
    its header ("December | Tuesday 15 December | Thursday 31 December"), and that chunk was
    retrieved instead of the table."""
    text = (KB / "finance" / "payroll-calendar-2026.md").read_text(encoding="utf-8")
    document = parse_document(text.encode(), "md", fallback_title="Payroll calendar 2026")

    chunks = Chunker(tokens=embedder).chunk(document)

    table = next(c for c in chunks if "| Month | First payday |" in c.text)
    assert "| December |" in table.text
    for chunk in chunks:
        first_line = chunk.text.lstrip().splitlines()[0]
        assert not first_line.startswith("|") or "| Month |" in first_line, chunk.text[:80]
    assert_text_covered(document, chunks)


def test_no_overlap_when_overlap_sentences_is_zero(embedder: SentenceTransformerEmbedder) -> None:
    document = markdown(" ".join(SENTENCES[:20]))

    chunks = Chunker(tokens=embedder, target_tokens=60, overlap_sentences=0).chunk(document)

    assert len(chunks) >= 3
    assert all(a.end < b.start for a, b in pairwise(chunks))
    assert_text_covered(document, chunks)


def test_embed_text_is_prefixed_with_title_and_heading_path(chunker: Chunker) -> None:
    document = markdown(
        "Preamble text here.\n\n# VPN\n\n## Setup\n\n### Windows\n\nInstall the client.",
        title="IT Handbook",
    )

    by_path = {chunk.heading_path: chunk.embed_text for chunk in chunker.chunk(document)}

    assert by_path == {
        (): "VPN\nPreamble text here.",  # the first H1 is the title
        ("VPN", "Setup", "Windows"): "VPN — Setup › Windows\n### Windows\n\nInstall the client.",
    }


def test_title_is_kept_in_the_prefix_when_the_first_heading_differs(chunker: Chunker) -> None:
    document = markdown("---\ntitle: IT Handbook\n---\n# VPN\n\nInstall the client.")

    (chunk,) = chunker.chunk(document)

    assert chunk.embed_text == "IT Handbook — VPN\n# VPN\n\nInstall the client."


def test_very_long_heading_prefix_is_cut_to_a_quarter_of_the_limit(
    embedder: SentenceTransformerEmbedder,
) -> None:
    heading = " ".join(f"configuration{n}" for n in range(200))
    document = markdown(f"# Guide\n\n## {heading}\n\n" + " ".join(SENTENCES[:30]))
    chunker = Chunker(tokens=embedder, target_tokens=100, max_tokens=128)

    chunks = chunker.chunk(document)

    assert_chunk_invariants(document, chunks, embedder, 128)
    prefix = chunks[0].embed_text.split("\n", 1)[0]
    assert prefix.startswith("Guide — configuration0 configuration1")
    assert prefix.endswith("…")
    assert embedder.count([prefix])[0] <= 128 // 4


def test_word_salad_sentence_without_spaces_is_split_within_the_limit(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    rng = random.Random(7)
    salad = "".join(
        rng.choice(string.ascii_letters + string.digits + ".,;:-_/") for _ in range(5000)
    )
    document = markdown(f"# Dump\n\nBefore the dump.\n\n{salad}\n\nAfter the dump.")

    chunks = chunker.chunk(document)

    assert_chunk_invariants(document, chunks, embedder, embedder.max_tokens)
    assert_text_covered(document, chunks)
    assert len(chunks) >= 5


def test_letters_only_run_longer_than_a_word_stays_within_the_limit(
    embedder: SentenceTransformerEmbedder,
) -> None:
    run = "".join(random.Random(3).choice(string.ascii_lowercase) for _ in range(5000))
    document = ParsedDocument(title="T", text=run, sections=(Section((), 0, len(run)),))
    chunker = Chunker(tokens=embedder, target_tokens=40, max_tokens=48)

    chunks = chunker.chunk(document)

    assert_chunk_invariants(document, chunks, embedder, 48)
    assert_text_covered(document, chunks)


def test_long_list_is_split_between_items(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    items = [f"- Item {n}: restart the print spooler on host {n}" for n in range(500)]
    document = markdown("# Runbook\n\n## Hosts\n\n" + "\n".join(items))

    chunks = chunker.chunk(document)

    assert_chunk_invariants(document, chunks, embedder, embedder.max_tokens)
    assert_text_covered(document, chunks)
    item_chunks = [chunk for chunk in chunks if chunk.heading_path == ("Runbook", "Hosts")]
    assert len(item_chunks) > 20
    for chunk in item_chunks[1:]:
        assert all(line in items for line in chunk.text.split("\n"))


def test_numbered_list_marker_stays_with_its_item(
    embedder: SentenceTransformerEmbedder,
) -> None:
    steps = [f"{n}. Open the settings page and choose option {n}." for n in range(1, 30)]
    document = markdown("\n".join(steps))

    chunks = Chunker(tokens=embedder, target_tokens=30).chunk(document)

    assert len(chunks) > 3
    assert all(chunk.text.split("\n", 1)[0] in steps for chunk in chunks)


def test_tiny_trailing_piece_joins_the_previous_chunk(
    chunker: Chunker, embedder: SentenceTransformerEmbedder
) -> None:
    document = markdown(" ".join([*SENTENCES[:8], "Done."]))

    chunks = chunker.chunk(document)

    assert chunks[-1].text.endswith("Done.")
    assert embedder.count([chunks[-1].text])[0] > 20
    assert_chunk_invariants(document, chunks, embedder, embedder.max_tokens)


def test_heading_only_section_gives_no_chunk(chunker: Chunker) -> None:
    document = markdown("# Guide\n\n## Empty heading\n\n## Filled\n\nSome content here.")

    chunks = chunker.chunk(document)

    assert [chunk.heading_path for chunk in chunks] == [("Guide", "Filled")]


class LengthPenalisingCounter:
    """The real tokenizer, but counting one extra token per 40 characters of input: like a
    tokenizer whose counts are not additive, so that sizes estimated from word pieces run
    short and only the final check with `count` can keep the limit."""

    def __init__(self, real: SentenceTransformerEmbedder) -> None:
        self._real = real

    @property
    def max_tokens(self) -> int:
        return self._real.max_tokens

    def count(self, texts: Sequence[str]) -> list[int]:
        return [n + len(t) // 40 for n, t in zip(self._real.count(texts), texts, strict=True)]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self._real.token_spans(text)


def test_limit_holds_even_when_piece_counts_underestimate(
    embedder: SentenceTransformerEmbedder,
) -> None:
    counter = LengthPenalisingCounter(embedder)
    document = markdown("# Guide\n\n" + " ".join(SENTENCES) + "\n\n" + "x1-" * 2000)

    chunks = Chunker(tokens=counter, target_tokens=200, max_tokens=100).chunk(document)

    counts = counter.count([chunk.embed_text for chunk in chunks])
    assert max(counts) <= 100
    assert max(counts) > 90  # halved only as far as needed
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert all(chunk.text == document.text[chunk.start : chunk.end] for chunk in chunks)
    assert_text_covered(document, chunks)


def test_target_above_the_limit_means_the_limit(embedder: SentenceTransformerEmbedder) -> None:
    document = markdown(" ".join(SENTENCES))

    chunks = Chunker(tokens=embedder, max_tokens=64).chunk(document)  # default target: 200

    assert len(chunks) > 5
    assert_chunk_invariants(document, chunks, embedder, 64)


@pytest.mark.parametrize(
    "options",
    [
        {"target_tokens": 0},
        {"max_tokens": 4},
        {"overlap_sentences": -1},
    ],
)
def test_constructor_refuses_impossible_sizes(
    embedder: SentenceTransformerEmbedder, options: dict[str, int]
) -> None:
    with pytest.raises(ValueError, match="must be"):
        Chunker(tokens=embedder, **options)


# --- property: the invariants hold for random documents -------------------------------------

_WORDS = st.one_of(
    st.sampled_from(["the", "password", "reset.", "e.g.", "U.S.", "Dr.", "café", "—", "42"]),
    st.text(alphabet=string.ascii_letters + string.digits + "._-/", min_size=1, max_size=400),
    st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=12),
)
_PARAGRAPH = st.lists(_WORDS, min_size=1, max_size=60).map(" ".join)
_BLOCK = st.one_of(
    _PARAGRAPH,
    st.lists(_PARAGRAPH.map(lambda text: "- " + text), min_size=1, max_size=8).map("\n".join),
    st.lists(_PARAGRAPH.map(lambda text: "1. " + text), min_size=1, max_size=8).map("\n".join),
)
_SECTION = st.tuples(
    st.integers(1, 4), st.text(string.ascii_letters + " ", min_size=1, max_size=80), _BLOCK
)


@settings(max_examples=60, deadline=None)
@given(
    preamble=st.none() | _BLOCK,
    sections=st.lists(_SECTION, max_size=6),
    target=st.integers(10, 200),
    limit=st.integers(24, 254),
    overlap=st.integers(0, 3),
)
def test_chunk_invariants_hold_for_random_documents(
    embedder: SentenceTransformerEmbedder,
    preamble: str | None,
    sections: list[tuple[int, str, str]],
    target: int,
    limit: int,
    overlap: int,
) -> None:
    blocks = [preamble] if preamble else []
    blocks += [f"{'#' * level} {heading}\n\n{body}" for level, heading, body in sections]
    if not "".join(blocks).strip():
        return
    document = markdown("\n\n".join(blocks), title="Random document")
    chunker = Chunker(
        tokens=embedder,
        target_tokens=min(target, limit),
        max_tokens=limit,
        overlap_sentences=overlap,
    )

    chunks = chunker.chunk(document)

    assert_chunk_invariants(document, chunks, embedder, limit)
    assert_text_covered(document, chunks)
