"""Fetched bytes → `ParsedDocument`: normalised text, title and sections, for every `DocType`.

A document that cannot be read raises `ParseError` with a reason an operator can act on
(empty, binary, badly encoded, corrupt, encrypted, no text layer); nothing is guessed or
silently repaired.

The libraries are the ones llama-index's readers wrap (pypdf, python-docx, BeautifulSoup),
used directly because those readers flatten a document and lose the sections and anchors
that citations point at.
"""

from __future__ import annotations

from typing import Protocol

from ingest.documents import DocType, ParsedDocument, ParseError
from ingest.formats.encoding import decode_text
from ingest.formats.html import parse_html
from ingest.formats.limits import ParseBudget, ParseLimitError, ParseLimits
from ingest.formats.markdown import parse_markdown
from ingest.formats.pdf import parse_pdf
from ingest.formats.plaintext import parse_plain_text
from ingest.formats.word import parse_docx

__all__ = ["parse_document"]


class _TextParser(Protocol):
    def __call__(self, text: str, *, fallback_title: str) -> ParsedDocument: ...


class _BudgetedParser(Protocol):
    def __call__(
        self, data: bytes, *, fallback_title: str, budget: ParseBudget | None = None
    ) -> ParsedDocument: ...


_TEXT_PARSERS: dict[str, _TextParser] = {"md": parse_markdown, "txt": parse_plain_text}
_BINARY_PARSERS: dict[str, _BudgetedParser] = {"pdf": parse_pdf, "docx": parse_docx}
_NO_TEXT = {
    "pdf": "no extractable text: the PDF has no text layer (a scanned document needs OCR, "
    "which Proofdesk does not do)",
    "docx": "no extractable text: the document has no paragraphs or tables with text",
    "html": "no extractable text: the page holds only markup, scripts or navigation",
    "md": "no extractable text: the file holds only front matter",
}


def parse_document(
    data: bytes, doc_type: DocType, *, fallback_title: str, limits: ParseLimits | None = None
) -> ParsedDocument:
    """Parse one document's bytes. `fallback_title` is used when the document names no title.

    Raises `ParseError` when the bytes hold no readable text, `ParseLimitError` (a
    `ParseError`) when parsing them would go past `limits`.
    """
    if not data:
        raise ParseError("empty file (0 bytes)")
    budget = ParseBudget(limits or ParseLimits())
    if doc_type in _TEXT_PARSERS or doc_type == "html":
        text = decode_text(data, doc_type)
        if not text.strip():
            raise ParseError("empty file: it holds only whitespace")
        if doc_type == "html":
            document = parse_html(text, fallback_title=fallback_title, budget=budget)
        else:
            document = _TEXT_PARSERS[doc_type](text, fallback_title=fallback_title)
    elif doc_type in _BINARY_PARSERS:
        document = _BINARY_PARSERS[doc_type](data, fallback_title=fallback_title, budget=budget)
    else:
        raise ValueError(f"unsupported document type {doc_type!r}")
    if len(document.text) > budget.limits.max_chars:
        raise ParseLimitError(
            f"over the parse limit: the text is longer than {budget.limits.max_chars} "
            "characters (ingest.parse_limits.max_chars)"
        )
    if not document.text.strip():
        raise ParseError(_NO_TEXT.get(doc_type, "no extractable text"))
    return document
