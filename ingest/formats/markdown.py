"""Markdown: YAML front matter, ATX (`#`) and setext (underlined) headings, text kept as written."""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

from ingest.documents import FrontMatterError, ParsedDocument
from ingest.formats.layout import HeadingMark, Slugger, normalise_whitespace, sections_from_headings

__all__ = ["parse_markdown"]

_NEWLINES = re.compile(r"\r\n?")
_FRONT_MATTER_OPEN = re.compile(r"---[ \t]*\n")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(={3,}|-{3,})[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
# Lines that cannot be the text of a setext heading: list items, quotes, table rows, code.
_NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-*+][ \t]|\d{1,9}[.)][ \t]|>)|.*\||    ")
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>]+>")
_EMPHASIS = re.compile(r"[`*]+|(?<!\w)_+|_+(?!\w)")


def parse_markdown(text: str, *, fallback_title: str) -> ParsedDocument:
    """Parse decoded Markdown; front matter is removed from the text and returned as data."""
    front_matter, body = _split_front_matter(_NEWLINES.sub("\n", text))
    body = normalise_whitespace(body)
    headings = _find_headings(body)
    title = _front_matter_title(front_matter) or next(
        (heading.title for heading in headings if heading.level == 1), fallback_title
    )
    return ParsedDocument(
        title=title,
        text=body,
        sections=sections_from_headings(body, headings),
        front_matter=front_matter,
    )


def _split_front_matter(text: str) -> tuple[dict[str, object], str]:
    opening = _FRONT_MATTER_OPEN.match(text.removeprefix("\ufeff"))
    if opening is None:
        return {}, text
    text = text.removeprefix("\ufeff")
    closing = _FRONT_MATTER_CLOSE.search(text, opening.end())
    if closing is None:
        raise FrontMatterError(
            "front matter opened with '---' on line 1 is never closed by a '---' line"
        )
    raw = text[opening.end() : closing.start()]
    try:
        loaded = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise FrontMatterError(f"invalid YAML front matter{line}: {problem}") from err
    if loaded is None:
        return {}, text[closing.end() :]
    if not isinstance(loaded, Mapping):
        raise FrontMatterError(
            "front matter must be a YAML mapping of `key: value` lines, "
            f"not a {type(loaded).__name__}"
        )
    return {str(key): value for key, value in loaded.items()}, text[closing.end() :]


def _front_matter_title(front_matter: Mapping[str, object]) -> str:
    title = front_matter.get("title")
    return title.strip() if isinstance(title, str) else ""


def _find_headings(text: str) -> list[HeadingMark]:
    slugger = Slugger()
    headings: list[HeadingMark] = []
    fence: str | None = None
    paragraph: list[tuple[int, str]] | None = []  # None: the block cannot become a heading
    offset = 0
    for line in text.split("\n"):
        start, offset = offset, offset + len(line) + 1
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and stripped == stripped[0] * len(stripped):
                fence = None
            continue
        if fence_match := _FENCE.match(line):
            fence, paragraph = fence_match.group(1), None
            continue
        found = _heading_at(line, start, paragraph)
        if found is not None:
            level, title, heading_start = found
            if title:
                headings.append(HeadingMark(level, title, heading_start, slugger.slug(title)))
            paragraph = []
        elif not line.strip():
            paragraph = []
        elif paragraph is None or _NOT_PARAGRAPH.match(line):
            paragraph = None
        else:
            paragraph.append((start, line))
    return headings


def _heading_at(
    line: str, start: int, paragraph: list[tuple[int, str]] | None
) -> tuple[int, str, int] | None:
    """(level, title, offset) when `line` is an ATX heading or underlines a setext heading."""
    if atx := _ATX.match(line):
        return len(atx.group(1)), _plain_heading(atx.group(2) or ""), start
    if paragraph and (setext := _SETEXT.match(line)):
        level = 1 if setext.group(1).startswith("=") else 2
        title = " ".join(part.strip() for _, part in paragraph)
        return level, _plain_heading(title), paragraph[0][0]
    return None


def _plain_heading(text: str) -> str:
    """Heading text as rendered: links and images by their text, no emphasis or code marks."""
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    return " ".join(_EMPHASIS.sub("", text).split())
