"""The web connector's crawl against a real HTTP server on 127.0.0.1 (the `site` fixture): URL
normalisation, breadth-first link following, scope, sitemaps, limits, redirects, its client."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from ingest.connectors import ListingTruncatedError, SourceUnavailableError
from ingest.connectors.web import WebConnector, normalise_url
from ingest.documents import AccessList, FetchedDocument, FetchFailure
from ingest.sources import WebSource
from tests.fixtures.web_site import Result, Route, Site, by_key, result_keys, scan, web_connector

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

    results = scan(site)

    assert result_keys(results) == [
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
    text = by_key(results, site, "/docs/b.txt")
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

    results = scan(site)

    assert result_keys(results) == [site.url("/docs/"), site.url("/docs/in-scope.html")]
    assert site.pages_requested() == ["/docs/", "/docs/in-scope.html"]


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

    results = scan(site, seeds=[], sitemap=site.url("/sitemap.xml"), max_depth=0)

    assert result_keys(results) == [site.url("/docs/a.html"), site.url("/docs/b.txt")]
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
        scan(site, sitemap=site.url("/sitemap.xml"))
    assert site.pages_requested() == ["/sitemap.xml"]


def test_max_pages_stops_the_crawl_and_says_the_listing_is_truncated(site: Site) -> None:
    for i in range(5):
        site.page(f"/docs/p{i}", f"/docs/p{i + 1}")
    results: list[Result] = []
    with pytest.raises(ListingTruncatedError, match="max_pages=3 with 1 pages not visited"):
        results.extend(web_connector(site, seeds=[site.url("/docs/p0")], max_pages=3).scan())
    assert len(results) == 3
    assert site.pages_requested() == ["/docs/p0", "/docs/p1", "/docs/p2"]


def test_max_depth(site: Site) -> None:
    for i in range(5):
        site.page(f"/docs/p{i}", f"/docs/p{i + 1}")
    scan(site, seeds=[site.url("/docs/p0")], max_depth=2)
    assert site.pages_requested() == ["/docs/p0", "/docs/p1", "/docs/p2"]


def test_redirects_are_followed_only_within_scope(site: Site) -> None:
    site.page("/docs/", "/docs/old.html", "/docs/away.html", "/docs/again.html")
    site.routes["/docs/old.html"] = Route(status=301, headers={"Location": "new.html"})
    site.routes["/docs/away.html"] = Route(
        status=302, headers={"Location": f"http://localhost:{site.port}/docs/secret.html"}
    )
    site.routes["/docs/again.html"] = Route(status=308, headers={"Location": "/docs/new.html"})
    site.page("/docs/new.html", body="new")
    site.page("/docs/secret.html")

    results = scan(site)

    assert result_keys(results) == [
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
    assert result_keys(results) == [site.url("/docs/")]
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
        scan(site, **overrides(site))
    assert site.requests == []
