"""The web connector against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ingest.connectors import ListingTruncatedError, SourceUnavailableError
from ingest.connectors.web import WebConnector, normalise_url
from ingest.documents import AccessList, FetchedDocument, FetchFailure
from ingest.sources import WebSource

Result = FetchedDocument | FetchFailure
HTML = "text/html; charset=utf-8"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True
    endless: bool = False  # stream chunks until the client hangs up


@dataclass
class Site:
    """What the test server serves, and every request it received."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)  # time.monotonic(), per request
    endless_cut_off: threading.Event = field(default_factory=threading.Event)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def page(self, path: str, *links: str, body: str = "") -> None:
        anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
        self.routes[path] = Route(f"<html><body>{body}{anchors}</body></html>".encode())

    def pages_requested(self) -> list[str]:
        return [r for r in self.requests if r != "/robots.txt"]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.request_times.append(time.monotonic())
            site.requests.append(self.path)
            site.user_agents.append(self.headers.get("User-Agent", ""))
            route = site.routes.get(self.path, Route(b"not found", 404, "text/plain"))
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.send_length and not route.endless:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            try:
                self._write_body(route)
            except (BrokenPipeError, ConnectionResetError):
                site.endless_cut_off.set()

        def _write_body(self, route: Route) -> None:
            if not route.endless:
                self.wfile.write(route.body)
                return
            for _ in range(100_000):  # ~100 MB at most, so a broken client cannot hang us
                self.wfile.write(b"x" * 1024)
                self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads `site.requests` instead."""

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _source(site: Site, **overrides: object) -> WebSource:
    fields: dict[str, object] = {
        "id": "web",
        "kind": "web",
        "seeds": [site.url("/docs/")],
        "allowed_hosts": [site.host],
        "allowed_path_prefixes": ["/docs/"],
        "read": ["group:staff"],
        "deny": ["user:eve"],
    }
    fields.update(overrides)
    return WebSource.model_validate(fields)


def _connector(site: Site, **overrides: object) -> WebConnector:
    return WebConnector(source=_source(site, **overrides))


def _scan(site: Site, **overrides: object) -> list[Result]:
    return list(_connector(site, **overrides).scan())


def _keys(results: list[Result]) -> list[str]:
    return [r.key for r in results]


def _by_key(results: list[Result], site: Site, path: str) -> Result:
    return {r.key: r for r in results}[site.url(path)]


NORMALISE_CASES = [
    ("http://Example.COM/a#frag", None, "http://example.com/a"),
    ("HTTPS://example.com:443/a?q=1", None, "https://example.com/a?q=1"),
    ("http://example.com:80", None, "http://example.com/"),
    ("http://example.com:8080/x", None, "http://example.com:8080/x"),
    ("http://user:pw@example.com/x", None, "http://example.com/x"),
    ("../b/c.html#top", "http://example.com/docs/a/index.html", "http://example.com/docs/b/c.html"),
    ("/root", "http://example.com/docs/", "http://example.com/root"),
    ("//other.org/x", "https://example.com/", "https://other.org/x"),
    ("http://[::1]:8080/x", None, "http://[::1]:8080/x"),
    ("http://example.com/docs/../private/x", None, "http://example.com/private/x"),
    ("http://example.com/docs/%2E%2e/private/", None, "http://example.com/private/"),
    ("http://example.com/docs/./a/", None, "http://example.com/docs/a/"),
    ("mailto:help@example.com", "http://example.com/", None),
    ("javascript:void(0)", "http://example.com/", None),
    ("ftp://example.com/file", None, None),
    ("http://example.com:notaport/", None, None),
]


@pytest.mark.parametrize(("url", "base", "expected"), NORMALISE_CASES)
def test_normalise_url(url: str, base: str | None, expected: str | None) -> None:
    assert normalise_url(url, base=base) == expected


def test_crawls_breadth_first_following_links(site: Site) -> None:
    site.page("/docs/", "a.html", "/docs/b.txt#section", "c.md", "/docs/")
    site.page("/docs/a.html", "/docs/d.pdf", "/docs/")
    site.routes["/docs/b.txt"] = Route(b"plain", content_type="text/plain")
    site.routes["/docs/c.md"] = Route(b"# md", content_type="text/markdown; charset=utf-8")
    site.routes["/docs/d.pdf"] = Route(b"%PDF-1.4", content_type="application/pdf")

    results = _scan(site)

    assert _keys(results) == [
        site.url(p) for p in ("/docs/", "/docs/a.html", "/docs/b.txt", "/docs/c.md", "/docs/d.pdf")
    ]
    assert [r.doc_type for r in results if isinstance(r, FetchedDocument)] == [
        "html",
        "html",
        "txt",
        "md",
        "pdf",
    ]
    assert site.pages_requested() == [
        "/docs/",
        "/docs/a.html",
        "/docs/b.txt",
        "/docs/c.md",
        "/docs/d.pdf",
    ]
    assert site.requests.count("/robots.txt") == 1
    assert set(site.user_agents) == {"ProofdeskBot/0.1"}
    text = _by_key(results, site, "/docs/b.txt")
    assert isinstance(text, FetchedDocument)
    assert text.data == b"plain"
    assert text.uri == site.url("/docs/b.txt")
    assert text.access == AccessList(read=("group:staff",), deny=("user:eve",))


def test_links_off_the_allowed_hosts_and_prefixes_are_not_fetched(site: Site) -> None:
    site.page(
        "/docs/",
        f"http://localhost:{site.port}/docs/other-host.html",
        "/private/outside-prefix.html",
        "/docs/in-scope.html",
        site.url("/docs/../private/dot-segments.html"),
        "mailto:help@example.com",
    )
    site.page("/docs/in-scope.html")
    site.page("/docs/other-host.html")
    site.page("/private/outside-prefix.html")
    site.page("/private/dot-segments.html")

    results = _scan(site)

    assert _keys(results) == [site.url("/docs/"), site.url("/docs/in-scope.html")]
    assert site.pages_requested() == ["/docs/", "/docs/in-scope.html"]


def test_robots_txt_is_honoured(site: Site) -> None:
    site.routes["/robots.txt"] = Route(
        b"User-agent: OtherBot\nDisallow: /\n\nUser-agent: ProofdeskBot\nDisallow: /docs/private\n",
        content_type="text/plain",
    )
    site.page("/docs/", "/docs/private/a.html", "/docs/public.html")
    site.page("/docs/private/a.html")
    site.page("/docs/public.html")

    results = _scan(site)

    assert _keys(results) == [site.url("/docs/"), site.url("/docs/public.html")]
    assert "/docs/private/a.html" not in site.requests


def test_robots_txt_disallowing_everything_fetches_nothing(site: Site) -> None:
    site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /\n", content_type="text/plain")
    site.page("/docs/")
    assert _scan(site) == []
    assert site.requests == ["/robots.txt"]


def test_robots_txt_server_error_means_the_source_is_unavailable(site: Site) -> None:
    site.routes["/robots.txt"] = Route(b"oops", 503, "text/plain")
    site.page("/docs/")
    with pytest.raises(SourceUnavailableError, match=r"robots\.txt answered HTTP 503"):
        _scan(site)
    assert site.requests == ["/robots.txt"]


def _robots(site: Site, text: str) -> None:
    site.routes["/robots.txt"] = Route(text.encode(), content_type="text/plain")


def test_robots_txt_wildcards_and_end_anchors_are_understood(site: Site) -> None:
    _robots(site, "User-agent: *\nDisallow: /*.pdf$\nDisallow: /docs/*/drafts/\n")
    site.page(
        "/docs/",
        "/docs/guide.pdf",
        "/docs/guide.pdf?download=1",
        "/docs/team/drafts/plan.html",
        "/docs/team/final.html",
    )
    for path in ("/docs/guide.pdf", "/docs/guide.pdf?download=1"):
        site.routes[path] = Route(b"%PDF-1.4", content_type="application/pdf")
    site.page("/docs/team/drafts/plan.html")
    site.page("/docs/team/final.html")

    results = _scan(site)

    # `$` anchors the end: with a query string the URL no longer ends in ".pdf".
    assert site.pages_requested() == [
        "/docs/",
        "/docs/guide.pdf?download=1",
        "/docs/team/final.html",
    ]
    assert site.url("/docs/guide.pdf") not in _keys(results)


def test_robots_txt_longest_match_wins_whatever_the_order(site: Site) -> None:
    _robots(
        site,
        "User-agent: ProofdeskBot\nDisallow: /docs/\nAllow: /docs/public/\n"
        "Disallow: /docs/public/secret\n",
    )
    site.page("/docs/public/", "/docs/public/a.html", "/docs/public/secret.html", "/docs/b.html")
    site.page("/docs/public/a.html")
    site.page("/docs/public/secret.html")
    site.page("/docs/b.html")

    results = _scan(site, seeds=[site.url("/docs/public/")])

    assert _keys(results) == [site.url("/docs/public/"), site.url("/docs/public/a.html")]
    assert site.pages_requested() == ["/docs/public/", "/docs/public/a.html"]


def test_robots_txt_allow_wins_a_tie_with_disallow(site: Site) -> None:
    _robots(site, "User-agent: *\nDisallow: /docs/page\nAllow: /docs/page\n")
    site.page("/docs/", "/docs/page")
    site.page("/docs/page")

    _scan(site)

    assert site.pages_requested() == ["/docs/", "/docs/page"]


def test_robots_txt_crawl_delay_spaces_the_requests(site: Site) -> None:
    _robots(site, "User-agent: OtherBot\nCrawl-delay: 0\n\nUser-agent: *\nCrawl-delay: 0.3\n")
    site.page("/docs/", "/docs/a.html", "/docs/b.html")
    site.page("/docs/a.html")
    site.page("/docs/b.html")

    _scan(site)

    assert site.requests == ["/robots.txt", "/docs/", "/docs/a.html", "/docs/b.html"]
    gaps = [b - a for a, b in zip(site.request_times, site.request_times[1:], strict=False)]
    assert min(gaps) >= 0.2, gaps  # 0.3 s asked; a margin for the server's own timing


def test_a_crawl_delay_over_the_limit_is_capped_and_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    _robots(site, "User-agent: *\nCrawl-delay: 3600\n")
    site.page("/docs/", "/docs/a.html")
    site.page("/docs/a.html")
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    source = _source(site, max_crawl_delay_seconds=5)
    connector = WebConnector(source=source, clock=lambda: now[0], sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="ingest.connectors.web"):
        results = list(connector.scan())

    assert _keys(results) == [site.url("/docs/"), site.url("/docs/a.html")]
    assert slept == [5.0, 5.0]  # before /docs/ (after robots.txt) and before /docs/a.html
    assert "crawl delay of 3600s; waiting 5s" in caplog.text


def test_without_a_crawl_delay_nothing_waits(site: Site) -> None:
    _robots(site, "User-agent: *\nDisallow: /private/\n")
    site.page("/docs/", "/docs/a.html")
    site.page("/docs/a.html")
    slept: list[float] = []
    list(WebConnector(source=_source(site), sleep=slept.append).scan())

    assert slept == []
    assert site.pages_requested() == ["/docs/", "/docs/a.html"]


def test_sitemap_index_and_sitemap(site: Site) -> None:
    site.routes["/sitemap.xml"] = Route(
        b'<?xml version="1.0"?>'
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>" + site.url("/sitemaps/pages.xml").encode() + b"</loc></sitemap>"
        b"</sitemapindex>",
        content_type="application/xml",
    )
    urls = [
        site.url("/docs/a.html"),
        site.url("/docs/b.txt"),
        f"http://localhost:{site.port}/docs/other-host.html",
        site.url("/elsewhere/c.html"),
    ]
    site.routes["/sitemaps/pages.xml"] = Route(
        (
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc> {u} </loc></url>" for u in urls)
            + "</urlset>"
        ).encode(),
        content_type="application/xml",
    )
    site.page("/docs/a.html", "/docs/linked.html")
    site.routes["/docs/b.txt"] = Route(b"b", content_type="text/plain")

    results = _scan(site, seeds=[], sitemap=site.url("/sitemap.xml"), max_depth=0)

    assert _keys(results) == [site.url("/docs/a.html"), site.url("/docs/b.txt")]
    assert site.pages_requested() == [
        "/sitemap.xml",
        "/sitemaps/pages.xml",
        "/docs/a.html",
        "/docs/b.txt",
    ]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(b"oops", 500, "text/plain"), "HTTP 500"),
        (Route(b"<html></html>"), "not a sitemap"),
        (Route(b"<urlset><url><loc>", content_type="application/xml"), "not valid XML"),
    ],
)
def test_unreadable_sitemap_means_the_source_is_unavailable(
    site: Site, route: Route, message: str
) -> None:
    site.routes["/sitemap.xml"] = route
    with pytest.raises(SourceUnavailableError, match=message):
        _scan(site, sitemap=site.url("/sitemap.xml"))
    assert site.pages_requested() == ["/sitemap.xml"]


def test_max_pages_stops_the_crawl_and_says_the_listing_is_truncated(site: Site) -> None:
    for i in range(5):
        site.page(f"/docs/p{i}", f"/docs/p{i + 1}")
    results: list[Result] = []
    with pytest.raises(ListingTruncatedError, match="max_pages=3 with 1 pages not visited"):
        results.extend(_connector(site, seeds=[site.url("/docs/p0")], max_pages=3).scan())
    assert len(results) == 3
    assert site.pages_requested() == ["/docs/p0", "/docs/p1", "/docs/p2"]


def test_max_depth(site: Site) -> None:
    for i in range(5):
        site.page(f"/docs/p{i}", f"/docs/p{i + 1}")
    _scan(site, seeds=[site.url("/docs/p0")], max_depth=2)
    assert site.pages_requested() == ["/docs/p0", "/docs/p1", "/docs/p2"]


def test_response_over_the_size_limit_is_a_failure(site: Site) -> None:
    site.page("/docs/", "/docs/big.txt", "/docs/small.txt")
    site.routes["/docs/big.txt"] = Route(b"x" * 5000, content_type="text/plain")
    site.routes["/docs/small.txt"] = Route(b"small", content_type="text/plain")

    results = _scan(site, max_bytes=1000)

    failure = _by_key(results, site, "/docs/big.txt")
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "response is over the source limit of 1000 bytes"
    assert isinstance(_by_key(results, site, "/docs/small.txt"), FetchedDocument)


def test_response_without_length_stops_being_read_past_the_limit(site: Site) -> None:
    site.page("/docs/", "/docs/endless.txt", "/docs/after.txt")
    site.routes["/docs/endless.txt"] = Route(content_type="text/plain", endless=True)
    site.routes["/docs/after.txt"] = Route(b"after", content_type="text/plain")

    results = _scan(site, max_bytes=1000)

    failure = _by_key(results, site, "/docs/endless.txt")
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "response is over the source limit of 1000 bytes"
    assert isinstance(_by_key(results, site, "/docs/after.txt"), FetchedDocument)
    # The server could not finish its ~100 MB: the connector hung up instead of reading it.
    assert site.endless_cut_off.wait(timeout=30)


def test_http_errors_are_failures_and_the_rest_is_fetched(site: Site) -> None:
    site.page("/docs/", "/docs/missing.html", "/docs/broken.html", "/docs/ok.html")
    site.routes["/docs/broken.html"] = Route(b"oops", 500, "text/plain")
    site.page("/docs/ok.html")

    results = _scan(site)

    assert [(r.key, r.reason, r.kind) for r in results if isinstance(r, FetchFailure)] == [
        (site.url("/docs/missing.html"), "HTTP 404", "gone"),
        (site.url("/docs/broken.html"), "HTTP 500", "failed"),
    ]
    assert isinstance(_by_key(results, site, "/docs/ok.html"), FetchedDocument)


def test_seed_answering_404_is_a_failure_not_an_unavailable_source(site: Site) -> None:
    [failure] = _scan(site)
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "HTTP 404"


def test_unsupported_content_type_is_a_failure(site: Site) -> None:
    site.page("/docs/", "/docs/logo.png")
    site.routes["/docs/logo.png"] = Route(b"\x89PNG", content_type="image/png")
    failure = _by_key(_scan(site), site, "/docs/logo.png")
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "unsupported content type 'image/png'"


def test_redirects_are_followed_only_within_scope(site: Site) -> None:
    site.page("/docs/", "/docs/old.html", "/docs/away.html", "/docs/again.html")
    site.routes["/docs/old.html"] = Route(status=301, headers={"Location": "new.html"})
    site.routes["/docs/away.html"] = Route(
        status=302, headers={"Location": f"http://localhost:{site.port}/docs/secret.html"}
    )
    site.routes["/docs/again.html"] = Route(status=308, headers={"Location": "/docs/new.html"})
    site.page("/docs/new.html", body="new")
    site.page("/docs/secret.html")

    results = _scan(site)

    assert _keys(results) == [
        site.url("/docs/"),
        site.url("/docs/new.html"),  # the redirect's target is the key
        site.url("/docs/away.html"),
    ]
    away = results[2]
    assert isinstance(away, FetchFailure)
    assert away.reason == (
        f"redirect to http://localhost:{site.port}/docs/secret.html not followed: "
        "outside the allowed hosts and path prefixes"
    )
    assert "/docs/secret.html" not in site.requests
    assert site.requests.count("/docs/new.html") == 1  # not again through /docs/again.html


def test_access_rules_by_longest_prefix(site: Site) -> None:
    paths = ["/docs/", "/docs/guide.html", "/docs/hr/pay.html", "/docs/notes/a.html"]
    paths.append("/docs/locked/a.html")
    site.page("/docs/", *paths[1:])
    for path in paths[1:]:
        site.page(path)
    rules = [
        {"prefix": "/docs/", "read": ["group:support"]},
        {"prefix": "/docs/hr/", "read": ["group:hr"], "deny": ["user:bob"]},
        {"prefix": "/docs/notes/", "deny": ["user:carol"]},
        {"prefix": "/docs/locked/", "read": []},
    ]

    results = _scan(site, access_rules=rules)

    def access(path: str) -> AccessList | None:
        found = _by_key(results, site, path)
        assert isinstance(found, FetchedDocument)
        return found.access

    assert access("/docs/guide.html") == AccessList(("group:support",), ("user:eve",))
    assert access("/docs/hr/pay.html") == AccessList(("group:hr",), ("user:eve", "user:bob"))
    assert access("/docs/notes/a.html") == AccessList(("group:staff",), ("user:eve", "user:carol"))
    locked = _by_key(results, site, "/docs/locked/a.html")
    assert isinstance(locked, FetchedDocument)
    assert locked.access is None
    assert locked.access_error is not None
    assert "access rule '/docs/locked/'" in locked.access_error


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
        ("Wed, 21 Oct 2015 09:28:00 +0200", datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
        ("not a date", None),
    ],
)
def test_modified_at_from_last_modified(site: Site, header: str, expected: datetime | None) -> None:
    site.routes["/docs/"] = Route(b"<p>x</p>", headers={"Last-Modified": header})
    [document] = _scan(site)
    assert isinstance(document, FetchedDocument)
    assert document.modified_at == expected


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_unreachable_seed_host_means_the_source_is_unavailable() -> None:
    port = _free_port()
    source = WebSource(
        id="web",
        kind="web",
        seeds=[f"http://127.0.0.1:{port}/docs/"],
        allowed_hosts=[f"127.0.0.1:{port}"],
        read=["public"],
    )
    with pytest.raises(SourceUnavailableError, match=rf"host 127\.0\.0\.1:{port} .*ConnectError"):
        list(WebConnector(source=source).scan())


def test_uses_the_client_it_is_given_and_leaves_it_open(site: Site) -> None:
    site.page("/docs/")
    source = WebSource(
        id="web",
        kind="web",
        seeds=[site.url("/docs/")],
        allowed_hosts=[site.host],
        read=["public"],
        user_agent="HelpdeskCrawler/2.0",
    )
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as client:
        results = list(WebConnector(source=source, client=client).scan())
        assert not client.is_closed
    assert _keys(results) == [site.url("/docs/")]
    assert seen == [site.url("/robots.txt"), site.url("/docs/")]
    assert set(site.user_agents) == {"HelpdeskCrawler/2.0"}


OUT_OF_SCOPE: dict[str, Callable[[Site], dict[str, object]]] = {
    "seed on another host": lambda site: {"seeds": [f"http://localhost:{site.port}/docs/"]},
    "seed outside the prefixes": lambda site: {"seeds": [site.url("/outside/")]},
    "seed that is not http": lambda site: {"seeds": ["mailto:help@example.com"]},
    "sitemap on another host": lambda site: {
        "seeds": [],
        "sitemap": f"http://localhost:{site.port}/sitemap.xml",
    },
}


@pytest.mark.parametrize("overrides", OUT_OF_SCOPE.values(), ids=OUT_OF_SCOPE.keys())
def test_seeds_and_sitemap_out_of_scope_make_the_source_unavailable(
    site: Site, overrides: Callable[[Site], dict[str, object]]
) -> None:
    site.page("/outside/")
    site.routes["/sitemap.xml"] = Route(b"<urlset/>", content_type="application/xml")
    with pytest.raises(SourceUnavailableError, match="is not an http"):
        _scan(site, **overrides(site))
    assert site.requests == []
