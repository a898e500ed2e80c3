"""HTML: page chrome dropped; headings make sections, blocks paragraphs, lists and tables lines."""

from __future__ import annotations

from bs4 import BeautifulSoup, CData, Tag
from bs4.element import NavigableString, PageElement

from ingest.documents import ParsedDocument, Section
from ingest.formats.layout import TextAssembler, collapse_spaces
from ingest.formats.limits import ParseBudget, ParseLimitError, ParseLimits

__all__ = ["parse_html"]

# Navigation, scripts and other page chrome never hold help content.
_DROPPED = ("script", "style", "nav", "footer", "aside", "noscript", "template", "svg", "iframe")
_HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_GROUPS = frozenset({"ul", "ol", "dl", "menu"})
_BLOCKS = frozenset(
    {
        *_GROUPS,
        "address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div",
        "dt", "fieldset", "figcaption", "figure", "form", "header", "hr", "html", "legend", "li",
        "main", "p", "section", "summary",
    }
)  # fmt: skip
_TEXT_NODES = (NavigableString, CData)  # not comments, doctypes or processing instructions


def parse_html(
    text: str, *, fallback_title: str, budget: ParseBudget | None = None
) -> ParsedDocument:
    """Parse a decoded HTML page with the standard library's parser.

    A page with more possible tags than `budget` allows is refused before a tree is built."""
    budget = budget or ParseBudget(ParseLimits())
    tags = text.count("<")  # at least as many as there are tags
    if tags > budget.limits.max_elements:
        raise ParseLimitError(
            f"over the parse limit: the page holds up to {tags} tags, more than "
            f"{budget.limits.max_elements} (ingest.parse_limits.max_elements)"
        )
    soup = BeautifulSoup(text, "html.parser")
    budget.spend()
    _drop_chrome(soup)
    title = _title(soup) or fallback_title
    walker = _BlockWalker(budget)
    walker.walk(soup.body or soup)
    body, sections = walker.build()
    return ParsedDocument(title=title, text=body, sections=sections)


def _drop_chrome(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(_DROPPED):
        if not tag.decomposed:
            tag.decompose()
    # A page's <header> is chrome; an article's <header> usually holds its title.
    for tag in soup.find_all("header"):
        if not tag.decomposed and tag.find_parent(("article", "main")) is None:
            tag.decompose()


def _title(soup: BeautifulSoup) -> str:
    if soup.title is not None and (title := collapse_spaces(soup.title.get_text(" "))):
        return title
    heading = soup.find("h1")
    return collapse_spaces(heading.get_text(" ")) if isinstance(heading, Tag) else ""


def _anchor(heading: Tag) -> str | None:
    """The fragment that reaches the heading: its id, or the id/name of an anchor inside it."""
    candidates = [heading.get("id")]
    if isinstance(link := heading.find("a"), Tag):
        candidates += [link.get("id"), link.get("name")]
    return next((value for value in candidates if isinstance(value, str) and value), None)


class _BlockWalker:
    """Walks the tree without recursion (deeply nested pages must not overflow the stack)."""

    def __init__(self, budget: ParseBudget) -> None:
        self._budget = budget
        self._out = TextAssembler()
        self._inline: list[str] = []
        self._items: list[bool] = []  # one per open <li>: has its "- " marker been written?

    def walk(self, root: Tag) -> None:
        stack: list[tuple[PageElement, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if isinstance(node, Tag):
                if leaving:
                    self._leave(node)
                elif self._enter(node):
                    stack.append((node, True))
                    stack.extend((child, False) for child in reversed(node.contents))
            elif type(node) in _TEXT_NODES:
                self._inline.append(str(node))
                self._budget.spend(len(self._inline[-1]))

    def build(self) -> tuple[str, tuple[Section, ...]]:
        self._flush()
        return self._out.build()

    def _enter(self, tag: Tag) -> bool:
        """Handle an opening tag; True when its children still need walking."""
        name = tag.name
        if name == "br":
            self._inline.append("\n")
            return False
        if name in _HEADING_LEVELS or name in ("pre", "table") or name in _BLOCKS:
            self._flush()
        if name in _HEADING_LEVELS:
            self._out.heading(_HEADING_LEVELS[name], tag.get_text(" "), _anchor(tag))
            return False
        if name == "pre":
            self._out.paragraph(tag.get_text())
            return False
        if name == "table":
            self._table(tag)
            return False
        if name == "li":
            self._items.append(False)
        return True

    def _leave(self, tag: Tag) -> None:
        if tag.name in _BLOCKS:
            self._flush()
        if tag.name == "li" and self._items:
            self._items.pop()
        if tag.name in _GROUPS and not self._items:
            self._out.end_group()

    def _table(self, table: Tag) -> None:
        for row in table.find_all("tr"):
            cells = [
                collapse_spaces(cell.get_text(" "))
                for cell in row.find_all(("td", "th"), recursive=False)
            ]
            if any(cells):
                self._out.line(" | ".join(cells))
        self._out.end_group()

    def _flush(self) -> None:
        lines = [collapse_spaces(part) for part in "".join(self._inline).split("\n")]
        self._inline.clear()
        text = "\n".join(line for line in lines if line)
        if not text:
            return
        if not self._items:
            self._out.paragraph(text)
            return
        indent = "  " * (len(self._items) - 1)
        marker = "  " if self._items[-1] else "- "
        self._items[-1] = True
        self._out.line(indent + marker + text.replace("\n", "\n" + indent + "  "))
