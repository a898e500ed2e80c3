"""`MaskingWorker`: traces and audit rows masked off the request path, with the real Presidio
redactor, the real Langfuse SDK exporting to an OTLP receiver on 127.0.0.1, a JSONL file and
SQLite. Nothing unmasked reaches the SDK, the file or the database; a full queue drops traces
(counted) and makes audit writes wait. Synchronisation is by events and `drain`, never sleeps."""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from sqlalchemy import text

from agent.audit.store import AuditRecord, AuditStore
from agent.tracing.jsonl import JsonlTracer
from agent.tracing.langfuse_tracer import LangfuseTracer
from agent.tracing.settings import TracingSettings
from evals.otlp_receiver import OtlpReceiver, running_receiver
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from policies.pii.masking_worker import MaskingWorker
from tests.fixtures.answers import make_answer
from tests.fixtures.counting import CountingRedactor
from tests.fixtures.pii import labelled_texts, leaked_values, make_guard
from tests.fixtures.tracing import USER_ID, simulate_request

PRINCIPAL = Principal(user_id=USER_ID, groups=frozenset({"staff"}))
AUDIT_TABLES = ("audit_answers", "audit_citations", "audit_feedback")


class Gate:
    """A job that holds the worker until released: to fill its queue, or to hold delivery."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.started.set()
        self.release.wait(timeout=120)

    def hold(self, worker: MaskingWorker) -> None:
        assert worker.submit(self, overflow="block")
        assert self.started.wait(timeout=30)


@pytest.fixture
def guard() -> PiiGuard:
    return make_guard()


@pytest.fixture
def worker() -> Iterator[MaskingWorker]:
    built = MaskingWorker(max_pending=256)
    yield built
    built.close(timeout=30)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with running_receiver() as found:
        yield found


def _langfuse(
    receiver: OtlpReceiver, guard: PiiGuard, worker: MaskingWorker, sample_rate: float = 1.0
) -> LangfuseTracer:
    key = uuid.uuid4().hex  # one SDK client state per public key and process
    settings = TracingSettings(
        langfuse_public_key=SecretStr(f"pk-lf-{key}"),
        langfuse_secret_key=SecretStr(f"sk-lf-{key}"),
        langfuse_host=receiver.base_url,
        sample_rate=sample_rate,
    )
    return LangfuseTracer(settings=settings, guard=guard, worker=worker)


def _rows_text(store: AuditStore) -> str:
    with store.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in AUDIT_TABLES
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        )


def test_no_labelled_pii_reaches_the_langfuse_receiver_through_the_worker(
    receiver: OtlpReceiver, guard: PiiGuard, worker: MaskingWorker
) -> None:
    tracer = _langfuse(receiver, guard, worker)
    try:
        samples = labelled_texts()
        trace_ids = {simulate_request(tracer, sample, n) for n, sample in enumerate(samples)}
        assert tracer.flush(timeout_seconds=60)  # drains the worker, then the SDK
    finally:
        tracer.close(timeout_seconds=10)

    assert leaked_values(receiver.raw_text()) == []
    assert USER_ID not in receiver.raw_text()
    assert {s.trace_id for s in receiver.spans} == trace_ids
    assert len(receiver.spans) == 5 * len(samples)
    assert len(receiver.scores) == 2 * len(samples)
    assert worker.stats().dropped == 0
    assert worker.stats().failed == 0


def test_spans_wait_for_the_worker_and_keep_their_real_end_times(
    receiver: OtlpReceiver, guard: PiiGuard, worker: MaskingWorker
) -> None:
    tracer = _langfuse(receiver, guard, worker)
    seen = InMemorySpanExporter()  # everything the SDK's provider ends, in process
    tracer._provider.add_span_processor(SimpleSpanProcessor(seen))
    gate = Gate()
    try:
        gate.hold(worker)
        sample = labelled_texts()[2]
        trace_id = simulate_request(tracer, sample, 3)
        returned = time.time_ns()
        tracer.client.flush()  # the SDK holds nothing it could send yet

        assert receiver.spans == []
        assert receiver.scores == []
        assert seen.get_finished_spans() == ()
        gate.release.set()
        assert tracer.flush(timeout_seconds=60)
    finally:
        gate.release.set()
        tracer.close(timeout_seconds=10)

    spans = seen.get_finished_spans()
    assert len(spans) == 5
    assert {s.name for s in receiver.spans if s.trace_id == trace_id} == {
        "answer", "retrieve", "compose", "verify", "cite",
    }  # fmt: skip
    for span in spans:  # ended when the request ended them, not when the worker ran
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time <= returned
    root = next(s for s in spans if s.parent is None)
    assert all(s.end_time is not None and s.end_time <= (root.end_time or 0) for s in spans)
    assert leaked_values(receiver.raw_text(), [*sample.values, *sample.name_parts]) == []


def test_a_trace_left_out_by_sampling_is_never_masked(
    receiver: OtlpReceiver, worker: MaskingWorker
) -> None:
    counting = CountingRedactor(make_guard().redactor)
    guard = PiiGuard(redactor=counting, pseudonymizer=make_guard())
    tracer = _langfuse(receiver, guard, worker, sample_rate=0.0)
    try:
        for n, sample in enumerate(labelled_texts()[:5]):
            simulate_request(tracer, sample, n)
        assert tracer.flush(timeout_seconds=60)
    finally:
        tracer.close(timeout_seconds=10)

    assert counting.calls == 0
    assert receiver.spans == []
    assert receiver.scores == []


def test_a_full_queue_drops_traces_counts_them_and_logs_no_value(
    receiver: OtlpReceiver, guard: PiiGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="policies.pii.masking_worker")
    worker = MaskingWorker(max_pending=1)
    tracer = _langfuse(receiver, guard, worker)
    gate = Gate()
    try:
        gate.hold(worker)
        assert worker.submit(lambda: None)  # the queue is full now
        simulate_request(tracer, labelled_texts()[0], 0)
        assert worker.stats().dropped == 1
        gate.release.set()
        assert tracer.flush(timeout_seconds=60)
        assert receiver.spans == []  # the dropped trace: nothing of it, not even bare spans
        assert receiver.scores == []

        kept = simulate_request(tracer, labelled_texts()[1], 1)  # room again: delivered
        assert tracer.flush(timeout_seconds=60)
    finally:
        gate.release.set()
        tracer.close(timeout_seconds=10)
        worker.close(timeout=30)

    assert {s.trace_id for s in receiver.spans} == {kept}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("dropped" in w for w in warnings)
    assert leaked_values("\n".join(warnings)) == []


def test_audit_rows_wait_for_room_instead_of_being_dropped(tmp_path: Path, guard: PiiGuard) -> None:
    worker = MaskingWorker(max_pending=1)
    store = AuditStore(url=f"sqlite:///{tmp_path}/audit.db", guard=guard, worker=worker)
    answer = make_answer(labelled_texts()[3].text)
    recorded = threading.Event()

    def record() -> None:
        store.record(answer, PRINCIPAL)
        recorded.set()

    gate = Gate()
    recorder = threading.Thread(target=record)
    try:
        gate.hold(worker)
        assert worker.submit(lambda: None)  # the queue is full now
        recorder.start()
        # The worker is held and its queue full: record() cannot have handed its row over.
        assert not recorded.is_set()
        gate.release.set()
        recorder.join(timeout=60)
        assert recorded.is_set()
        assert worker.drain(timeout=60)
        written = store.get(answer.answer_id)
    finally:
        gate.release.set()
        store.close()
        worker.close(timeout=30)

    assert written is not None
    assert worker.stats().dropped == 0
    assert leaked_values(repr(written)) == []


def test_reading_an_answer_back_waits_for_its_row_on_the_worker(
    tmp_path: Path, guard: PiiGuard, worker: MaskingWorker
) -> None:
    # The chat returns before the worker writes the row; its asker may read it back at once.
    store = AuditStore(url=f"sqlite:///{tmp_path}/audit.db", guard=guard, worker=worker)
    answer = make_answer("printer queue")
    read: list[AuditRecord | None] = []
    reader = threading.Thread(target=lambda: read.append(store.get(answer.answer_id)))
    gate = Gate()
    try:
        gate.hold(worker)
        store.record(answer, PRINCIPAL, owner="user:u1")
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive()  # waiting for the row, not answering "no such answer"
        gate.release.set()
        reader.join(timeout=60)
    finally:
        gate.release.set()
        store.close()
    [record] = read
    assert record is not None and record.answer_id == answer.answer_id
    assert store.asked_by(record, "user:u1")


def test_audit_rows_and_traces_share_the_request_placeholders(
    tmp_path: Path, guard: PiiGuard, worker: MaskingWorker
) -> None:
    path = tmp_path / "spans.jsonl"
    tracer = JsonlTracer(path=path, guard=guard, worker=worker)
    store = AuditStore(url=f"sqlite:///{tmp_path}/audit.db", guard=guard, worker=worker)
    samples = labelled_texts()
    ids: list[str] = []
    try:
        for sample in samples:
            with tracer.trace("answer", user_id=USER_ID, input={"question": sample.text}):
                answer = make_answer(sample.text)
                store.record(answer, PRINCIPAL)
            # Feedback right away: it waits for its answer's row if that is still queued.
            store.add_feedback(answer.answer_id, -1, f"ask {sample.text}", principal=PRINCIPAL)
            ids.append(answer.answer_id)
        assert tracer.close(timeout_seconds=60)
        dump = _rows_text(store)
        records = [store.get(answer_id) for answer_id in ids]
    finally:
        store.close()

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert leaked_values(dump) == []
    assert leaked_values(path.read_text(encoding="utf-8")) == []
    assert "jane.doe" not in dump
    assert len(lines) == len(samples)
    questions = []
    for line, record in zip(lines, records, strict=True):
        assert record is not None
        assert line["input"] == {"question": record.question}  # one scope: same placeholders
        questions.append(record.question)
    assert sum("<PERSON_1>" in q for q in questions) >= 10


def test_a_duplicate_answer_is_logged_not_written_with_a_worker(
    tmp_path: Path, guard: PiiGuard, worker: MaskingWorker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="agent.audit.store")
    store = AuditStore(url=f"sqlite:///{tmp_path}/audit.db", guard=guard, worker=worker)
    try:
        store.record(make_answer("first", answer_id="same"), PRINCIPAL)
        store.record(make_answer(labelled_texts()[4].text, answer_id="same"), PRINCIPAL)
        assert worker.drain(timeout=60)
        record = store.get("same")
    finally:
        store.close()

    assert record is not None
    assert record.question == "first"
    assert "answer same is recorded already" in caplog.text
    assert leaked_values(caplog.text) == []


def test_jsonl_lines_wait_for_the_worker_and_keep_their_real_times(
    tmp_path: Path, guard: PiiGuard, worker: MaskingWorker
) -> None:
    path = tmp_path / "spans.jsonl"
    tracer = JsonlTracer(path=path, guard=guard, worker=worker)
    samples = labelled_texts()[:6]
    gate = Gate()
    try:
        gate.hold(worker)
        for n, sample in enumerate(samples):
            simulate_request(tracer, sample, n)
        returned = datetime.now(UTC)

        assert path.read_text(encoding="utf-8") == ""  # the worker is held: nothing written
        assert not tracer.flush(timeout_seconds=0)  # and a flush cannot drain it
        gate.release.set()
        assert tracer.close(timeout_seconds=60)
    finally:
        gate.release.set()

    written = path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in written.splitlines()]
    assert len(lines) == 5 * len(samples)
    assert leaked_values(written, [v for s in samples for v in (*s.values, *s.name_parts)]) == []
    assert all(datetime.fromisoformat(line["end"]) <= returned for line in lines)
    assert sum(line["level"] == "ERROR" for line in lines) == len(samples)


def test_a_failing_job_is_counted_logged_without_its_message_and_the_worker_goes_on(
    worker: MaskingWorker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="policies.pii.masking_worker")
    ran = threading.Event()

    def fails() -> None:
        raise ValueError("no account for maria.gonzalez@contoso.com")

    worker.submit(fails)
    worker.submit(ran.set)
    assert worker.drain(timeout=30)

    assert ran.is_set()
    assert worker.stats().failed == 1
    assert "ValueError" in caplog.text
    assert "maria" not in caplog.text


def test_close_drains_in_order_then_blocking_jobs_run_in_the_caller() -> None:
    worker = MaskingWorker(max_pending=4)
    done: list[object] = []
    for i in range(20):
        worker.submit(functools.partial(done.append, i), overflow="block")
    assert worker.close(timeout=30)
    assert done == list(range(20))

    assert worker.submit(lambda: done.append("late audit row"), overflow="block")
    assert done[-1] == "late audit row"  # ran in the caller: never lost
    assert not worker.submit(lambda: done.append("late trace"))
    assert worker.stats().dropped == 1
    assert worker.close(timeout=1)  # idempotent


def test_a_job_cannot_wait_for_its_own_worker(worker: MaskingWorker) -> None:
    worker.submit(lambda: worker.drain(timeout=1))
    assert worker.drain(timeout=30)
    assert worker.stats().failed == 1
    with pytest.raises(ValueError, match="at least 1"):
        MaskingWorker(max_pending=0)
