"""Syncing a web source served on 127.0.0.1: pages that vanish (404) leave the index; a
crawl cut short by max_pages deletes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from retrieval.embedding.embedder import SentenceTransformerEmbedder
from tests.fixtures.sync_sources import Wired, wire

PAGES: dict[str, str] = {}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        return


def _page(title: str, body: str, links: list[str]) -> str:
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return (
        f"<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{body}</p>{anchors}</body></html>"
    )


@pytest.fixture
def site() -> Iterator[str]:
    PAGES.clear()
    PAGES["/robots.txt"] = "User-agent: *\nAllow: /\n"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _wire(
    tmp_path: Path, host: str, embedder: SentenceTransformerEmbedder, max_pages: int
) -> Wired:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"""sources:
  - id: it-kb
    kind: web
    seeds: ["http://{host}/kb/"]
    allowed_hosts: ["{host}"]
    allowed_path_prefixes: ["/kb/"]
    read: ["group:all-staff"]
    max_pages: {max_pages}
    min_keep_ratio: 0.3
""",
        encoding="utf-8",
    )
    return wire(tmp_path, sources, embedder)


def test_a_page_that_now_answers_404_leaves_the_index(
    tmp_path: Path, site: str, embedder: SentenceTransformerEmbedder
) -> None:
    links = ["/kb/vpn", "/kb/printers", "/kb/wifi"]
    PAGES["/kb/"] = _page("Index", "IT knowledge base.", links)
    PAGES["/kb/vpn"] = _page("VPN", "Install the GlobalConnect client.", [])
    PAGES["/kb/printers"] = _page("Printers", "Badge at any FOLLOW-ME printer.", [])
    PAGES["/kb/wifi"] = _page("Wi-Fi", "Join NW-Staff with your staff account.", [])
    w = _wire(tmp_path, site, embedder, max_pages=50)
    try:
        first = w.service.sync("it-kb")
        del PAGES["/kb/printers"]
        second = w.service.sync("it-kb")
    finally:
        w.close()

    assert first.added == 4
    assert second.deleted == 1 and second.failed == 0
    assert f"it-kb:http://{site}/kb/printers" not in w.state.documents("it-kb")


def test_a_crawl_cut_short_by_max_pages_deletes_nothing(
    tmp_path: Path, site: str, embedder: SentenceTransformerEmbedder
) -> None:
    PAGES["/kb/"] = _page("Index", "IT knowledge base.", ["/kb/a"])
    PAGES["/kb/a"] = _page("A", "Page A about laptops.", ["/kb/b"])
    PAGES["/kb/b"] = _page("B", "Page B about monitors.", [])
    w = _wire(tmp_path, site, embedder, max_pages=50)
    try:
        w.service.sync("it-kb")
    finally:
        w.close()
    w = _wire(tmp_path, site, embedder, max_pages=1)
    try:
        report = w.service.sync("it-kb")
        kept = set(w.store.document_versions("it-kb"))
    finally:
        w.close()

    assert report.deleted == 0 and report.status == "partial"
    assert report.deletions_skipped is not None and "max_pages=1" in report.deletions_skipped
    assert len(kept) == 3
