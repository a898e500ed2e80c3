"""`answer_to_dict`: the JSON shape of an answer, as `proofdesk ask --json` and the API return it.

The keys and their order match the API's `ChatResponse`; `diagnostics=True` adds what an
operator debugging one answer wants (question, timings, usage, prompt id) and is never used
for the public API.
"""

from __future__ import annotations

from agent.types import Answer, Citation

__all__ = ["answer_to_dict", "citation_to_dict"]


def citation_to_dict(citation: Citation) -> dict[str, object]:
    return {
        "marker": citation.marker,
        "document_id": citation.document_id,
        "title": citation.title,
        "source_id": citation.source_id,
        "uri": citation.uri,
        "chunk_id": citation.chunk_id,
        "quote": citation.quote,
        "start": citation.start,
        "end": citation.end,
        "support": citation.support,
        "document_version": citation.document_version,
    }


def answer_to_dict(answer: Answer, *, diagnostics: bool = False) -> dict[str, object]:
    """A JSON-ready dict (str, int, float, None, lists and dicts only)."""
    data: dict[str, object] = {
        "answer_id": answer.answer_id,
        "status": answer.status,
        "answer": answer.answer,
        "citations": [citation_to_dict(c) for c in answer.citations],
        "conversation_id": answer.conversation_id,
        "trace_id": answer.trace_id,
        "handoff_summary": answer.handoff_summary,
        "composer": answer.composer,
        "policy_version": answer.policy_version,
        "index_version": answer.index_version,
        "flags": list(answer.flags),
    }
    if diagnostics:
        data["question"] = answer.question
        data["prompt_id"] = answer.prompt_id
        data["prompt_version"] = answer.prompt_version
        data["usage"] = {
            "prompt_tokens": answer.usage.prompt_tokens,
            "completion_tokens": answer.usage.completion_tokens,
            "cost_usd": answer.usage.cost_usd,
        }
        data["timings_ms"] = {k: round(v, 3) for k, v in answer.timings_ms.items()}
    return data
