"""parse_document on HTML: page chrome dropped, sections anchored by ids, lists and tables as
lines, titles, legacy charsets, pages without visible text refused."""

from __future__ import annotations

import pytest

from ingest.documents import ParseError
from ingest.parsing import parse_document
from tests.fixtures.parsed_documents import assert_sections_tile, section_texts

# --- HTML -----------------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head><title>Reset password | Help</title><style>.x { color: red }</style>
<script>var secret = "script text";</script></head>
<body>
<header><nav><a href="/">Home</a> site menu</nav>Site banner</header>
<aside>Related links</aside>
<article>
  <header><h1 id="reset">Reset your   password</h1></header>
  <p>Open the <b>portal</b>.<br>Then sign in.</p>
  <!-- an editor's comment -->
  <h2><a name="steps"></a>Steps</h2>
  <ol><li>Click Settings</li><li><p>Click Reset</p><ul><li>Confirm by email</li></ul></li></ol>
  <table><tr><th>System</th><th>Link</th></tr><tr><td>Windows</td><td>portal/win</td></tr></table>
  <h2>No id here</h2>
  <pre>line one
    indented line</pre>
  <noscript>Enable JavaScript</noscript>
</article>
<footer>Copyright footer</footer>
</body></html>"""


def test_html_drops_page_chrome_and_keeps_the_article() -> None:
    document = parse_document(HTML.encode(), "html", fallback_title="fallback")

    for chrome in ("script text", "site menu", "Site banner", "Related links", "footer", "color"):
        assert chrome not in document.text
    assert "editor's comment" not in document.text
    assert "Enable JavaScript" not in document.text
    assert document.text.startswith("Reset your password\n\nOpen the portal.\nThen sign in.")


def test_html_headings_make_sections_anchored_by_their_ids() -> None:
    document = parse_document(HTML.encode(), "html", fallback_title="fallback")

    assert document.title == "Reset password | Help"
    assert [(s.heading_path, s.anchor) for s in document.sections] == [
        (("Reset your password",), "reset"),
        (("Reset your password", "Steps"), "steps"),
        (("Reset your password", "No id here"), None),
    ]
    assert_sections_tile(document)


def test_html_list_items_and_table_rows_become_lines() -> None:
    document = parse_document(HTML.encode(), "html", fallback_title="fallback")
    steps = section_texts(document)[("Reset your password", "Steps")]

    assert steps == (
        "Steps\n\n- Click Settings\n- Click Reset\n  - Confirm by email\n\n"
        "System | Link\nWindows | portal/win\n\n"
    )
    assert "line one\n    indented line" in document.text  # <pre> keeps its layout


@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("<title> Page  title </title><h1>Heading</h1><p>x</p>", "Page title"),
        ("<h2>Minor</h2><h1>First <em>H1</em></h1><p>x</p>", "First H1"),
        ("<p>No title anywhere.</p>", "fallback"),
    ],
)
def test_html_title_is_the_title_tag_then_first_h1_then_fallback(page: str, title: str) -> None:
    assert parse_document(page.encode(), "html", fallback_title="fallback").title == title


def test_html_declared_legacy_charset_is_honoured() -> None:
    page = '<meta charset="windows-1252"><p>Caf\u00e9 \u2013 menu</p>'.encode("cp1252")

    document = parse_document(page, "html", fallback_title="x")

    assert document.text == "Caf\u00e9 \u2013 menu"


def test_html_page_without_visible_text_is_refused() -> None:
    page = b"<html><head><title>T</title></head><body><nav>menu</nav><script>x()</script></body>"

    with pytest.raises(ParseError, match="no extractable text"):
        parse_document(page, "html", fallback_title="x")
