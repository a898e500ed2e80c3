"""The web connector and robots.txt against a real HTTP server on 127.0.0.1 (the `site`
fixture): rules, wildcards, precedence, server errors and crawl delays."""

from __future__ import annotations

import logging

import pytest

from ingest.connectors import SourceUnavailableError
from ingest.connectors.web import WebConnector
from tests.fixtures.web_site import Route, Site, result_keys, robots, scan, web_source


def test_robots_txt_is_honoured(site: Site) -> None:
    site.routes["/robots.txt"] = Route(
        b"User-agent: OtherBot\nDisallow: /\n\nUser-agent: ProofdeskBot\nDisallow: /docs/private\n",
        content_type="text/plain",
    )
    site.page("/docs/", "/docs/private/a.html", "/docs/public.html")
    site.page("/docs/private/a.html")
    site.page("/docs/public.html")

    results = scan(site)

    assert result_keys(results) == [site.url("/docs/"), site.url("/docs/public.html")]
    assert "/docs/private/a.html" not in site.requests


def test_robots_txt_disallowing_everything_fetches_nothing(site: Site) -> None:
    site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /\n", content_type="text/plain")
    site.page("/docs/")
    assert scan(site) == []
    assert site.requests == ["/robots.txt"]


def test_robots_txt_server_error_means_the_source_is_unavailable(site: Site) -> None:
    site.routes["/robots.txt"] = Route(b"oops", 503, "text/plain")
    site.page("/docs/")
    with pytest.raises(SourceUnavailableError, match=r"robots\.txt answered HTTP 503"):
        scan(site)
    assert site.requests == ["/robots.txt"]


def test_robots_txt_wildcards_and_end_anchors_are_understood(site: Site) -> None:
    robots(site, "User-agent: *\nDisallow: /*.pdf$\nDisallow: /docs/*/drafts/\n")
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

    results = scan(site)

    # `$` anchors the end: with a query string the URL no longer ends in ".pdf".
    assert site.pages_requested() == [
        "/docs/",
        "/docs/guide.pdf?download=1",
        "/docs/team/final.html",
    ]
    assert site.url("/docs/guide.pdf") not in result_keys(results)


def test_robots_txt_longest_match_wins_whatever_the_order(site: Site) -> None:
    robots(
        site,
        "User-agent: ProofdeskBot\nDisallow: /docs/\nAllow: /docs/public/\n"
        "Disallow: /docs/public/secret\n",
    )
    site.page("/docs/public/", "/docs/public/a.html", "/docs/public/secret.html", "/docs/b.html")
    site.page("/docs/public/a.html")
    site.page("/docs/public/secret.html")
    site.page("/docs/b.html")

    results = scan(site, seeds=[site.url("/docs/public/")])

    assert result_keys(results) == [site.url("/docs/public/"), site.url("/docs/public/a.html")]
    assert site.pages_requested() == ["/docs/public/", "/docs/public/a.html"]


def test_robots_txt_allow_wins_a_tie_with_disallow(site: Site) -> None:
    robots(site, "User-agent: *\nDisallow: /docs/page\nAllow: /docs/page\n")
    site.page("/docs/", "/docs/page")
    site.page("/docs/page")

    scan(site)

    assert site.pages_requested() == ["/docs/", "/docs/page"]


def test_robots_txt_crawl_delay_spaces_the_requests(site: Site) -> None:
    robots(site, "User-agent: OtherBot\nCrawl-delay: 0\n\nUser-agent: *\nCrawl-delay: 0.3\n")
    site.page("/docs/", "/docs/a.html", "/docs/b.html")
    site.page("/docs/a.html")
    site.page("/docs/b.html")

    scan(site)

    assert site.requests == ["/robots.txt", "/docs/", "/docs/a.html", "/docs/b.html"]
    gaps = [b - a for a, b in zip(site.request_times, site.request_times[1:], strict=False)]
    assert min(gaps) >= 0.2, gaps  # 0.3 s asked; a margin for the server's own timing


def test_a_crawl_delay_over_the_limit_is_capped_and_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    robots(site, "User-agent: *\nCrawl-delay: 3600\n")
    site.page("/docs/", "/docs/a.html")
    site.page("/docs/a.html")
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    source = web_source(site, max_crawl_delay_seconds=5)
    connector = WebConnector(source=source, clock=lambda: now[0], sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="ingest.connectors.web"):
        results = list(connector.scan())

    assert result_keys(results) == [site.url("/docs/"), site.url("/docs/a.html")]
    assert slept == [5.0, 5.0]  # before /docs/ (after robots.txt) and before /docs/a.html
    assert "crawl delay of 3600s; waiting 5s" in caplog.text


def test_without_a_crawl_delay_nothing_waits(site: Site) -> None:
    robots(site, "User-agent: *\nDisallow: /private/\n")
    site.page("/docs/", "/docs/a.html")
    site.page("/docs/a.html")
    slept: list[float] = []
    list(WebConnector(source=web_source(site), sleep=slept.append).scan())

    assert slept == []
    assert site.pages_requested() == ["/docs/", "/docs/a.html"]
