"""Search: the passages a user would retrieve for a query, ranked, filtered by their access."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ChatIdentity, SearchApiDep
from api.errors import error_responses
from api.schemas import SearchRequest, SearchResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["search"])


@router.post(
    "/search",
    summary="The passages a user may read that best match a query (no answer composed)",
    description="Runs the retrieval that chat runs, as the asker: the access policy in force "
    "now (a changed policy is reloaded first) decides which documents are searched, and each "
    "passage is re-checked against it. Passages come back as indexed, as chat citations' "
    "quotes do (the asker may read them). An empty query (`empty_query`) or an unknown "
    "`source` (`unknown_source`) is refused with 422.",
    responses=error_responses(400, 401, 403, 413, 422, 429, 503, 504),
)
async def search(
    body: SearchRequest, identity: ChatIdentity, service: SearchApiDep
) -> SearchResponse:
    return await service.search(body, identity)
