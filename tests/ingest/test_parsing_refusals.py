"""parse_document's refusals common to all formats: empty, whitespace-only, binary data under a
text extension, invalid UTF-8, no extractable text; and the byte order mark left out."""

from __future__ import annotations

import io

import docx
import pytest

from ingest.documents import DOC_TYPES, DocType, ParseError
from ingest.parsing import parse_document


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
