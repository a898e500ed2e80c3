"""The JSON shape of an answer: what the CLI prints and the API returns."""

from __future__ import annotations

import json

from agent.serialize import answer_to_dict
from agent.types import Answer, Citation, TokenUsage
from api.schemas import ChatResponse

ANSWER = Answer(
    answer_id="a1",
    status="answered",
    answer="Jobs wait for 24 hours. [1]",
    citations=[
        Citation(
            marker=1,
            document_id="it-kb:printer-setup.md",
            title="Printing at the office",
            source_id="it-kb",
            uri="file:///kb/it/printer-setup.md",
            chunk_id="c1",
            quote="Jobs wait for **24 hours**.",
            start=120,
            end=147,
            support=1.0,
            document_version="v1",
        )
    ],
    conversation_id="conv1",
    question="How long do print jobs wait?",
    policy_version="p1",
    index_version="i1",
    composer="extractive",
    usage=TokenUsage(prompt_tokens=3, completion_tokens=4, cost_usd=0.5),
    timings_ms={"retrieve": 1.23456, "total": 5.0},
    flags=("follow_up_condensed",),
    trace_id="t1",
)


def test_the_answer_json_has_the_api_response_fields_in_order() -> None:
    data = answer_to_dict(ANSWER)
    assert list(data) == list(ChatResponse.model_fields)
    assert data["citations"] == [
        {
            "marker": 1,
            "document_id": "it-kb:printer-setup.md",
            "title": "Printing at the office",
            "source_id": "it-kb",
            "uri": "file:///kb/it/printer-setup.md",
            "chunk_id": "c1",
            "quote": "Jobs wait for **24 hours**.",
            "start": 120,
            "end": 147,
            "support": 1.0,
            "document_version": "v1",
        }
    ]
    assert data["flags"] == ["follow_up_condensed"]


def test_the_api_response_serialises_to_the_same_json() -> None:
    api = ChatResponse.of(ANSWER).model_dump(mode="json")
    assert api == answer_to_dict(ANSWER)


def test_diagnostics_add_question_usage_and_timings() -> None:
    data = answer_to_dict(ANSWER, diagnostics=True)
    assert data["question"] == "How long do print jobs wait?"
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "cost_usd": 0.5}
    assert data["timings_ms"] == {"retrieve": 1.235, "total": 5.0}
    assert json.loads(json.dumps(data)) == data
