"""`CitationInspector`: what an auditor may see of an answer's citations, as the index is now.

For each recorded citation it finds the cited chunk in the index and decides:

- **state**: `current` (the chunk is indexed with the document version the answer cited),
  `changed` (the document has another version now: the chunk carries a new version, or it is
  gone while the document is still indexed) or `removed` (the document left the index).
- **readable**: whether the auditor may read the document now, by the policy engine on the
  chunk's access lists; when the cited chunk is gone, by a search inside that document with
  the auditor's access filter in the query (the same decision point retrieval uses). A removed
  document cannot be checked, so it is not readable (fail closed).
- **context**: the quoted span inside its chunk text, with surrounding text, masked by the
  `PiiGuard` in the caller's scope: one review page masks all its citations in one scope, so
  a value has one placeholder on the page, the one the recorded answer gave it where the
  recorded quote shows it. Only where a span sits in its chunk is cached (chunk texts never
  change under a chunk id); masked text is not, its placeholders belong to one page. The
  redactor caches findings, so masking a context again costs lookups.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.audit.store import AuditCitation, AuditRecord
from agent.review.types import CitationState, CitationView
from policies.access.engine import PolicyEngine
from policies.access.filters import AccessFilter
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from policies.pii.masking_session import MaskingSession
from retrieval.records import ChunkRecord, SearchFilters
from retrieval.store import VectorStore

__all__ = ["CitationAccess", "CitationInspector", "CitedSpan", "seed_scope"]

_PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")
_CUT_SLACK = 40  # characters searched for a word boundary when context is trimmed


class CitedSpan(Protocol):
    """What a recorded citation says about where it points (`AuditCitation`, `Citation`)."""

    @property
    def marker(self) -> int: ...
    @property
    def chunk_id(self) -> str: ...
    @property
    def document_id(self) -> str: ...
    @property
    def document_version(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def quote(self) -> str: ...


@dataclass(frozen=True)
class CitationAccess:
    citation: AuditCitation
    chunk: ChunkRecord | None
    state: CitationState
    readable: bool


class CitationInspector:
    """Thread-safe; `index` returns the open vector store (it may raise while it opens)."""

    def __init__(
        self,
        *,
        index: Callable[[], VectorStore],
        policy: PolicyEngine,
        guard: PiiGuard,
        context_chars: int,
        cache_size: int,
    ) -> None:
        self._index = index
        self._policy = policy
        self._guard = guard
        self._context_chars = context_chars
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, int, int, str, bool], tuple[int, int] | None] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def access(self, record: AuditRecord, auditor: Principal) -> list[CitationAccess]:
        return [
            CitationAccess(citation, chunk, state, readable)
            for citation, (chunk, state, readable) in zip(
                record.citations, self._decide(record.citations, auditor), strict=True
            )
        ]

    def restricted(self, citations: Sequence[CitedSpan], reader: Principal) -> frozenset[int]:
        """The markers of the citations `reader` may not read now: the same decision, by the
        same rules, as the audit page's restricted citations."""
        decided = self._decide(citations, reader)
        return frozenset(
            c.marker for c, (_, _, readable) in zip(citations, decided, strict=True) if not readable
        )

    def _decide(
        self, citations: Sequence[CitedSpan], reader: Principal
    ) -> list[tuple[ChunkRecord | None, CitationState, bool]]:
        """Per citation: the cited chunk as indexed now, its state, and whether `reader` may
        read it."""
        if not citations:
            return []
        index = self._index()
        chunks = {c.chunk_id: c for c in index.retrieve_chunks([c.chunk_id for c in citations])}
        access: AccessFilter | None = None
        found: list[tuple[ChunkRecord | None, CitationState, bool]] = []
        for citation in citations:
            chunk = chunks.get(citation.chunk_id)
            state: CitationState
            if chunk is not None:
                same = chunk.document_version == citation.document_version
                state = "current" if same else "changed"
                readable = self._policy.can_read(
                    reader, source_id=chunk.source_id, read=chunk.read, deny=chunk.deny
                )
            elif index.count(document_id=citation.document_id) > 0:
                state = "changed"
                access = access or self._policy.access_filter(reader)
                readable = _visible(index, citation, access)
            else:
                state, readable = "removed", False
            found.append((chunk, state, readable))
        return found

    def view(self, access: CitationAccess) -> CitationView:
        c = access.citation
        if not access.readable:
            return CitationView(
                marker=c.marker,
                source_id=c.source_id,
                support=c.support,
                state=access.state,
                restricted=True,
            )
        before = after = None
        quote = c.quote
        if access.chunk is not None:
            context = self._context(access.chunk, c, current=access.state == "current")
            if context is not None:
                before, quote, after = context
        return CitationView(
            marker=c.marker,
            source_id=c.source_id,
            support=c.support,
            state=access.state,
            restricted=False,
            document_id=c.document_id,
            title=c.title,
            uri=c.uri,
            quote=quote,
            before=before,
            after=after,
        )

    def _context(
        self, chunk: ChunkRecord, citation: AuditCitation, *, current: bool
    ) -> tuple[str, str, str] | None:
        """(before, quote, after) of the cited span inside its chunk, masked in the current
        guard scope; None if the span cannot be placed. The recorded quote's placeholders are
        bound to the raw values they stand for first, so the context agrees with the recorded
        answer (see `seed_scope`)."""
        span = self._placed(chunk, citation, current=current)
        if span is None:
            return None
        start, end = span
        text, limit = chunk.text, self._context_chars
        with self._guard.scope() as session:  # the page's scope when one is open
            _bind_recorded(session, citation.quote, text[start:end])
            return (
                self._guard.mask_text(_tail(text[:start], limit)),
                self._guard.mask_text(text[start:end]),
                self._guard.mask_text(_head(text[end:], limit)),
            )

    def _placed(
        self, chunk: ChunkRecord, citation: AuditCitation, *, current: bool
    ) -> tuple[int, int] | None:
        """(start, end) of the cited span inside its chunk's text, or None. Offsets are the
        document's: in the cited version they are exact; in a changed document the same chunk
        may sit elsewhere, so there the recorded (masked) quote is matched against the chunk
        text, each placeholder standing for any text. Cached: chunk texts never change under a
        chunk id (masked text is not cached - placeholders belong to one page)."""
        key = (chunk.chunk_id, citation.start, citation.end, citation.quote, current)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        start, end = citation.start - chunk.start, citation.end - chunk.start
        placed: tuple[int, int] | None = (
            (start, end) if 0 <= start <= end <= len(chunk.text) else None
        )
        if not current:
            pattern = _quote_pattern(citation.quote)
            if not (placed and pattern.fullmatch(chunk.text, start, end)):
                match = pattern.search(chunk.text) if citation.quote else None
                placed = match.span() if match is not None else None
        if self._cache_size:
            with self._lock:
                self._cache[key] = placed
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return placed


def seed_scope(session: MaskingSession, recorded: Iterable[str]) -> None:
    """Reserve the placeholders of recorded (already masked) texts in a page's session, so a
    value masked for the page never takes a number the recorded answer uses for another."""
    for text in recorded:
        for placeholder in _PLACEHOLDER.findall(text):
            session.reserve(placeholder)


def _bind_recorded(session: MaskingSession, quote: str, raw: str) -> None:
    """Bind each placeholder of a recorded quote to the raw text it replaced in `raw` (the
    quoted span as indexed), when the quote's fixed text pins it down."""
    if not _PLACEHOLDER.search(quote):
        return
    parts = _PLACEHOLDER.split(quote)
    names = _PLACEHOLDER.findall(quote)
    pattern = "".join(
        re.escape(part) + ("(.+?)" if i < len(names) else "") for i, part in enumerate(parts)
    )
    match = re.fullmatch(pattern, raw, re.DOTALL)
    if match is None:
        return
    for placeholder, value in zip(names, match.groups(), strict=True):
        session.bind(placeholder, value)


def _visible(index: VectorStore, citation: CitedSpan, access: AccessFilter) -> bool:
    """Whether any chunk of the cited document is visible through the auditor's filter."""
    hits = index.search(
        query_text=f"{citation.title} {citation.quote}",
        query_vector=None,
        access=access,
        filters=SearchFilters(document_ids=frozenset({citation.document_id})),
        limit=1,
        mode="sparse",
    )
    return bool(hits)


def _quote_pattern(quote: str) -> re.Pattern[str]:
    """A pattern for the raw text a masked quote came from: placeholders match any text."""
    parts = _PLACEHOLDER.split(quote)
    return re.compile("(?:.+?)".join(re.escape(p) for p in parts), re.DOTALL)


def _tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[len(text) - limit :]
    space = cut.find(" ")
    return "…" + (cut[space + 1 :] if 0 <= space < _CUT_SLACK else cut)


def _head(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - _CUT_SLACK else cut) + "…"
