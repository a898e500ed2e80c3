"""Crawls an approved web site: seeds and sitemaps, kept in scope, robots.txt honoured, bounded.

robots.txt is read with `protego` (RFC 9309: `*` and `$` in paths, the longest matching rule
wins, Allow over Disallow on a tie) rather than the standard library's parser, which reads a
pattern as a plain prefix and takes the first rule that matches. Its `Crawl-delay` for our user
agent is honoured between any two requests to that origin, up to the source's
`max_crawl_delay_seconds` (a longer one is capped and logged).
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from bs4 import BeautifulSoup
from protego import Protego

from ingest.acl import AccessResolutionError, AclRule, require_readers
from ingest.connectors import ListingTruncatedError, SourceUnavailableError
from ingest.documents import AccessList, DocType, FetchedDocument, FetchFailure
from ingest.sources import WebSource

__all__ = ["CONTENT_TYPES", "WebConnector", "normalise_url"]

logger = logging.getLogger(__name__)

CONTENT_TYPES: dict[str, DocType] = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/markdown": "md",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_REDIRECTS = 5
_MAX_SITEMAPS = 50
_ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB

Listing = Iterator[FetchedDocument | FetchFailure]


def normalise_url(url: str, base: str | None = None) -> str | None:
    """An absolute http(s) URL, resolved against `base`, without fragment, credentials or dot
    segments, with scheme and host lowercased and the default port dropped; None otherwise."""
    try:
        parts = urlsplit(urljoin(base or "", url.strip()))
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Remove dot segments (`/docs/../private` is `/private`) so a prefix check cannot be
    # walked around, `%2e` included: servers decode it.
    path = urljoin("/", parts.path.replace("%2e", ".").replace("%2E", "."))
    return urlunsplit((scheme, netloc, path, parts.query, ""))


class WebConnector:
    """Lists the pages of a web source, breadth-first from its seeds and sitemap.

    Only URLs on `allowed_hosts` (`host` or `host:port`; no port means the default one) under
    `allowed_path_prefixes` are fetched, and only where robots.txt allows `user_agent`.
    Requests to one origin are spaced by its robots.txt `Crawl-delay` (`clock` and `sleep`
    are injectable for tests).
    """

    def __init__(
        self,
        *,
        source: WebSource,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._source = source
        self._client = client
        self._scope = _Scope(source)
        self._pacer = _Pacer(clock=clock, sleep=sleep)

    def scan(self) -> Listing:
        """Yield the pages found, each read as it is reached.

        Raises `SourceUnavailableError` when a seed, the sitemap or their robots.txt cannot be
        fetched, or lie outside the allowed hosts and prefixes: the listing would be incomplete,
        so nothing may be deleted.
        """
        client = self._client or httpx.Client()
        try:
            yield from _Crawl(self._source, self._scope, client, self._pacer).run()
        finally:
            if self._client is None:
                client.close()


class _Scope:
    def __init__(self, source: WebSource) -> None:
        self._hosts = {_host_entry(h) for h in source.allowed_hosts}
        self._prefixes = tuple(source.allowed_path_prefixes)

    def host_allowed(self, url: str) -> bool:
        return urlsplit(url).netloc in self._hosts

    def allows(self, url: str) -> bool:
        return self.host_allowed(url) and urlsplit(url).path.startswith(self._prefixes)


class _Pacer:
    """Spaces the requests to one origin: each starts at least `delay` seconds after the one
    before it."""

    def __init__(self, *, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep

    def wait(self, last_start: float | None, delay: float) -> float:
        """Sleep until `delay` seconds after `last_start`; the time the request starts."""
        if last_start is not None and delay > 0:
            remaining = last_start + delay - self._clock()
            if remaining > 0:
                self._sleep(remaining)
        return self._clock()


@dataclass(frozen=True)
class _Page:
    url: str  # normalised
    depth: int
    seed: bool = False  # configured by the operator: unreachable means the source is


@dataclass(frozen=True)
class _Redirect:
    location: str


class _Crawl:
    """The state of one scan: queue, URLs seen, robots.txt per origin, pages fetched."""

    def __init__(
        self, source: WebSource, scope: _Scope, client: httpx.Client, pacer: _Pacer
    ) -> None:
        self._source = source
        self._scope = scope
        self._client = client
        self._pacer = pacer
        self._queue: deque[_Page] = deque()
        self._seen: set[str] = set()
        self._robots_by_origin: dict[str, Protego | str] = {}  # str: why unavailable
        self._delay_by_origin: dict[str, float] = {}  # robots.txt's Crawl-delay, capped
        self._last_request_at: dict[str, float] = {}  # per origin
        self._fetched = 0
        self._default_access = AccessList(read=tuple(source.read), deny=tuple(source.deny))

    def run(self) -> Listing:
        seeds = [self._configured(seed, self._scope.allows) for seed in self._source.seeds]
        sitemap_urls = self._sitemap_urls()  # first: an unreadable sitemap stops the scan early
        for seed in seeds:
            self._enqueue(_Page(seed, 0, seed=True))
        for url in sitemap_urls:
            self._enqueue(_Page(url, 0))
        while self._queue and self._fetched < self._source.max_pages:
            yield from self._visit(self._queue.popleft())
        if self._queue:
            raise ListingTruncatedError(
                f"web source {self._source.id!r}: stopped at max_pages="
                f"{self._source.max_pages} with {len(self._queue)} pages not visited"
            )

    def _configured(self, url: str, in_scope: Callable[[str], bool]) -> str:
        """A seed or sitemap URL from the sources file, normalised; it must be in scope."""
        normalised = normalise_url(url)
        if normalised is None or not in_scope(normalised):
            raise SourceUnavailableError(
                f"web source {self._source.id!r}: {url!r} is not an http(s) URL within its "
                "allowed_hosts and allowed_path_prefixes"
            )
        return normalised

    def _enqueue(self, page: _Page) -> None:
        if page.url not in self._seen and self._scope.allows(page.url):
            self._seen.add(page.url)
            self._queue.append(page)

    def _visit(self, page: _Page) -> Listing:
        robots = self._robots(page.url)
        if isinstance(robots, str):
            if page.seed:
                raise SourceUnavailableError(f"web source {self._source.id!r}: {robots}")
            yield self._failure(page.url, robots)
            return
        if not robots.can_fetch(page.url, self._source.user_agent):
            logger.debug("robots.txt disallows %s", page.url)
            return
        self._fetched += 1
        try:
            result = self._fetch(page.url)
        except httpx.TransportError as exc:
            if page.seed:
                raise self._unavailable(page.url, _describe(exc)) from exc
            result = self._failure(page.url, f"cannot fetch: {_describe(exc)}")
        if result is None:
            return
        yield result
        if isinstance(result, FetchedDocument):
            self._follow_links(result, page.depth)

    def _follow_links(self, document: FetchedDocument, depth: int) -> None:
        if document.doc_type == "html" and depth < self._source.max_depth:
            for link in _links(document.data, base=document.uri):
                self._enqueue(_Page(link, depth + 1))

    def _fetch(self, url: str) -> FetchedDocument | FetchFailure | None:
        """Fetch a page, following redirects that stay in scope; None if it leads to a URL
        already listed."""
        first = url
        for _ in range(_MAX_REDIRECTS + 1):
            outcome = self._get(url)
            if not isinstance(outcome, _Redirect):
                return outcome
            url = outcome.location
            refusal = self._refusal(url)
            if refusal is not None:
                return self._failure(first, f"redirect to {url} not followed: {refusal}")
            if url in self._seen:
                return None
            self._seen.add(url)
        return self._failure(first, f"more than {_MAX_REDIRECTS} redirects")

    def _refusal(self, url: str) -> str | None:
        if not self._scope.allows(url):
            return "outside the allowed hosts and path prefixes"
        return self._robots_refusal(url)

    def _robots_refusal(self, url: str) -> str | None:
        robots = self._robots(url)
        if isinstance(robots, str):
            return robots
        if not robots.can_fetch(url, self._source.user_agent):
            return "disallowed by robots.txt"
        return None

    def _get(self, url: str) -> FetchedDocument | FetchFailure | _Redirect:
        with self._stream(url) as response:
            if response.has_redirect_location:
                location = normalise_url(response.headers["location"], base=url)
                return _Redirect(location) if location else self._failure(url, "bad redirect")
            if response.status_code in (404, 410):
                return FetchFailure(
                    source_id=self._source.id,
                    key=url,
                    reason=f"HTTP {response.status_code}",
                    kind="gone",
                )
            if not response.is_success:
                return self._failure(url, f"HTTP {response.status_code}")
            media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            doc_type = CONTENT_TYPES.get(media_type)
            if doc_type is None:
                return self._failure(url, f"unsupported content type {media_type or '(none)'!r}")
            limit = self._source.max_bytes
            data = _read_at_most(response, limit)
            if len(data) > limit:
                return self._failure(url, f"response is over the source limit of {limit} bytes")
            modified_at = _last_modified(response.headers.get("last-modified"))
        access, access_error = self._access(url)
        return FetchedDocument(
            source_id=self._source.id,
            key=url,
            uri=url,
            data=data,
            doc_type=doc_type,
            modified_at=modified_at,
            access=access,
            access_error=access_error,
        )

    def _access(self, url: str) -> tuple[AccessList | None, str | None]:
        """Source default, then the longest matching access rule (read replaces, deny adds)."""
        path = urlsplit(url).path
        access, origin = self._default_access, f"source {self._source.id!r}"
        rules = [r for r in self._source.access_rules if path.startswith(r.prefix)]
        if rules:
            rule = max(rules, key=lambda r: len(r.prefix))
            read = tuple(rule.read) if "read" in rule.model_fields_set else None
            access = AclRule(read=read, deny=tuple(rule.deny)).apply(access)
            origin = origin if read is None else f"access rule {rule.prefix!r}"
        try:
            return require_readers(access, origin=f"{url} (readers from {origin})"), None
        except AccessResolutionError as exc:
            return None, str(exc)

    def _robots(self, url: str) -> Protego | str:
        origin = _origin(url)
        if origin not in self._robots_by_origin:
            robots = self._load_robots(origin)
            self._robots_by_origin[origin] = robots
            if not isinstance(robots, str):
                self._delay_by_origin[origin] = self._crawl_delay(origin, robots)
        return self._robots_by_origin[origin]

    def _crawl_delay(self, origin: str, robots: Protego) -> float:
        """robots.txt's Crawl-delay for our user agent, capped at `max_crawl_delay_seconds`."""
        asked = robots.crawl_delay(self._source.user_agent) or 0.0
        cap = self._source.max_crawl_delay_seconds
        if asked > cap:
            logger.warning(
                "web source %r: %s/robots.txt asks for a crawl delay of %gs; waiting %gs "
                "(max_crawl_delay_seconds)",
                self._source.id, origin, asked, cap,
            )  # fmt: skip
            return cap
        if asked > 0:
            logger.info(
                "web source %r: waiting %gs between requests to %s (robots.txt Crawl-delay)",
                self._source.id, asked, origin,
            )  # fmt: skip
        return asked

    def _load_robots(self, origin: str) -> Protego | str:
        """Per RFC 9309: 4xx means no rules, 5xx or unreachable means nothing may be fetched."""
        url = f"{origin}/robots.txt"
        try:
            with self._stream(url, follow_redirects=True) as response:
                status = response.status_code
                body = _read_at_most(response, _ROBOTS_MAX_BYTES) if status < 300 else b""
        except httpx.RequestError as exc:
            return f"cannot reach host {urlsplit(url).netloc} ({url}): {_describe(exc)}"
        if status >= 500:
            return f"{url} answered HTTP {status}, so nothing there may be fetched (RFC 9309)"
        # A 4xx (or a redirect left unfollowed) means no rules: everything is allowed.
        text = body[:_ROBOTS_MAX_BYTES].decode("utf-8", errors="replace") if status < 300 else ""
        return Protego.parse(text)

    def _sitemap_urls(self) -> list[str]:
        """The page URLs of the sitemap (following sitemap indexes), in scope."""
        if not self._source.sitemap:
            return []
        pending = deque([self._configured(self._source.sitemap, self._scope.host_allowed)])
        done: set[str] = set()
        urls: list[str] = []
        while pending and len(done) < _MAX_SITEMAPS:
            sitemap = pending.popleft()
            if sitemap in done:
                continue
            done.add(sitemap)
            kind, locations = self._read_sitemap(sitemap)
            if kind == "sitemapindex":
                pending.extend(u for u in locations if self._scope.host_allowed(u))
            else:
                urls.extend(locations)
        return urls

    def _read_sitemap(self, url: str) -> tuple[str, list[str]]:
        refusal = self._robots_refusal(url)  # its host is allowed; any path may hold it
        if refusal is not None:
            raise self._unavailable(url, refusal)
        limit = self._source.max_bytes
        try:
            with self._stream(url) as response:
                status = response.status_code
                body = _read_at_most(response, limit) if response.is_success else b""
        except httpx.TransportError as exc:
            raise self._unavailable(url, _describe(exc)) from exc
        if not 200 <= status < 300:
            raise self._unavailable(url, f"HTTP {status}")
        if len(body) > limit:
            raise self._unavailable(url, f"over the source limit of {limit} bytes")
        try:
            # The stdlib parser resolves no external entities, and expat (>= 2.4.1) limits
            # entity expansion; the body is capped at `max_bytes` as well.
            root = ET.fromstring(body)  # noqa: S314
        except ET.ParseError as exc:
            raise self._unavailable(url, f"not valid XML ({exc})") from exc
        kind = _local_name(root.tag)
        if kind not in ("urlset", "sitemapindex"):
            raise self._unavailable(url, f"not a sitemap (root element {kind!r})")
        found = (
            normalise_url(e.text) for e in root.iter() if _local_name(e.tag) == "loc" and e.text
        )
        return kind, [u for u in found if u is not None]

    def _stream(
        self, url: str, *, follow_redirects: bool = False
    ) -> AbstractContextManager[httpx.Response]:
        origin = _origin(url)
        self._last_request_at[origin] = self._pacer.wait(
            self._last_request_at.get(origin), self._delay_by_origin.get(origin, 0.0)
        )
        return self._client.stream(
            "GET",
            url,
            headers={"User-Agent": self._source.user_agent},
            timeout=self._source.timeout_seconds,
            follow_redirects=follow_redirects,
        )

    def _unavailable(self, url: str, reason: str) -> SourceUnavailableError:
        host = urlsplit(url).netloc
        return SourceUnavailableError(
            f"web source {self._source.id!r}: cannot read {url} on host {host}: {reason}"
        )

    def _failure(self, url: str, reason: str) -> FetchFailure:
        return FetchFailure(source_id=self._source.id, key=url, reason=reason)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _host_entry(entry: str) -> str:
    """An `allowed_hosts` entry as it appears in a normalised URL (default ports dropped)."""
    host = entry.strip().lower()
    for default_port in (":80", ":443"):
        host = host.removesuffix(default_port)
    return host


def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    """The body, reading no more than `limit + 1` bytes: one byte over shows it is too big."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            break
    return bytes(body[: limit + 1])


def _links(html: bytes, *, base: str) -> Iterator[str]:
    soup = BeautifulSoup(html, "html.parser")
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        base = urljoin(base, str(base_tag.get("href")))
    for anchor in soup.find_all("a", href=True):
        link = normalise_url(str(anchor.get("href")), base=base)
        if link is not None:
            yield link


def _last_modified(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]  # drop the XML namespace


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
