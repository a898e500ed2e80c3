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
  `PiiGuard`. Chunk texts never change under a chunk id, so masked contexts are cached.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.audit.store import AuditCitation, AuditRecord
from agent.masking import PiiGuard
from agent.review_types import CitationState, CitationView
from policies.access import AccessFilter
from policies.engine import PolicyEngine
from policies.principal import Principal
from retrieval.records import ChunkRecord, SearchFilters
from retrieval.store import VectorStore

__all__ = ["CitationAccess", "CitationInspector", "CitedSpan"]

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
        self._cache: OrderedDict[tuple[str, int, int], tuple[str, str, str]] = OrderedDict()
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
        """(before, quote, after) of the cited span inside its chunk, masked; None if the span
        cannot be placed. Offsets are the document's: in the cited version they are exact; in
        a changed document the same chunk may sit elsewhere, so there the recorded (masked)
        quote is matched against the chunk text, each placeholder standing for any text."""
        start, end = citation.start - chunk.start, citation.end - chunk.start
        placed = 0 <= start <= end <= len(chunk.text)
        if not current:
            pattern = _quote_pattern(citation.quote)
            if not (placed and pattern.fullmatch(chunk.text, start, end)):
                match = pattern.search(chunk.text) if citation.quote else None
                if match is None:
                    return None
                start, end = match.span()
        elif not placed:
            return None
        key = (chunk.chunk_id, start, end)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        text, limit = chunk.text, self._context_chars
        with self._guard.scope():  # one scope: placeholders agree across the three parts
            masked = (
                self._guard.mask_text(_tail(text[:start], limit)),
                self._guard.mask_text(text[start:end]),
                self._guard.mask_text(_head(text[end:], limit)),
            )
        if self._cache_size:
            with self._lock:
                self._cache[key] = masked
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return masked


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
