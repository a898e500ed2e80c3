"""What the web connector makes of each response, against a real HTTP server on 127.0.0.1 (the
`site` fixture): size limits, HTTP errors, content types, access rules, Last-Modified."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.documents import AccessList, FetchedDocument, FetchFailure
from tests.fixtures.web_site import Route, Site, by_key, scan


def test_response_over_the_size_limit_is_a_failure(site: Site) -> None:
    site.page("/docs/", "/docs/big.txt", "/docs/small.txt")
    site.routes["/docs/big.txt"] = Route(b"x" * 5000, content_type="text/plain")
    site.routes["/docs/small.txt"] = Route(b"small", content_type="text/plain")

    results = scan(site, max_bytes=1000)

    failure = by_key(results, site, "/docs/big.txt")
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "response is over the source limit of 1000 bytes"
    assert isinstance(by_key(results, site, "/docs/small.txt"), FetchedDocument)


def test_response_without_length_stops_being_read_past_the_limit(site: Site) -> None:
    site.page("/docs/", "/docs/endless.txt", "/docs/after.txt")
    site.routes["/docs/endless.txt"] = Route(content_type="text/plain", endless=True)
    site.routes["/docs/after.txt"] = Route(b"after", content_type="text/plain")

    results = scan(site, max_bytes=1000)

    failure = by_key(results, site, "/docs/endless.txt")
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "response is over the source limit of 1000 bytes"
    assert isinstance(by_key(results, site, "/docs/after.txt"), FetchedDocument)
    # The server could not finish its ~100 MB: the connector hung up instead of reading it.
    assert site.endless_cut_off.wait(timeout=30)


def test_http_errors_are_failures_and_the_rest_is_fetched(site: Site) -> None:
    site.page("/docs/", "/docs/missing.html", "/docs/broken.html", "/docs/ok.html")
    site.routes["/docs/broken.html"] = Route(b"oops", 500, "text/plain")
    site.page("/docs/ok.html")

    results = scan(site)

    assert [(r.key, r.reason, r.kind) for r in results if isinstance(r, FetchFailure)] == [
        (site.url("/docs/missing.html"), "HTTP 404", "gone"),
        (site.url("/docs/broken.html"), "HTTP 500", "failed"),
    ]
    assert isinstance(by_key(results, site, "/docs/ok.html"), FetchedDocument)


def test_seed_answering_404_is_a_failure_not_an_unavailable_source(site: Site) -> None:
    [failure] = scan(site)
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "HTTP 404"


def test_unsupported_content_type_is_a_failure(site: Site) -> None:
    site.page("/docs/", "/docs/logo.png")
    site.routes["/docs/logo.png"] = Route(b"\x89PNG", content_type="image/png")
    failure = by_key(scan(site), site, "/docs/logo.png")
    assert isinstance(failure, FetchFailure)
    assert failure.reason == "unsupported content type 'image/png'"


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

    results = scan(site, access_rules=rules)

    def access(path: str) -> AccessList | None:
        found = by_key(results, site, path)
        assert isinstance(found, FetchedDocument)
        return found.access

    assert access("/docs/guide.html") == AccessList(("group:support",), ("user:eve",))
    assert access("/docs/hr/pay.html") == AccessList(("group:hr",), ("user:eve", "user:bob"))
    assert access("/docs/notes/a.html") == AccessList(("group:staff",), ("user:eve", "user:carol"))
    locked = by_key(results, site, "/docs/locked/a.html")
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
    [document] = scan(site)
    assert isinstance(document, FetchedDocument)
    assert document.modified_at == expected
