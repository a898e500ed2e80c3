"""Parse limits: a crafted file (ZIP bomb, compression bomb, page or tag flood) is a reported
failure, found before it is inflated, and the rest of the source is synced. The bombs are
small; the limits are lowered to meet them."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from ingest.documents import DocType
from ingest.formats.limits import ParseLimitError, ParseLimits
from ingest.parsing import parse_document
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from tests.fixtures.sync_sources import Wired, wire, write_source_tree, write_sources_file

SMALL = ParseLimits(
    max_uncompressed_bytes=4_000_000,
    max_xml_bytes=1_500_000,  # python-docx's blank template holds 0.8 MB of XML
    max_parts=40,
    max_pages=3,
    max_elements=500,
    max_chars=20_000,
)


def _docx(extra_parts: dict[str, bytes] | None = None, *, body_padding: int = 0) -> bytes:
    """A valid DOCX; `body_padding` bytes of XML whitespace inside its document part (it
    compresses to almost nothing), `extra_parts` added to the archive."""
    document = docx.Document()
    document.add_heading("Printer guide", level=1)
    document.add_paragraph("Send jobs to the FOLLOW-ME queue.")
    buffer = io.BytesIO()
    document.save(buffer)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml" and body_padding:
                data = data.replace(b"<w:body>", b"<w:body>" + b" " * body_padding, 1)
            target.writestr(info.filename, data)
        for name, data in (extra_parts or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def _pdf(pages: int, *, stream_bytes: int = 0) -> bytes:
    """A PDF of `pages` pages with one line of text each; with `stream_bytes`, the first
    page's content stream is Flate-compressed and inflates to that many bytes."""
    text = b"BT /F1 12 Tf 72 720 Td (Printer guide) Tj ET"
    content = text + b"\n" + b" " * stream_bytes if stream_bytes else text
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
        + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        body = zlib.compress(content) if i == 0 and stream_bytes else text
        flate = b" /Filter /FlateDecode" if i == 0 and stream_bytes else b""
        objects.append(b"<< /Length %d%s >>\nstream\n" % (len(body), flate) + body + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def test_the_generated_files_parse_within_the_limits() -> None:
    assert "FOLLOW-ME" in parse_document(_docx(), "docx", fallback_title="x", limits=SMALL).text
    assert "Printer guide" in parse_document(_pdf(2), "pdf", fallback_title="x", limits=SMALL).text


BOMBS: list[tuple[str, bytes, DocType, str]] = [
    ("docx XML bomb", _docx(body_padding=3_000_000), "docx", "bytes of XML, more than 1500000"),
    (
        "docx inflating part",
        _docx({"word/media/blob.bin": b"\0" * 5_000_000}),
        "docx",
        "inflates to",
    ),
    (
        "docx part flood",
        _docx({f"customXml/item{i}.bin": b"x" for i in range(60)}),
        "docx",
        "parts, more than 40",
    ),
    ("pdf page flood", _pdf(6), "pdf", "6 pages, more than 3"),
    ("pdf stream bomb", _pdf(1, stream_bytes=5_000_000), "pdf", "max_uncompressed_bytes"),
    ("html tag flood", b"<html><body>" + b"<p>x</p>" * 600 + b"</body></html>", "html", "tags"),
    ("long text", b"# Guide\n\n" + b"word " * 5000, "md", "longer than 20000 characters"),
]


@pytest.mark.parametrize(
    ("data", "doc_type", "reason"), [b[1:] for b in BOMBS], ids=[b[0] for b in BOMBS]
)
def test_a_file_over_a_parse_limit_is_refused_with_the_limit_named(
    data: bytes, doc_type: DocType, reason: str
) -> None:
    assert len(data) < 120_000  # the bombs stay small on disk

    with pytest.raises(ParseLimitError, match="over the parse limit") as caught:
        parse_document(data, doc_type, fallback_title="x", limits=SMALL)

    assert reason in str(caught.value)


@pytest.mark.parametrize("doc_type", ["docx", "pdf", "html"])
def test_a_parse_that_runs_out_of_time_is_refused(doc_type: DocType) -> None:
    data = {"docx": _docx(), "pdf": _pdf(2), "html": b"<html><body><p>Hi</p></body></html>"}
    hurried = ParseLimits(max_seconds=1e-9)

    with pytest.raises(ParseLimitError, match="took longer than"):
        parse_document(data[doc_type], doc_type, fallback_title="x", limits=hurried)


@pytest.fixture
def bombed(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Wired]:
    kb = tmp_path / "kb"
    write_source_tree(kb)
    (kb / "it" / "bomb.docx").write_bytes(_docx(body_padding=3_000_000))
    (kb / "it" / "pages.pdf").write_bytes(_pdf(6))
    sources = write_sources_file(tmp_path / "sources.yaml", kb / "it")
    w = wire(tmp_path, sources, embedder, parse_limits=SMALL)
    yield w
    w.close()


def test_a_bomb_is_a_reported_failure_and_the_rest_of_the_source_is_synced(
    bombed: Wired,
) -> None:
    report = bombed.service.sync("it-kb")

    reasons = {f.key: (f.kind, f.reason) for f in report.failures}
    assert set(reasons) == {"bomb.docx", "pages.pdf"}
    assert all(kind == "failed" and "over the parse limit" in why for kind, why in reasons.values())
    assert report.added == 4 and report.status == "partial"
    assert bombed.store.count(source_id="it-kb") == report.chunks_written > 0
