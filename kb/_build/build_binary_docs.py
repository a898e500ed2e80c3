# ruff: noqa: E501, T201  (the documents' prose lives in long string literals; this is a CLI script)
"""Build the PDF and DOCX documents of the sample knowledge base.

The content of every binary document lives beside this script, one module per department
(``docs_it``, ``docs_hr``, ``docs_finance``, ``docs_facilities``; the shape in
``kb_document``), so the documents can be reviewed and edited as text. Run from anywhere:

    .venv/bin/python kb/_build/build_binary_docs.py

The output is deterministic: fixed creation dates and metadata in both formats, and the
DOCX zip container is rewritten with fixed timestamps, so re-running produces the same bytes.
``kb/_build/`` lies outside every source root in ``kb/sources.yaml`` and is never ingested.

Needs fpdf2 and python-docx (both in the dev dependencies).
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

import docx
from docx.shared import Pt
from fpdf import FPDF
from fpdf.fonts import FontFace

from docs_facilities import FIRE, OFFICE
from docs_finance import AUDIT, BUDGET, CARD
from docs_hr import DISCIPLINARY, PARENTAL, REMOTE, SALARY
from docs_it import AUP, LAPTOP, MFA_RESET, SOFTWARE
from kb_document import Doc

KB = Path(__file__).resolve().parent.parent
FIXED_DATE = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.UTC)
AUTHOR = "Northwind Labs"
ZIP_DATE = (2026, 3, 1, 9, 0, 0)

DOCUMENTS: list[Doc] = [
    LAPTOP,
    AUP,
    PARENTAL,
    SALARY,
    BUDGET,
    FIRE,
    SOFTWARE,
    MFA_RESET,
    REMOTE,
    DISCIPLINARY,
    CARD,
    AUDIT,
    OFFICE,
]

# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

_LATIN1_REPLACEMENTS = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2192": "->",
    "\u2265": ">=",
    "\u2264": "<=",
    "\u2026": "...",
    "\u2212": "-",
}


def _latin1(text: str) -> str:
    """Core PDF fonts (Helvetica) only cover latin-1; map the few typographic characters we use."""
    for src, dst in _LATIN1_REPLACEMENTS.items():
        text = text.replace(src, dst)
    text.encode("latin-1")  # raises if something outside latin-1 slipped into the content
    return text


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="Letter")
        self._doc_title = title

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110)
        self.cell(
            0, 10, _latin1(f"Northwind Labs - {self._doc_title} - page {self.page_no()}"), align="C"
        )
        self.set_text_color(0)


def render_pdf(doc: Doc) -> bytes:
    pdf = _Pdf(doc.title)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(_latin1(doc.title))
    pdf.set_author(AUTHOR)
    pdf.set_subject(_latin1(doc.subject))
    pdf.set_creator("kb/_build/build_binary_docs.py")
    pdf.set_producer("fpdf2")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    width = pdf.epw
    for kind, payload in doc.blocks:
        if kind in {"h1", "h2", "h3"}:
            assert isinstance(payload, str)
            size = {"h1": 18, "h2": 13, "h3": 11}[kind]
            pdf.ln(3 if kind == "h1" else 4)
            if pdf.get_y() > pdf.page_break_trigger - 30:
                pdf.add_page()  # keep a heading with the text that follows it
            pdf.start_section(_latin1(payload), level={"h1": 0, "h2": 1, "h3": 2}[kind])
            pdf.set_font("Helvetica", style="B", size=size)
            pdf.multi_cell(width, size * 0.55, _latin1(payload))
            pdf.ln(1.5)
        elif kind == "meta":
            assert isinstance(payload, str)
            pdf.set_font("Helvetica", style="I", size=9)
            pdf.multi_cell(width, 4.5, _latin1(payload))
            pdf.ln(2)
        elif kind == "p":
            assert isinstance(payload, str)
            pdf.set_font("Helvetica", size=10.5)
            pdf.multi_cell(width, 5.4, _latin1(payload))
            pdf.ln(2)
        elif kind in {"ul", "ol"}:
            assert isinstance(payload, list)
            pdf.set_font("Helvetica", size=10.5)
            for number, item in enumerate(payload, start=1):
                assert isinstance(item, str)
                marker = f"{number}." if kind == "ol" else "-"
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(7, 5.4, marker)
                pdf.multi_cell(width - 10, 5.4, _latin1(item))
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif kind == "table":
            assert isinstance(payload, list)
            pdf.set_font("Helvetica", size=9.5)
            with pdf.table(
                text_align="LEFT",
                line_height=5,
                padding=1.2,
                headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 240)),
            ) as table:
                for row in payload:
                    cells = table.row()
                    for value in row:
                        cells.cell(_latin1(str(value)))
            pdf.ln(3)
        else:
            raise ValueError(f"unknown block kind {kind!r} in {doc.path}")
    return bytes(pdf.output())


def render_docx(doc: Doc) -> bytes:
    document = docx.Document()
    props = document.core_properties
    props.title = doc.title
    props.subject = doc.subject
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = "Generated by kb/_build/build_binary_docs.py"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    document.styles["Normal"].font.size = Pt(10.5)
    for kind, payload in doc.blocks:
        if kind in {"h1", "h2", "h3"}:
            assert isinstance(payload, str)
            document.add_heading(payload, level={"h1": 1, "h2": 2, "h3": 3}[kind])
        elif kind == "meta":
            assert isinstance(payload, str)
            paragraph = document.add_paragraph()
            paragraph.add_run(payload).italic = True
        elif kind == "p":
            assert isinstance(payload, str)
            document.add_paragraph(payload)
        elif kind in {"ul", "ol"}:
            assert isinstance(payload, list)
            style = "List Number" if kind == "ol" else "List Bullet"
            for item in payload:
                assert isinstance(item, str)
                document.add_paragraph(item, style=style)
        elif kind == "table":
            assert isinstance(payload, list)
            header, *rows = payload
            table = document.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, value in zip(table.rows[0].cells, header, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(str(value)).bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=True):
                    cell.text = str(value)
            document.add_paragraph()
        else:
            raise ValueError(f"unknown block kind {kind!r} in {doc.path}")
    buffer = io.BytesIO()
    document.save(buffer)
    return _normalise_zip(buffer.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the DOCX container with fixed timestamps so that re-runs give identical bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(item.filename))
    return out.getvalue()


def _word_count(doc: Doc) -> int:
    count = 0
    for _, payload in doc.blocks:
        if isinstance(payload, str):
            count += len(payload.split())
            continue
        for entry in payload:
            count += len((" ".join(entry) if isinstance(entry, list) else entry).split())
    return count


def main() -> int:
    for doc in DOCUMENTS:
        target = KB / doc.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".pdf":
            data = render_pdf(doc)
        elif target.suffix == ".docx":
            data = render_docx(doc)
        else:
            raise ValueError(f"unsupported output type: {doc.path}")
        target.write_bytes(data)
        words = _word_count(doc)
        print(f"wrote {doc.path} ({len(data):,} bytes, ~{words} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
