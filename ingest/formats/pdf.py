"""PDF with pypdf: text page by page, without page furniture (running headers, footers, page
numbers); sections start at each page and each bookmarked heading."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence

from pypdf import PasswordType, PdfReader, apply_configuration
from pypdf.errors import DependencyError, LimitReachedError, PyPdfError
from pypdf.generic import Destination

from ingest.documents import ParsedDocument, ParseError, Section
from ingest.formats.furniture import strip_page_furniture
from ingest.formats.layout import collapse_spaces, normalise_whitespace
from ingest.formats.limits import ParseBudget, ParseLimitError, ParseLimits

__all__ = ["parse_pdf"]

Chain = tuple[str, ...]  # a bookmark's title and those of its parents

_MAX_TITLE_CHARS = 200
_OUTLINE_ERRORS = (
    PyPdfError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
)


def parse_pdf(
    data: bytes, *, fallback_title: str, budget: ParseBudget | None = None
) -> ParsedDocument:
    """Parse a PDF's text layer; a scanned PDF (images only) has none and yields empty text.

    pypdf's own decompression limits are set from `budget`'s, and pages are bounded too."""
    if b"%PDF-" not in data[:1024]:
        raise ParseError("not a PDF: the file has no '%PDF-' header (is the file type right?)")
    budget = budget or ParseBudget(ParseLimits())
    inflate = budget.limits.max_uncompressed_bytes
    try:
        with apply_configuration(
            maximum_declared_stream_length=inflate,
            zlib_maximum_output_length=inflate,
            lzw_maximum_output_length=inflate,
            run_length_maximum_output_length=inflate,
            brotli_maximum_output_length=inflate,
            array_based_stream_maximum_output_length=inflate,
        ):
            reader = PdfReader(io.BytesIO(data))
            _unlock(reader)
            pages = strip_page_furniture(_page_texts(reader, budget))
            metadata_title = (
                collapse_spaces(str(reader.metadata.title or "")) if reader.metadata else ""
            )
    except ParseError:
        raise
    except LimitReachedError as err:
        raise ParseLimitError(
            f"over the parse limit: {_describe(err)} (ingest.parse_limits.max_uncompressed_bytes)"
        ) from err
    except Exception as err:  # pypdf raises many unrelated types on damaged files
        raise ParseError(f"corrupt PDF: {_describe(err)}") from err
    text, sections = _assemble(pages, _bookmarks(reader, len(pages)))
    first_line = text.split("\n", 1)[0].strip()[:_MAX_TITLE_CHARS]
    return ParsedDocument(
        title=metadata_title or first_line or fallback_title, text=text, sections=sections
    )


def _page_texts(reader: PdfReader, budget: ParseBudget) -> list[str]:
    count = len(reader.pages)
    if count > budget.limits.max_pages:
        raise ParseLimitError(
            f"over the parse limit: the PDF has {count} pages, more than "
            f"{budget.limits.max_pages} (ingest.parse_limits.max_pages)"
        )
    pages: list[str] = []
    for page in reader.pages:
        pages.append(normalise_whitespace(page.extract_text() or ""))
        budget.spend(len(pages[-1]))
    return pages


def _unlock(reader: PdfReader) -> None:
    """Open an encrypted PDF that has an empty user password; refuse a protected one."""
    if not reader.is_encrypted:
        return
    try:
        unlocked = reader.decrypt("")
    except DependencyError as err:
        raise ParseError(f"encrypted PDF that cannot be decrypted here: {err}") from err
    if unlocked == PasswordType.NOT_DECRYPTED:
        raise ParseError(
            "encrypted PDF: it needs a password to open, so its text cannot be read "
            "(publish an unprotected copy)"
        )


def _describe(err: Exception) -> str:
    message = str(err).strip()
    return f"{message} ({type(err).__name__})" if message else type(err).__name__


def _assemble(
    pages: Sequence[str], bookmarks: Sequence[Sequence[Chain]]
) -> tuple[str, tuple[Section, ...]]:
    """Join the pages; a section starts at each page and at each bookmarked heading line."""
    parts: list[str] = []
    marks: list[tuple[int, Chain, int]] = []  # (offset, heading path, page number)
    offset = 0
    in_force: Chain = ()  # the bookmark chain that the previous pages ended under
    for number, (page_text, chains) in enumerate(zip(pages, bookmarks, strict=True), start=1):
        if page_text:
            offset += 2 if parts else 0
            headings = _heading_lines(page_text, chains)
            if not headings or headings[0][0] > 0:
                marks.append((offset, in_force or (f"Page {number}",), number))
            marks += [(offset + start, chain, number) for start, chain in headings]
            parts.append(page_text)
            offset += len(page_text)
        in_force = chains[-1] if chains else in_force
    text = "\n\n".join(parts)
    ends = [start for start, _, _ in marks[1:]] + [len(text)] if marks else []
    sections = tuple(
        Section(heading_path=path, start=start, end=end, anchor=f"page={number}")
        for (start, path, number), end in zip(marks, ends, strict=True)
    )
    return text, sections


def _heading_lines(page_text: str, chains: Sequence[Chain]) -> list[tuple[int, Chain]]:
    """Where each bookmark on a page begins: the line holding its title, searched in order.

    A bookmark whose title is not found starts at the top of the page if it is the page's
    first; otherwise it only takes effect from the next page.
    """
    found: list[tuple[int, Chain]] = []
    position = 0
    for chain in chains:
        match = _title_line(chain[-1]).search(page_text, position)
        if match:
            start, position = match.start(), match.end()
        elif not found:
            start = 0
        else:
            continue
        if found and found[-1][0] == start:
            found.pop()
        found.append((start, chain))
    return found


def _title_line(title: str) -> re.Pattern[str]:
    """A whole line holding `title`, however the PDF wrapped or spaced it."""
    words = r"\s+".join(map(re.escape, title.split()))
    return re.compile(rf"^[ \t]*{words}[ \t]*$", re.MULTILINE | re.IGNORECASE)


def _bookmarks(reader: PdfReader, page_count: int) -> list[list[Chain]]:
    """Per page, the title chains of the bookmarks (outline entries) pointing into it."""
    per_page: list[list[Chain]] = [[] for _ in range(page_count)]
    try:
        for page, chain in _outline_entries(reader, reader.outline, ()):
            if 0 <= page < page_count:
                per_page[page].append(chain)
    except _OUTLINE_ERRORS:
        return [[] for _ in range(page_count)]  # a damaged outline is no reason to refuse
    return per_page


def _outline_entries(
    reader: PdfReader, items: Sequence[object], parents: Chain
) -> Iterator[tuple[int, Chain]]:
    """(page index, title chain) per bookmark; a nested list holds the previous item's children."""
    chain = parents
    for item in items:
        if isinstance(item, list):
            yield from _outline_entries(reader, item, chain)
        elif isinstance(item, Destination):
            title = collapse_spaces(str(item.title or ""))
            page = reader.get_destination_page_number(item)
            chain = (*parents, title) if title else parents
            if title and page is not None:
                yield page, chain
