"""DOCX with python-docx: paragraphs in order, Title/Heading styles as sections, tables as lines."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.documents import ParsedDocument, ParseError
from ingest.formats.layout import TextAssembler, collapse_spaces

__all__ = ["parse_docx"]

_HEADING_STYLE = re.compile(r"Heading ([1-9])")


def parse_docx(data: bytes, *, fallback_title: str) -> ParsedDocument:
    """Parse a Word document's body: paragraphs, headings, list items and tables, in order."""
    try:
        document = docx.Document(io.BytesIO(data))
        out = TextAssembler()
        first_heading = _write_body(out, document.iter_inner_content())
        core_title = collapse_spaces(document.core_properties.title or "")
    except zipfile.BadZipFile as err:
        raise ParseError(
            "corrupt DOCX: it is not a ZIP archive, which every .docx file is"
        ) from err
    except KeyError as err:
        raise ParseError(f"corrupt DOCX: a required part is missing ({err.args[0]})") from err
    except Exception as err:  # python-docx and lxml raise many unrelated types on damaged files
        message = str(err).strip() or type(err).__name__
        raise ParseError(f"corrupt DOCX: {message}") from err
    text, sections = out.build()
    return ParsedDocument(
        title=core_title or first_heading or fallback_title, text=text, sections=sections
    )


def _write_body(out: TextAssembler, blocks: Iterable[object]) -> str:
    """Write the body's blocks; return the text of the first Title or Heading 1."""
    first_heading = ""
    for block in blocks:
        if isinstance(block, Table):
            _write_table(out, block)
            continue
        if not isinstance(block, Paragraph):
            continue
        level = _heading_level(block)
        if level is not None:
            out.heading(level, block.text)
            if level <= 1 and not first_heading:
                first_heading = collapse_spaces(block.text)
        elif _is_list_item(block):
            out.line("- " + collapse_spaces(block.text))
        else:
            out.paragraph(block.text)
    return first_heading


def _heading_level(paragraph: Paragraph) -> int | None:
    name = _style_name(paragraph)
    if name == "Title":
        return 0
    match = _HEADING_STYLE.fullmatch(name)
    return int(match.group(1)) if match else None


def _is_list_item(paragraph: Paragraph) -> bool:
    properties = paragraph._p.pPr
    numbered = properties is not None and properties.numPr is not None
    return numbered or _style_name(paragraph).startswith("List")


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return str(style.name) if style is not None and style.name else ""


def _write_table(out: TextAssembler, table: Table) -> None:
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell is repeated once per grid column
                continue
            previous = cell._tc
            cells.append(collapse_spaces(cell.text))
        if any(cells):
            out.line(" | ".join(cells))
    out.end_group()
