"""parse_document on PDF and DOCX (built here with fpdf2 and python-docx): titles, sections by
page, bookmark and heading, lists and tables; encrypted, scanned and corrupt files refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from ingest.documents import ParseError
from ingest.parsing import parse_document
from tests.fixtures.parsed_documents import assert_sections_tile, section_texts


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
