"""`SearchApi`: what `POST /v1/search` calls - the passages a user would retrieve, ranked.

The same retrieval the answer pipeline runs, for the same principal: the access policy is
reloaded when it changed (`RetrievalService.retrieve` calls `maybe_reload`, as chat does) and
compiled into the query, so a passage of a document the asker may not read is never fetched,
and each hit is checked again after the search. Passages come back as indexed, as chat
citations' quotes do: the asker may read them. The query is not stored; logs are masked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import anyio.to_thread

from api.auth import Identity
from api.errors import InvalidRequestError
from api.schemas import PassageOut, SearchRequest, SearchResponse
from retrieval.records import SearchFilters
from retrieval.service import RetrievalRequest, RetrievalResult, RetrievalService

__all__ = ["SearchApi"]


class SearchApi:
    def __init__(
        self,
        *,
        retrieval: Callable[[], RetrievalService],
        source_ids: Callable[[], Iterable[str]],
        max_query_chars: int,
    ) -> None:
        """`retrieval`: the served retrieval service (raises `NotReadyError` while starting);
        `source_ids`: the approved sources, to refuse a filter on an unknown one."""
        self._retrieval = retrieval
        self._source_ids = source_ids
        self._max_chars = max_query_chars

    async def search(self, request: SearchRequest, identity: Identity) -> SearchResponse:
        identity = identity.end_user()  # an act_as key must name its end user, as for chat
        query = request.query.strip()
        if not query:
            raise InvalidRequestError("the query is empty", code="empty_query")
        if len(query) > self._max_chars:
            raise InvalidRequestError(
                f"the query is longer than {self._max_chars} characters", code="query_too_long"
            )
        if request.source:
            known = set(self._source_ids())
            if unknown := sorted(set(request.source) - known):
                raise InvalidRequestError(
                    f"unknown source {', '.join(unknown)}: the sources are "
                    f"{', '.join(sorted(known))}",
                    code="unknown_source",
                )
        work = functools.partial(self._search_blocking, query, request, identity)
        result = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        return SearchResponse(
            policy_version=result.policy_version,
            passages=[
                PassageOut(
                    rank=c.rank,
                    score=round(c.hit.score, 6),
                    chunk_id=c.hit.chunk.chunk_id,
                    document_id=c.hit.chunk.document_id,
                    source_id=c.hit.chunk.source_id,
                    title=c.hit.chunk.title,
                    heading_path=list(c.hit.chunk.heading_path),
                    uri=c.hit.chunk.uri,
                    doc_type=c.hit.chunk.doc_type,
                    text=c.hit.chunk.text,
                    allowed_by=list(c.allowed_by),
                )
                for c in result.chunks
            ],
        )

    def _search_blocking(
        self, query: str, request: SearchRequest, identity: Identity
    ) -> RetrievalResult:
        retrieval = self._retrieval()  # 503 until the index is open
        filters = SearchFilters(
            source_ids=frozenset(request.source) if request.source else None,
            doc_types=frozenset(request.type) if request.type else None,
        )
        # `retrieve` reloads a changed policy first, then filters by it (as chat retrieval).
        return retrieval.retrieve(
            RetrievalRequest(
                query=query,
                principal=identity.principal,
                top_k=request.top_k,
                mode=request.mode,
                filters=filters,
            )
        )
