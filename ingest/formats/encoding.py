"""Bytes → str for the text formats (md, txt, html), refusing binary data and bad encodings.

Nothing is decoded with replacement characters: a file that is not valid in its encoding is
refused with the byte offset of the first bad byte, so an operator can find and fix it.
"""

from __future__ import annotations

import codecs
import re

from ingest.documents import ParseError

__all__ = ["decode_text"]

_SAMPLE = 8192
_WHITESPACE_CONTROLS = frozenset("\t\n\r\f\v")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)


def decode_text(data: bytes, kind: str) -> str:
    """Decode a text file's bytes; `kind` names the format in error messages (`md`, `html`...)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(data, "utf-16", kind)
    if b"\x00" in data:
        raise ParseError(
            f"binary data in a .{kind} file: it contains NUL bytes (is the file type right?)"
        )
    encoding = _declared_html_charset(data) if kind == "html" else "utf-8-sig"
    text = _decode(data, encoding, kind)
    if _mostly_unprintable(text[:_SAMPLE]):
        raise ParseError(
            f"binary data in a .{kind} file: most characters are not printable "
            "(is the file type right?)"
        )
    return text


def _decode(data: bytes, encoding: str, kind: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        if _looks_binary(data[:_SAMPLE]):
            raise ParseError(
                f"binary data in a .{kind} file: it is not text (is the file type right?)"
            ) from err
        name = "UTF-8" if codecs.lookup(encoding).name.startswith("utf-8") else encoding
        raise ParseError(
            f"invalid {name} in a .{kind} file at byte {err.start} "
            f"(0x{data[err.start : err.start + 1].hex()}): re-save the file as {name}"
        ) from err


def _declared_html_charset(data: bytes) -> str:
    """The charset a `<meta>` tag declares, when Python knows it; UTF-8 otherwise."""
    match = _META_CHARSET.search(data[:4096])
    if match:
        try:
            name = codecs.lookup(match.group(1).decode("ascii")).name
        except LookupError:
            return "utf-8-sig"
        if not name.startswith("utf-8"):
            return name
    return "utf-8-sig"


def _mostly_unprintable(sample: str) -> bool:
    if not sample:
        return False
    bad = sum(
        1
        for char in sample
        if (char < " " and char not in _WHITESPACE_CONTROLS) or "\x7f" <= char <= "\x9f"
    )
    return bad > len(sample) * 0.1


def _looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    # Text in a legacy 8-bit encoding has no control bytes; random binary has ~10 %.
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in b"\t\n\r\f\v")
    return controls > len(sample) * 0.05
