"""The real Langfuse SDK exporting to a real OTLP/HTTP receiver on 127.0.0.1: nothing of the
labelled PII sample arrives, whatever the pipeline hands the tracer."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langfuse._client.resource_manager import LangfuseResourceManager
from pydantic import SecretStr

from agent.tracing.build import build_tracer
from agent.tracing.jsonl import JsonlTracer
from agent.tracing.langfuse_tracer import LangfuseTracer
from agent.tracing.port import NoopTracer, Tracer
from agent.tracing.settings import TracingSettings
from evals.otlp_receiver import OtlpReceiver, running_receiver
from policies.pii.guard import PiiGuard
from tests.fixtures.pii import labelled_texts, leaked_values, make_guard
from tests.fixtures.tracing import USER_ID, simulate_request


@pytest.fixture
def guard() -> PiiGuard:
    return make_guard()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with running_receiver() as found:
        yield found


def _settings(host: str, **overrides: object) -> TracingSettings:
    # A unique public key per tracer: the SDK keeps one client state per key and process.
    key = uuid.uuid4().hex
    values: dict[str, object] = {
        "langfuse_public_key": SecretStr(f"pk-lf-{key}"),
        "langfuse_secret_key": SecretStr(f"sk-lf-{key}"),
        "langfuse_host": host,
        **overrides,
    }
    return TracingSettings.model_validate(values)


@pytest.fixture
def tracer(receiver: OtlpReceiver, guard: PiiGuard) -> Iterator[LangfuseTracer]:
    built = LangfuseTracer(settings=_settings(receiver.base_url), guard=guard)
    yield built
    built.close(timeout_seconds=10)


def _as_port(langfuse: LangfuseTracer, jsonl: JsonlTracer) -> tuple[Tracer, Tracer]:
    """Checked by mypy: both adapters implement the pipeline's `Tracer` port."""
    return langfuse, jsonl


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_no_labelled_pii_reaches_the_langfuse_receiver(
    tracer: LangfuseTracer, receiver: OtlpReceiver, guard: PiiGuard
) -> None:
    samples = labelled_texts()
    trace_ids = {simulate_request(tracer, sample, n) for n, sample in enumerate(samples)}

    assert tracer.flush(timeout_seconds=30)
    assert leaked_values(receiver.raw_text()) == []
    assert USER_ID not in receiver.raw_text()
    assert {s.trace_id for s in receiver.spans} == trace_ids
    assert len(receiver.spans) == 5 * len(samples)
    assert len(receiver.scores) == 2 * len(samples)


def test_trace_carries_pseudonymous_user_session_generation_and_scores(
    tracer: LangfuseTracer, receiver: OtlpReceiver, guard: PiiGuard
) -> None:
    trace_id = simulate_request(tracer, labelled_texts()[2], 7)
    assert tracer.flush(timeout_seconds=30)

    spans = {s.name: s for s in receiver.spans if s.trace_id == trace_id}
    assert set(spans) == {"answer", "retrieve", "compose", "verify", "cite"}
    root = spans["answer"]
    assert root.parent_span_id == ""
    assert all(s.parent_span_id == root.span_id for n, s in spans.items() if n != "answer")
    for span in spans.values():
        assert span.attributes["user.id"] == guard.pseudonymize(USER_ID)
        assert span.attributes["session.id"] == "c-0007f"
    generation = spans["compose"].attributes
    assert generation["langfuse.observation.type"] == "generation"
    assert generation["langfuse.observation.model.name"] == "test-model"
    assert json.loads(str(generation["langfuse.observation.usage_details"])) == {
        "input": 120,
        "output": 30,
        "total": 150,
    }
    assert json.loads(str(generation["langfuse.observation.cost_details"])) == {"total": 0.00042}
    assert generation["langfuse.observation.metadata.prompt_id"] == '"answer"'
    assert generation["langfuse.observation.metadata.prompt_version"] == '"2"'
    failed = spans["cite"].attributes
    assert failed["langfuse.observation.level"] == "ERROR"
    assert str(failed["langfuse.observation.status_message"]).startswith("ValueError: could not")
    assert spans["cite"].events == []  # no raw exception event
    scores = {s["name"]: s for s in receiver.scores if s["traceId"] == trace_id}
    assert scores["support"]["value"] == 0.9
    assert scores["status"]["value"] == "answered"
    assert all(a.startswith("Basic ") for a in receiver.authorizations)


def test_sdk_mask_hook_masks_what_bypasses_the_tracer(
    tracer: LangfuseTracer, receiver: OtlpReceiver
) -> None:
    """The last line of defence: a raw value handed straight to the SDK is still masked."""
    samples = labelled_texts()[:10]
    for sample in samples:
        with tracer.client.start_as_current_observation(
            name="raw", input={"question": sample.text}, metadata={"note": sample.text}
        ) as observation:
            observation.update(output=[sample.text])
    assert tracer.flush(timeout_seconds=30)

    assert len(receiver.spans_named("raw")) == len(samples)
    assert leaked_values(receiver.raw_text(), [v for s in samples for v in s.values]) == []


def test_sample_rate_zero_exports_nothing(receiver: OtlpReceiver, guard: PiiGuard) -> None:
    tracer = LangfuseTracer(settings=_settings(receiver.base_url, sample_rate=0.0), guard=guard)
    try:
        simulate_request(tracer, labelled_texts()[0], 0)
        assert tracer.flush(timeout_seconds=30)
    finally:
        tracer.close(timeout_seconds=10)
    assert receiver.spans == []
    assert receiver.scores == []


def test_without_keys_tracing_is_off_cleanly(
    guard: PiiGuard, receiver: OtlpReceiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clients_before = dict(LangfuseResourceManager._instances)
    caplog.set_level(logging.DEBUG)

    off = build_tracer(TracingSettings(langfuse_host=receiver.base_url), guard=guard)
    assert isinstance(off, NoopTracer)
    with off.trace("answer", user_id=USER_ID, input={"question": "q"}) as root, off.span("step"):
        root.set_output("a")
    jsonl = build_tracer(TracingSettings(jsonl_path=tmp_path / "traces.jsonl"), guard=guard)
    assert isinstance(jsonl, JsonlTracer)
    for n, sample in enumerate(labelled_texts()[:5]):
        simulate_request(jsonl, sample, n)
    jsonl.close()

    assert LangfuseResourceManager._instances == clients_before  # no SDK client was built
    assert receiver.raw_bodies == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    with pytest.raises(ValueError, match="needs langfuse_public_key"):
        LangfuseTracer(settings=TracingSettings(), guard=guard)


def test_keys_must_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="both"):
        TracingSettings(langfuse_public_key=SecretStr("pk-only"))


def test_unreachable_host_neither_blocks_spans_nor_close(guard: PiiGuard) -> None:
    """Spans are created and closed while nothing listens; close() returns within its bound.
    (How long span creation takes is a benchmark figure, not asserted here.)"""
    host = f"http://127.0.0.1:{_closed_port()}"
    tracer = LangfuseTracer(
        settings=_settings(host, export_timeout_seconds=1, flush_interval_seconds=0.1),
        guard=guard,
    )
    trace_ids = [simulate_request(tracer, sample, n) for n, sample in enumerate(labelled_texts())]
    assert len(set(trace_ids)) == len(labelled_texts())

    delivered = tracer.close(timeout_seconds=2.0)

    assert isinstance(delivered, bool)
    assert tracer.close(timeout_seconds=2.0) is True  # a second close is a no-op


def test_jsonl_tracer_writes_masked_linked_spans(guard: PiiGuard, tmp_path: Path) -> None:
    path = tmp_path / "traces" / "spans.jsonl"
    tracer = JsonlTracer(path=path, guard=guard)
    samples = labelled_texts()
    for n, sample in enumerate(samples):
        simulate_request(tracer, sample, n)
    tracer.close()

    text = path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert leaked_values(text) == []
    assert leaked_values(json.dumps(lines, ensure_ascii=False)) == []
    assert USER_ID not in text
    assert len(lines) == 5 * len(samples)
    roots = [line for line in lines if line["kind"] == "trace"]
    assert len(roots) == len(samples)
    root = roots[0]
    children = [line for line in lines if line["parent_id"] == root["span_id"]]
    assert {c["name"] for c in children} == {"retrieve", "compose", "verify", "cite"}
    assert root["user_id"] == guard.pseudonymize(USER_ID)
    assert root["session_id"] == "c-0000f"
    assert {s["name"] for s in root["scores"]} == {"support", "status"}
    generation = next(c for c in children if c["kind"] == "generation")
    assert generation["usage"] == {"input": 120, "output": 30, "total": 150}
    assert generation["attributes"]["prompt_version"] == "2"
    failed = next(c for c in children if c["name"] == "cite")
    assert failed["level"] == "ERROR"
