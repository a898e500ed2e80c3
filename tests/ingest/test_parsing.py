"""parse_document: every format's title, text, sections and anchors, and every refusal."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.documents import DOC_TYPES, DocType, ParsedDocument, ParseError
from ingest.parsing import parse_document


def assert_sections_tile(document: ParsedDocument) -> None:
    """Sections are sorted, disjoint, inside the text, and cover every non-whitespace char."""
    text = document.text
    covered = 0
    for section in document.sections:
        assert 0 <= section.start < section.end <= len(text)
        assert section.start >= covered, "sections overlap or are out of order"
        assert not text[covered : section.start].strip(), "text between sections"
        covered = section.end
    assert not text[covered:].strip(), "text after the last section"


def section_texts(document: ParsedDocument) -> dict[tuple[str, ...], str]:
    return {s.heading_path: document.text[s.start : s.end] for s in document.sections}


def build_pdf(tmp_path: Path, pages: list[str], *, title: str | None = None) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for page in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, page)
    path = tmp_path / "doc.pdf"
    pdf.output(str(path))
    return path.read_bytes()


def build_docx(tmp_path: Path, *, core_title: str = "", with_title_style: bool = True) -> bytes:
    document = docx.Document()
    document.core_properties.title = core_title
    if with_title_style:
        document.add_heading("Printer Guide", 0)
    document.add_paragraph("How to keep the office printer working.")
    document.add_heading("Install the driver", 1)
    document.add_paragraph("Download the driver from the portal.")
    document.add_paragraph("Open the installer", style="List Bullet")
    document.add_paragraph("Accept the licence", style="List Number")
    document.add_heading("On Linux", 2)
    table = document.add_table(rows=2, cols=2)
    for (row, col), value in {
        (0, 0): "System",
        (0, 1): "Command",
        (1, 0): "Debian",
        (1, 1): "apt install printer-driver",
    }.items():
        table.cell(row, col).text = value
    document.add_paragraph("Restart afterwards.")
    path = tmp_path / "doc.docx"
    document.save(str(path))
    return path.read_bytes()


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


# --- HTML -----------------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head><title>Reset password | Help</title><style>.x { color: red }</style>
<script>var secret = "script text";</script></head>
<body>
<header><nav><a href="/">Home</a> site menu</nav>Site banner</header>
<aside>Related links</aside>
<article>
  <header><h1 id="reset">Reset your   password</h1></header>
  <p>Open the <b>portal</b>.<br>Then sign in.</p>
  <!-- an editor's comment -->
  <h2><a name="steps"></a>Steps</h2>
  <ol><li>Click Settings</li><li><p>Click Reset</p><ul><li>Confirm by email</li></ul></li></ol>
  <table><tr><th>System</th><th>Link</th></tr><tr><td>Windows</td><td>portal/win</td></tr></table>
  <h2>No id here</h2>
  <pre>line one
    indented line</pre>
  <noscript>Enable JavaScript</noscript>
</article>
<footer>Copyright footer</footer>
</body></html>"""


def test_html_drops_page_chrome_and_keeps_the_article() -> None:
    document = parse_document(HTML.encode(), "html", fallback_title="fallback")

    for chrome in ("script text", "site menu", "Site banner", "Related links", "footer", "color"):
        assert chrome not in document.text
    assert "editor's comment" not in document.text
    assert "Enable JavaScript" not in document.text
    assert document.text.startswith("Reset your password\n\nOpen the portal.\nThen sign in.")


def test_html_headings_make_sections_anchored_by_their_ids() -> None:
    document = parse_document(HTML.encode(), "html", fallback_title="fallback")

    assert document.title == "Reset password | Help"
    assert [(s.heading_path, s.anchor) for s in document.sections] == [
        (("Reset your password",), "reset"),
        (("Reset your password", "Steps"), "steps"),
        (("Reset your password", "No id here"), None),
    ]
    assert_sections_tile(document)


def test_html_list_items_and_table_rows_become_lines() -> None:
    document = parse_document(HTML.encode(), "html", fallback_title="fallback")
    steps = section_texts(document)[("Reset your password", "Steps")]

    assert steps == (
        "Steps\n\n- Click Settings\n- Click Reset\n  - Confirm by email\n\n"
        "System | Link\nWindows | portal/win\n\n"
    )
    assert "line one\n    indented line" in document.text  # <pre> keeps its layout


@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("<title> Page  title </title><h1>Heading</h1><p>x</p>", "Page title"),
        ("<h2>Minor</h2><h1>First <em>H1</em></h1><p>x</p>", "First H1"),
        ("<p>No title anywhere.</p>", "fallback"),
    ],
)
def test_html_title_is_the_title_tag_then_first_h1_then_fallback(page: str, title: str) -> None:
    assert parse_document(page.encode(), "html", fallback_title="fallback").title == title


def test_html_declared_legacy_charset_is_honoured() -> None:
    page = '<meta charset="windows-1252"><p>Caf\u00e9 \u2013 menu</p>'.encode("cp1252")

    document = parse_document(page, "html", fallback_title="x")

    assert document.text == "Caf\u00e9 \u2013 menu"


def test_html_page_without_visible_text_is_refused() -> None:
    page = b"<html><head><title>T</title></head><body><nav>menu</nav><script>x()</script></body>"

    with pytest.raises(ParseError, match="no extractable text"):
        parse_document(page, "html", fallback_title="x")


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_pages_become_sections_anchored_by_page_number(tmp_path: Path) -> None:
    pages = ["Reset your password in the portal.", "", "Call the desk if it fails."]

    document = parse_document(
        build_pdf(tmp_path, pages, title="Password Manual"), "pdf", fallback_title="x"
    )

    assert document.title == "Password Manual"
    assert [(s.heading_path, s.anchor) for s in document.sections] == [
        (("Page 1",), "page=1"),
        (("Page 3",), "page=3"),  # the empty page 2 has no section
    ]
    assert section_texts(document)[("Page 3",)] == "Call the desk if it fails."
    assert_sections_tile(document)


def test_pdf_without_metadata_title_takes_its_first_line(tmp_path: Path) -> None:
    document = parse_document(
        build_pdf(tmp_path, ["Quarterly VPN notes\nBody text."]), "pdf", fallback_title="x"
    )

    assert document.title == "Quarterly VPN notes"


def test_pdf_bookmarks_start_sections_at_their_heading_lines(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)

    def write(text: str) -> None:
        pdf.multi_cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")

    pdf.add_page()
    write("Front matter on page one.")
    for name, level in [("Install", 0), ("Linux", 1)]:
        pdf.start_section(name, level=level)
        write(f"{name}\n{name} text.")
    pdf.add_page()
    write("More Linux text.")
    pdf.start_section("Support", level=0)
    write("Call the desk.")  # "Support" is not printed: the bookmark covers its whole page
    pdf.add_page()
    write("Support text.")

    document = parse_document(bytes(pdf.output()), "pdf", fallback_title="x")

    assert [
        (s.heading_path, document.text[s.start : s.end].strip()) for s in document.sections
    ] == [
        (("Page 1",), "Front matter on page one."),
        (("Install",), "Install\nInstall text."),
        (("Install", "Linux"), "Linux\nLinux text."),
        (("Support",), "More Linux text.\nCall the desk."),
        (("Support",), "Support text."),
    ]
    assert [s.anchor for s in document.sections] == ["page=1"] * 3 + ["page=2", "page=3"]
    assert_sections_tile(document)


def test_scanned_pdf_without_a_text_layer_is_refused(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 140, style="F")  # ink, but no text

    with pytest.raises(ParseError, match=r"no extractable text.*OCR"):
        parse_document(bytes(pdf.output()), "pdf", fallback_title="x")


def test_password_protected_pdf_is_refused() -> None:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.add_page()
    pdf.set_font("Helvetica")
    pdf.cell(text="Secret text")

    with pytest.raises(ParseError, match="encrypted PDF: it needs a password"):
        parse_document(bytes(pdf.output()), "pdf", fallback_title="x")


def test_pdf_encrypted_without_a_user_password_is_read() -> None:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner")  # restricts editing, anyone may read
    pdf.add_page()
    pdf.set_font("Helvetica")
    pdf.cell(text="Readable text")

    assert parse_document(bytes(pdf.output()), "pdf", fallback_title="x").text == "Readable text"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda good: good[: len(good) // 3], "corrupt PDF"),
        (lambda good: b"%PDF-1.7\n" + bytes(range(256)) * 4, "corrupt PDF"),
        (lambda good: b"Just some text, not a PDF.", "not a PDF"),
    ],
    ids=["truncated", "garbage-after-header", "no-header"],
)
def test_corrupt_pdf_is_refused(
    tmp_path: Path, damage: Callable[[bytes], bytes], reason: str
) -> None:
    good = build_pdf(tmp_path, ["Some text."])

    with pytest.raises(ParseError, match=reason):
        parse_document(damage(good), "pdf", fallback_title="x")


# --- DOCX -----------------------------------------------------------------------------------


def test_docx_headings_lists_and_tables_in_document_order(tmp_path: Path) -> None:
    document = parse_document(build_docx(tmp_path), "docx", fallback_title="x")

    assert document.title == "Printer Guide"
    assert section_texts(document) == {
        ("Printer Guide",): "Printer Guide\n\nHow to keep the office printer working.\n\n",
        ("Printer Guide", "Install the driver"): (
            "Install the driver\n\nDownload the driver from the portal.\n\n"
            "- Open the installer\n- Accept the licence\n\n"
        ),
        ("Printer Guide", "Install the driver", "On Linux"): (
            "On Linux\n\nSystem | Command\nDebian | apt install printer-driver\n\n"
            "Restart afterwards."
        ),
    }
    assert_sections_tile(document)


@pytest.mark.parametrize(
    ("core_title", "with_title_style", "title"),
    [
        ("Core Properties Title", True, "Core Properties Title"),
        ("", True, "Printer Guide"),
        ("", False, "Install the driver"),  # first Heading 1
    ],
)
def test_docx_title_is_core_property_then_title_or_first_heading(
    tmp_path: Path, core_title: str, with_title_style: bool, title: str
) -> None:
    data = build_docx(tmp_path, core_title=core_title, with_title_style=with_title_style)

    assert parse_document(data, "docx", fallback_title="x").title == title


def _zip_without_word_parts() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a Word document")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda good: b"This is plain text saved as .docx", "not a ZIP archive"),
        (lambda good: good[: len(good) // 2], "not a ZIP archive"),
        (lambda good: _zip_without_word_parts(), "required part is missing"),
    ],
    ids=["plain-text", "truncated", "zip-without-word-parts"],
)
def test_corrupt_docx_is_refused(
    tmp_path: Path, make: Callable[[bytes], bytes], reason: str
) -> None:
    good = build_docx(tmp_path)

    with pytest.raises(ParseError, match=f"corrupt DOCX: .*{reason}"):
        parse_document(make(good), "docx", fallback_title="x")


# --- refusals common to all formats ---------------------------------------------------------


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_empty_file_is_refused(doc_type: DocType) -> None:
    with pytest.raises(ParseError, match=r"empty file \(0 bytes\)"):
        parse_document(b"", doc_type, fallback_title="x")


@pytest.mark.parametrize("doc_type", ["md", "txt", "html"])
def test_whitespace_only_file_is_refused(doc_type: DocType) -> None:
    with pytest.raises(ParseError, match="empty file: it holds only whitespace"):
        parse_document(b" \r\n\t\n  \n", doc_type, fallback_title="x")


@pytest.mark.parametrize("doc_type", ["md", "txt", "html"])
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "contains NUL bytes"),
        (bytes(range(1, 32)) * 20 + b"a few letters", "not printable"),
        (bytes([0x8B, 0x1F, 0x03, 0x04, 0x9C, 0x11, 0xFE, 0x12]) * 50, "it is not text"),
    ],
    ids=["nul-bytes", "control-characters", "undecodable-binary"],
)
def test_binary_data_with_a_text_extension_is_refused(
    doc_type: DocType, data: bytes, reason: str
) -> None:
    with pytest.raises(ParseError, match=f"binary data in a .{doc_type} file") as caught:
        parse_document(data, doc_type, fallback_title="x")
    assert reason in str(caught.value)


@pytest.mark.parametrize("doc_type", ["md", "txt", "html"])
def test_invalid_utf8_is_refused_with_its_byte_offset(doc_type: DocType) -> None:
    data = "Caf\u00e9 menu: ".encode() + "cr\u00e8me br\u00fbl\u00e9e".encode("latin-1")

    with pytest.raises(
        ParseError, match=rf"invalid UTF-8 in a \.{doc_type} file at byte 14 \(0xe8\)"
    ):
        parse_document(data, doc_type, fallback_title="x")


def _empty_docx() -> bytes:
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "doc_type", "reason"),
    [
        (b"---\ntitle: Only metadata\n---\n\n", "md", "holds only front matter"),
        (_empty_docx(), "docx", "no paragraphs or tables with text"),
    ],
    ids=["markdown-front-matter-only", "docx-without-paragraphs"],
)
def test_document_without_text_is_refused(data: bytes, doc_type: DocType, reason: str) -> None:
    with pytest.raises(ParseError, match=f"no extractable text: .*{reason}"):
        parse_document(data, doc_type, fallback_title="x")


def test_utf8_byte_order_mark_is_not_part_of_the_text() -> None:
    document = parse_document("\ufeff# Title\ntext".encode(), "md", fallback_title="x")

    assert document.text == "# Title\ntext"
    assert document.title == "Title"


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
    assume(source.strip() and not source.startswith("---"))  # those are refused, tested above

    document = parse_document(source.encode(), "md", fallback_title="x")

    assert_sections_tile(document)
    assert all(all(part for part in s.heading_path) for s in document.sections)
    assert "\r" not in document.text
    assert "\n\n\n" not in document.text
