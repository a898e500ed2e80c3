"""A llama-index `BaseRetriever` over `RetrievalService`, bound to one principal.

It lets llama-index query engines and tools use Proofdesk's permission-filtered retrieval
unchanged: the principal is fixed when the retriever is made (one per request), so nothing a
llama-index component does can widen what it reads.
"""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from policies.access.principal import Principal
from retrieval.records import SearchFilters
from retrieval.service import RetrievalRequest, RetrievalService

__all__ = ["PermissionedRetriever"]


class PermissionedRetriever(BaseRetriever):
    def __init__(
        self,
        *,
        service: RetrievalService,
        principal: Principal,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
    ) -> None:
        super().__init__()
        self._service = service
        self._principal = principal
        self._top_k = top_k
        self._filters = filters
        self.last_policy_version: str | None = None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._service.retrieve(
            RetrievalRequest(
                query=query_bundle.query_str,
                principal=self._principal,
                top_k=self._top_k,
                filters=self._filters,
            )
        )
        self.last_policy_version = result.policy_version
        nodes: list[NodeWithScore] = []
        for item in result.chunks:
            chunk = item.hit.chunk
            node = TextNode(
                id_=chunk.chunk_id,
                text=chunk.text,
                start_char_idx=chunk.start,
                end_char_idx=chunk.end,
                metadata={
                    "document_id": chunk.document_id,
                    "source_id": chunk.source_id,
                    "title": chunk.title,
                    "heading_path": " › ".join(chunk.heading_path),
                    "uri": chunk.uri,
                    "document_version": chunk.document_version,
                    "allowed_by": ", ".join(item.allowed_by),
                },
                excluded_embed_metadata_keys=["allowed_by", "document_version", "uri"],
                excluded_llm_metadata_keys=["allowed_by", "document_version"],
            )
            nodes.append(NodeWithScore(node=node, score=item.hit.score))
        return nodes
