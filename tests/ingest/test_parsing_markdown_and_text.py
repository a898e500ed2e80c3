"""parse_document on Markdown and plain text: front matter, titles, sections and their anchors,
normalised text, refused front matter; and a property: any Markdown-ish text tiles into sections."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.documents import ParseError
from ingest.parsing import parse_document
from tests.fixtures.parsed_documents import assert_sections_tile, section_texts

# --- Markdown -------------------------------------------------------------------------------

MARKDOWN = """---
title: Password help
owner: it-team
tags: [accounts, passwords]
---
Read this first.

# Reset your password

Open the portal.

## Steps (2024)
1. Click **Settings**.
2. Click *Reset*.

```bash
# this is a comment, not a heading
reset --now
```

## Steps (2024)
Again, with feeling.

Troubleshooting
---------------
Call the desk.
"""


def test_markdown_front_matter_is_parsed_and_removed_from_the_text() -> None:
    document = parse_document(MARKDOWN.encode(), "md", fallback_title="fallback")

    assert dict(document.front_matter) == {
        "title": "Password help",
        "owner": "it-team",
        "tags": ["accounts", "passwords"],
    }
    assert document.title == "Password help"
    assert document.text.startswith("Read this first.")
    assert "owner:" not in document.text


def test_markdown_headings_make_nested_sections_with_github_anchors() -> None:
    document = parse_document(MARKDOWN.encode(), "md", fallback_title="fallback")

    assert [(s.heading_path, s.anchor) for s in document.sections] == [
        ((), None),
        (("Reset your password",), "reset-your-password"),
        (("Reset your password", "Steps (2024)"), "steps-2024"),
        (("Reset your password", "Steps (2024)"), "steps-2024-1"),
        (("Reset your password", "Troubleshooting"), "troubleshooting"),
    ]
    steps = document.text[document.sections[2].start : document.sections[2].end]
    assert "# this is a comment, not a heading" in steps  # a fenced '#' line is code
    assert_sections_tile(document)


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("---\ntitle: From front matter\n---\n# From heading\ntext", "From front matter"),
        ("Intro\n\n## Minor\n\n# The `first` **H1**\ntext", "The first H1"),
        ("Intro\n\nThe Setext Title\n=====\ntext", "The Setext Title"),
        ("No heading at all.", "fallback"),
    ],
)
def test_markdown_title_is_front_matter_then_first_h1_then_fallback(
    source: str, title: str
) -> None:
    assert parse_document(source.encode(), "md", fallback_title="fallback").title == title


def test_markdown_text_is_normalised_but_kept_as_written() -> None:
    source = b"# Title  \r\n\r\nLine one   \r\n**bold** line\r\n\r\n\r\n\r\n\r\nLast\r\n\n\n"

    document = parse_document(source, "md", fallback_title="x")

    assert document.text == "# Title\n\nLine one\n**bold** line\n\nLast"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("---\ntitle: a: b\n---\ntext", "invalid YAML front matter (line 2)"),
        ("---\ntitle: ok\n\tbad: tab\n---\ntext", "invalid YAML front matter (line 3)"),
        ("---\n- a\n- b\n---\ntext", "must be a YAML mapping"),
        ("---\ntitle: never closed\n\ntext", "never closed"),
    ],
)
def test_bad_front_matter_is_refused_with_the_reason(source: str, reason: str) -> None:
    with pytest.raises(ParseError, match="front matter") as caught:
        parse_document(source.encode(), "md", fallback_title="x")
    assert reason in str(caught.value)


# --- plain text -----------------------------------------------------------------------------


def test_text_title_is_the_first_short_line_and_underlines_make_sections() -> None:
    source = (
        b"VPN guide\n\nConnect before you travel.\n\n"
        b"Setup\n=====\nInstall it.\n\nWindows\n-------\nUse the MSI.\n"
    )

    document = parse_document(source, "txt", fallback_title="fallback")

    assert document.title == "VPN guide"
    assert section_texts(document) == {
        (): "VPN guide\n\nConnect before you travel.\n\n",
        ("Setup",): "Setup\n=====\nInstall it.\n\n",
        ("Setup", "Windows"): "Windows\n-------\nUse the MSI.",
    }
    assert all(section.anchor is None for section in document.sections)


def test_text_with_a_long_first_line_and_no_headings_is_one_section_under_the_fallback() -> None:
    source = ("word " * 40 + "\nsecond line\n").encode()

    document = parse_document(source, "txt", fallback_title="notes.txt")

    assert document.title == "notes.txt"
    assert [(s.heading_path, s.start, s.end) for s in document.sections] == [
        ((), 0, len(document.text))
    ]


# --- property: any Markdown-ish text parses into sections that tile it -----------------------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)
_MARKDOWN_LINES = st.one_of(
    st.sampled_from(["", "   ", "---", "===", "```", "~~~", "- item", "1. step", "| a | b |"]),
    st.builds(lambda level, text: "#" * level + " " + text, st.integers(1, 7), _TEXT),
    _TEXT,
)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_MARKDOWN_LINES, max_size=30), newline=st.sampled_from(["\n", "\r\n"]))
def test_any_markdown_parses_into_sections_that_tile_its_text(
    lines: list[str], newline: str
) -> None:
    source = newline.join(lines)
    # Front matter and whitespace-only text are refused (here and in test_parsing_refusals).
    assume(source.strip() and not source.startswith("---"))

    document = parse_document(source.encode(), "md", fallback_title="x")

    assert_sections_tile(document)
    assert all(all(part for part in s.heading_path) for s in document.sections)
    assert "\r" not in document.text
    assert "\n\n\n" not in document.text
