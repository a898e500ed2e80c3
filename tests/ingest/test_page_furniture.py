"""Page furniture (running headers, footers, page numbers) is removed at parsing (issue 18)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from ingest.formats.furniture import strip_page_furniture
from ingest.parsing import parse_document

KB = Path(__file__).resolve().parents[2] / "kb"
KB_FOOTER = re.compile(r"Northwind Labs - .+ - page \d+")
BODY = [
    [
        "Travel handbook",
        "Book flights through the travel portal at least 14 days ahead.",
        "Economy class is the default for flights under 6 hours.",
    ],
    ["Hotels", "The nightly hotel cap is $250 in tier 1 cities.", "Keep every receipt."],
    ["Meals", "Per-diem rates apply per calendar day.", "Alcohol is never reimbursed."],
    ["Claims", "Submit claims within 30 days.", "Late claims need a director's approval."],
]


class _HandbookPdf(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, "Contoso Ltd | Travel handbook | Internal", align="C")
        self.ln(12)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")


def _handbook_pdf() -> bytes:
    pdf = _HandbookPdf()
    pdf.alias_nb_pages()
    for lines in BODY:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        for line in lines:
            pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_generated_pdf_loses_its_running_header_and_page_numbers() -> None:
    document = parse_document(_handbook_pdf(), "pdf", fallback_title="handbook")
    assert "Contoso Ltd" not in document.text
    assert not re.search(r"Page \d", document.text), document.text
    for lines in BODY:
        for line in lines:
            assert line in document.text
    assert document.title == "Travel handbook"  # not the running header
    assert [s.anchor for s in document.sections] == [f"page={n}" for n in range(1, 5)]
    for section in document.sections:  # each page's section starts with its own text
        assert document.text[section.start : section.end].strip().split("\n")[0] in {
            lines[0] for lines in BODY
        }


@pytest.mark.parametrize("path", sorted(KB.rglob("*.pdf")), ids=lambda p: p.name)
def test_sample_kb_pdfs_have_no_footer_lines(path: Path) -> None:
    document = parse_document(path.read_bytes(), "pdf", fallback_title=path.stem)
    assert not KB_FOOTER.search(document.text), KB_FOOTER.search(document.text)


def test_sample_kb_salary_bands_keep_their_body() -> None:
    path = KB / "hr" / "confidential" / "salary-bands-2026.pdf"
    text = parse_document(path.read_bytes(), "pdf", fallback_title="x").text
    assert "L5 $172,000 $202,000 $232,000" in text
    assert "Questions about the bands go to Frank Osei, Head of People Operations." in text
    assert text.rstrip().endswith("Head of People Operations.")


def test_docx_header_and_footer_parts_are_not_text() -> None:
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "Contoso Ltd - Remote work policy - Internal"
    section.footer.paragraphs[0].text = "Page 1"
    document.add_heading("Remote work policy", level=1)
    document.add_paragraph("Remote work is allowed up to three days a week.")
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_document(buffer.getvalue(), "docx", fallback_title="x")
    assert "Contoso Ltd" not in parsed.text
    assert "Page 1" not in parsed.text
    assert "Remote work is allowed up to three days a week." in parsed.text


def test_page_numbers_go_but_numbers_that_are_text_stay() -> None:
    pages = [
        "Intro\nThe first step.\n1",
        "- 2 -\nSecond step: restart.\nSteps left:\n7",
        "Closing\nCall extension 4357.\nPage 3 of 3",
    ]
    assert strip_page_furniture(pages) == [
        "Intro\nThe first step.",
        "Second step: restart.\nSteps left:\n7",  # 7 is not this page's number
        "Closing\nCall extension 4357.",
    ]


def test_a_line_repeated_on_one_page_only_is_kept() -> None:
    pages = ["Summary\nBody one.\nSee appendix", "Details\nBody two.\nEnd", "More\nBody three."]
    assert strip_page_furniture(pages) == pages
