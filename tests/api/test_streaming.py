"""Streaming over a real socket: the app as `proofdesk serve` builds it, uvicorn on 127.0.0.1
(`tests/fixtures/served_app.py`), httpx and the OpenAI SDK as clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fixtures.credentials import bearer, make_token
from tests.fixtures.served_app import STAFF_QUESTION, ServedApp

QUESTION = STAFF_QUESTION


def _events(lines: Iterator[str]) -> list[tuple[str | None, str]]:
    """Parse `text/event-stream` into (event, data) pairs."""
    events: list[tuple[str | None, str]] = []
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                events.append((event, "\n".join(data)))
            event, data = None, []
        elif line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].strip())
    if data:
        events.append((event, "\n".join(data)))
    return events


def test_sse_stream_sends_deltas_then_citations_then_done(
    served: ServedApp,
) -> None:
    headers = bearer(make_token("bob"))
    with httpx.Client(base_url=served.url, timeout=30) as http:
        with http.stream(
            "POST", "/v1/chat/stream", json={"question": QUESTION}, headers=headers
        ) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-cache"
            assert len(r.headers["X-Request-ID"]) >= 8
            events = _events(r.iter_lines())
        kinds = [kind for kind, _ in events]
        n_deltas = kinds.count("delta")
        assert n_deltas >= 1
        assert kinds == ["delta"] * n_deltas + ["citations", "done"]
        done = json.loads(events[-1][1])
        assert done["status"] == "answered"
        assert set(done) == {"status", "answer_id", "conversation_id", "trace_id"}
        # What was streamed is exactly the verified answer recorded under that id.
        stored = http.get(f"/v1/answers/{done['answer_id']}", headers=headers).json()
    text = "".join(json.loads(data)["text"] for kind, data in events if kind == "delta")
    assert text == stored["answer"]
    assert json.loads(events[-2][1])["citations"] == stored["citations"]


def test_stream_errors_are_plain_json_statuses(served: ServedApp) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        r = http.post("/v1/chat/stream", json={"question": QUESTION})
        assert r.status_code == 401 and r.json()["error"]["code"] == "missing_credentials"
        r = http.post("/v1/chat/stream", json={"question": ""}, headers=served.auth("chat"))
        assert r.status_code == 422 and r.headers["content-type"] == "application/json"


def test_openai_stream_over_http(served: ServedApp) -> None:
    body: dict[str, Any] = {
        "model": "proofdesk",
        "messages": [{"role": "user", "content": QUESTION}],
    }
    headers = bearer(make_token("bob"))
    with (
        httpx.Client(base_url=served.url, timeout=30) as http,
        http.stream(
            "POST", "/v1/chat/completions", json=body | {"stream": True}, headers=headers
        ) as r,
    ):
        assert r.status_code == 200
        events = _events(r.iter_lines())
    assert all(kind is None for kind, _ in events)
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    answer = last["proofdesk"]
    assert content.startswith(answer["answer"] + "\n\n")
    for c in answer["citations"]:
        assert f"[{c['marker']}]: <{c['uri']}>" in content
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_the_openai_sdk_works_unchanged(served: ServedApp) -> None:
    client = openai.OpenAI(
        base_url=f"{served.url}/v1", api_key=served.keys["act_as"], max_retries=0
    )
    client = client.with_options(default_headers={"X-Proofdesk-User": "bob"})
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    completion = client.chat.completions.create(model="proofdesk", messages=messages)
    content = completion.choices[0].message.content
    assert content and "[1]" in content
    extension = (completion.model_extra or {})["proofdesk"]
    assert extension["status"] == "answered" and extension["citations"]
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="proofdesk", messages=messages, stream=True
        )
        if chunk.choices
    )
    assert "[1]" in streamed and "\n\n[1]: <" in streamed
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{served.url}/v1", api_key="pdk_wrong", max_retries=0
        ).chat.completions.create(model="proofdesk", messages=messages)


def test_end_to_end_sync_over_http(served: ServedApp) -> None:
    with served.client() as http:
        r = http.post("/v1/sources/staff-kb/sync", headers=served.auth("ops"))
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert served.sync.wait(job_id, timeout=120).status == "succeeded"
        job = http.get(r.headers["Location"], headers=served.auth("ops")).json()
        assert job["status"] == "succeeded" and job["trigger"] == "api"
        assert http.get("/readyz").status_code == 200
        metrics = http.get("/metrics").text
        assert 'route="/v1/sources/{source_id}/sync",status="202"' in metrics
