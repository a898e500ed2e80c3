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
from ingest.formats.limits import ParseBudget, ParseLimitError, ParseLimits

__all__ = ["parse_docx"]

_HEADING_STYLE = re.compile(r"Heading ([1-9])")


def parse_docx(
    data: bytes, *, fallback_title: str, budget: ParseBudget | None = None
) -> ParsedDocument:
    """Parse a Word document's body: paragraphs, headings, list items and tables, in order.

    The archive is measured before python-docx inflates and parses it (`budget`'s limits)."""
    budget = budget or ParseBudget(ParseLimits())
    try:
        _check_archive(data, budget.limits)
        document = docx.Document(io.BytesIO(data))
        out = TextAssembler()
        first_heading = _write_body(out, document.iter_inner_content(), budget)
        core_title = collapse_spaces(document.core_properties.title or "")
    except ParseError:
        raise
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


def _check_archive(data: bytes, limits: ParseLimits) -> None:
    """Refuse a ZIP that would inflate past the limits. The sizes are those the archive
    declares, and `zipfile` never reads a part past its declared size."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = archive.infolist()
    if len(parts) > limits.max_parts:
        raise ParseLimitError(
            f"over the parse limit: the DOCX holds {len(parts)} parts, more than "
            f"{limits.max_parts} (ingest.parse_limits.max_parts)"
        )
    total = sum(part.file_size for part in parts)
    if total > limits.max_uncompressed_bytes:
        raise ParseLimitError(
            f"over the parse limit: the DOCX inflates to {total} bytes, more than "
            f"{limits.max_uncompressed_bytes} (ingest.parse_limits.max_uncompressed_bytes)"
        )
    xml = sum(part.file_size for part in parts if part.filename.endswith((".xml", ".rels")))
    if xml > limits.max_xml_bytes:
        raise ParseLimitError(
            f"over the parse limit: the DOCX holds {xml} bytes of XML, more than "
            f"{limits.max_xml_bytes} (ingest.parse_limits.max_xml_bytes)"
        )


def _write_body(out: TextAssembler, blocks: Iterable[object], budget: ParseBudget) -> str:
    """Write the body's blocks; return the text of the first Title or Heading 1."""
    first_heading = ""
    for block in blocks:
        if isinstance(block, Table):
            budget.spend(_write_table(out, block))
            continue
        if not isinstance(block, Paragraph):
            continue
        budget.spend(len(block.text))
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


def _write_table(out: TextAssembler, table: Table) -> int:
    """Write a table's rows as lines; returns the characters written."""
    written = 0
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell is repeated once per grid column
                continue
            previous = cell._tc
            cells.append(collapse_spaces(cell.text))
        if any(cells):
            line = " | ".join(cells)
            written += len(line)
            out.line(line)
    out.end_group()
    return written
