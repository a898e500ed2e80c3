"""A `ChatService` for the stand-in app (`tests/api/conftest.py` `build_harness`): cites the best
passages the principal may read.

Only the tests that need a failing service use the stand-in app (a start-up that fails, or waits
for the test: 503 not_ready; a chat service that raises or hangs: 500, 504); this is the chat
service it serves once such a start-up finishes. Behaviour tests run on the app `proofdesk serve`
builds, with the agent's pipeline (`tests/api/served_app.py`).
"""

from __future__ import annotations

import re
import uuid

from agent.types import Answer, Citation
from policies.access.principal import Principal
from retrieval.service import RetrievalRequest, RetrievalService

REFUSAL = "I cannot answer that from the sources you have access to."
_SENTENCE = re.compile(r"^.*?[.!?](?=\s|$)", re.S)


class RetrievalChat:
    def __init__(self, retrieval: RetrievalService, *, top_k: int = 2) -> None:
        self._retrieval = retrieval
        self._top_k = top_k

    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer:
        result = self._retrieval.retrieve(
            RetrievalRequest(query=question, principal=principal, top_k=self._top_k)
        )
        sentences: list[str] = []
        citations: list[Citation] = []
        for n, retrieved in enumerate(result.chunks, start=1):
            chunk = retrieved.hit.chunk
            text = " ".join(chunk.text.split())
            match = _SENTENCE.match(text)
            quote = (match.group(0) if match else text)[:300]
            sentences.append(f"{quote} [{n}]")
            citations.append(
                Citation(
                    marker=n,
                    document_id=chunk.document_id,
                    title=chunk.title,
                    source_id=chunk.source_id,
                    uri=chunk.uri,
                    chunk_id=chunk.chunk_id,
                    quote=quote,
                    start=chunk.start,
                    end=chunk.start + len(quote),
                    support=1.0,
                    document_version=chunk.document_version,
                )
            )
        return Answer(
            answer_id=uuid.uuid4().hex,
            status="answered" if citations else "refused_no_evidence",
            answer=" ".join(sentences) if citations else REFUSAL,
            citations=citations,
            conversation_id=conversation_id or uuid.uuid4().hex,
            question=question,
            policy_version=result.policy_version,
            index_version="test",
            composer="test-retrieval",
        )
