"""Benchmark: what masking adds to a chat request (budget: 20 ms at p95), and what it costs.

One request is what the pipeline hands the tracer and the audit store: a trace (question as
input, a span per step with a few attributes, a generation whose input is the 5 evidence
snippets and whose output is the answer, an output and a score on the root) and an audit row
(question, answer, 2 citations with their quotes). The same request through a guard whose
redactor masks nothing is the unmasked baseline; the added latency is the per-request
difference, each masked request paired with its unmasked twin run just before it.

Three cases:
- `cold`: every text is new (a unique reference is added to each): nothing is cached.
- `warm_evidence`: the question is new; evidence snippets, quotes and answer sentences were
  seen by earlier requests (the answer cites them in a new combination). The realistic case:
  answers and quotes come from indexed chunks.
- `repeated`: the very same request was served before.

Two modes:
- `inline`: no worker; the trace and the audit row are masked in the request.
- `worker`: one `MaskingWorker` masks and delivers both off the request path. Latency is
  measured with the worker idle when a request starts (it is drained between requests); the
  CPU figure includes the worker's work. `warm_evidence_back_to_back` does not drain between
  requests: the worker masks one request while the next runs (contention for the GIL).

`added_ms` is wall time, so it grows with the machine's load (reported as `load_1m`);
`added_request_cpu_ms` is the request thread's own added CPU time, i.e. the added latency on an
otherwise idle core. `cpu_ms` is process CPU time per request (all threads, the worker's
included) and `added` its masked-minus-unmasked difference: at 50 requests/s on 2 cores a
request has 40 ms of CPU in all; `masking_capacity_rps_per_core` is how many requests/s one
thread (the worker is one) can mask. The tracer is a real `LangfuseTracer` whose host is a
closed port on 127.0.0.1 (exports fail in the background, their errors are silenced), the
audit store SQLite in a temporary directory.

    python -m evals.bench.masking [--requests 60] [--engine spacy|patterns]
                                  [--mode inline|worker|both] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from agent.audit.store import AuditStore
from agent.tracing.langfuse_tracer import LangfuseTracer
from agent.tracing.settings import TracingSettings
from agent.types import Answer, Citation, TokenUsage
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from policies.pii.masking_session import MaskingSession
from policies.pii.masking_worker import MaskingWorker
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from policies.pii.types import PiiFinding

__all__ = ["BUDGET_P95_MS", "CASES", "MODES", "BenchRequest", "bench_rows", "main", "run"]

BUDGET_P95_MS = 20.0
Case = Literal["cold", "warm_evidence", "repeated"]
Mode = Literal["inline", "worker"]
CASES: tuple[Case, ...] = ("cold", "warm_evidence", "repeated")
MODES: tuple[Mode, ...] = ("inline", "worker")
_REPO = Path(__file__).resolve().parents[2]
_PII_SAMPLE = _REPO / "tests" / "policies" / "data" / "pii_sample.json"
_KB = _REPO / "kb"
_SNIPPET_CHARS = 400
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PRINCIPAL = Principal(user_id="jane.doe@example.com", groups=frozenset({"staff"}))


@dataclass(frozen=True)
class BenchRequest:
    question: str
    evidence: tuple[str, ...]  # 5 snippets
    sentences: tuple[str, str]  # the cited sentences: the answer and the quotes

    @property
    def answer(self) -> str:
        return f"{self.sentences[0]} [1] {self.sentences[1]} [2]"

    @property
    def chars(self) -> int:
        return (
            len(self.question) + len(self.answer) + sum(map(len, (*self.evidence, *self.sentences)))
        )


class _NoRedactor:
    """Masks nothing: the unmasked baseline through the same code path."""

    @property
    def entities(self) -> frozenset[str]:
        return frozenset()

    def find(self, text: str) -> list[PiiFinding]:
        return []

    def mask(self, text: str, *, session: MaskingSession | None = None) -> str:
        return text


@dataclass
class _Rig:
    """A tracer and an audit store over one guard, with or without a worker."""

    tracer: LangfuseTracer
    store: AuditStore
    worker: MaskingWorker | None

    def serve(self, request: BenchRequest) -> None:
        """What the pipeline hands the tracer and the recorder for one answer."""
        tracer = self.tracer
        with tracer.trace(
            "answer", user_id=_PRINCIPAL.user_id, conversation_id=uuid.uuid4().hex,
            input=request.question,
        ) as root:  # fmt: skip
            with tracer.span("screen") as span:
                span.set(injection_reasons=[], human_requested=False)
            with tracer.span("retrieve") as span:
                span.set(chunks=len(request.evidence), policy_version="policy-3")
            with tracer.generation(
                "compose",
                model="local/answer-model",
                prompt_id="answer",
                prompt_version="2",
                input=[{"role": "user", "content": request.question}]
                + [{"role": "user", "content": e} for e in request.evidence],
            ) as llm:
                llm.record(output=request.answer, prompt_tokens=600, completion_tokens=60)
            with tracer.span("verify") as span:
                span.set(kept=2, dropped=0, answer_score=0.81)
            with tracer.span("decide") as span:
                span.set(status="answered", reason="answered")
            with tracer.span("record"):
                self.store.record(_answer(request, root.trace_id), _PRINCIPAL)
            root.set_output({"status": "answered", "citations": 2})
            root.score("answer_score", 0.81)

    def settle(self) -> None:
        if self.worker is not None:
            self.worker.drain()


def _answer(request: BenchRequest, trace_id: str) -> Answer:
    citations = [
        Citation(
            marker=n,
            document_id=f"kb/doc-{n}",
            title="Knowledge base article",
            source_id="kb",
            uri=f"file:///kb/doc-{n}.md",
            chunk_id=f"kb/doc-{n}#{n}",
            quote=quote,
            start=0,
            end=len(quote),
            support=0.8,
            document_version=f"sha256:{n:04d}",
        )
        for n, quote in enumerate(request.sentences, 1)
    ]
    return Answer(
        answer_id=uuid.uuid4().hex,
        status="answered",
        answer=request.answer,
        citations=citations,
        conversation_id="c-7f9e",
        question=request.question,
        policy_version="policy-3",
        index_version="index-9",
        composer="extractive",
        prompt_id=None,
        prompt_version=None,
        handoff_summary=None,
        usage=TokenUsage(prompt_tokens=0, completion_tokens=0, cost_usd=0.0),
        flags=(),
        trace_id=trace_id or None,
    )


def _passages() -> list[tuple[str, list[str]]]:
    """~400-character snippets of the bundled knowledge base, cut at sentence ends, with their
    sentences."""
    passages: list[tuple[str, list[str]]] = []
    for path in sorted(_KB.rglob("*.md")):
        sentences = _SENTENCE_END.split(" ".join(path.read_text("utf-8").split()))
        chunk: list[str] = []
        for sentence in sentences:
            chunk.append(sentence)
            if sum(map(len, chunk)) >= _SNIPPET_CHARS:
                passages.append((" ".join(chunk), [s for s in chunk if len(s) >= 40]))
                chunk = []
    return [(text, cited) for text, cited in passages if len(cited) >= 2]


def _requests(n: int, tag: str) -> list[BenchRequest]:
    """`n` requests with questions of the labelled PII sample made unique by `tag`."""
    questions = [row["full_text"] for row in json.loads(_PII_SAMPLE.read_text("utf-8"))]
    passages = _passages()
    requests = []
    for i in range(n):
        evidence = [passages[(i * 5 + k) % len(passages)] for k in range(5)]
        requests.append(
            BenchRequest(
                question=f"{questions[i % len(questions)]} ({tag} {i})",
                evidence=tuple(text for text, _ in evidence),
                sentences=(evidence[0][1][0], evidence[1][1][-1]),
            )
        )
    return requests


def _fresh(request: BenchRequest, tag: str) -> BenchRequest:
    """The request with every text made new (the cold case)."""
    return replace(
        request,
        evidence=tuple(f"{e} Ref {tag}-e{k}." for k, e in enumerate(request.evidence)),
        sentences=(
            f"{request.sentences[0]} Ref {tag}-s1.",
            f"{request.sentences[1]} Ref {tag}-s2.",
        ),
    )


def _earlier(request: BenchRequest, tag: str) -> BenchRequest:
    """An earlier request with another question citing the same sentences, in another order."""
    return replace(
        request,
        question=f"Earlier question {tag}: how do I fix this?",
        sentences=(request.sentences[1], request.sentences[0]),
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def _rig(guard: PiiGuard, *, worker: bool, directory: Path) -> Iterator[_Rig]:
    key = secrets.token_hex(8)
    masking_worker = MaskingWorker(max_pending=4096) if worker else None
    tracer = LangfuseTracer(
        settings=TracingSettings(
            langfuse_public_key=SecretStr(f"pk-bench-{key}"),
            langfuse_secret_key=SecretStr(f"sk-bench-{key}"),
            langfuse_host=f"http://127.0.0.1:{_closed_port()}",
            export_timeout_seconds=1,
        ),
        guard=guard,
        worker=masking_worker,
    )
    store = AuditStore(
        url=f"sqlite:///{directory}/audit-{key}.db", guard=guard, worker=masking_worker
    )
    try:
        yield _Rig(tracer=tracer, store=store, worker=masking_worker)
    finally:
        tracer.close(timeout_seconds=2.0)
        store.close()
        if masking_worker is not None:
            masking_worker.close(timeout=30)


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p95": round(p95, 3)}


def _timed(rig: _Rig, request: BenchRequest, *, settle: bool) -> tuple[float, float, float]:
    """(request ms, request-thread CPU ms, process CPU ms including the worker's share)."""
    cpu, thread_cpu = time.process_time(), time.thread_time()
    started = time.perf_counter()
    rig.serve(request)
    elapsed = (time.perf_counter() - started) * 1000.0
    thread_ms = (time.thread_time() - thread_cpu) * 1000.0
    if settle:
        rig.settle()
    return elapsed, thread_ms, (time.process_time() - cpu) * 1000.0


def _prepared(masked: _Rig, case: Case, n: int, tag: str) -> list[BenchRequest]:
    requests = _requests(n, tag)
    if case == "cold":
        requests = [_fresh(r, f"{tag}-{i}") for i, r in enumerate(requests)]
    elif case == "warm_evidence":
        for i, request in enumerate(requests):
            masked.serve(_earlier(request, f"{tag}-{i}"))
    else:
        for request in requests:
            masked.serve(request)
    masked.settle()
    return requests


def _case(
    masked: _Rig, plain: _Rig, case: Case, n: int, *, tag: str, back_to_back: bool = False
) -> dict[str, object]:
    """Each request unmasked, then masked. `back_to_back`: the worker is not drained between
    requests, so it masks one request while the next runs (CPU is then not per request)."""
    requests = _prepared(masked, case, n, tag)
    walls: dict[str, list[float]] = {"plain": [], "masked": []}
    threads: dict[str, list[float]] = {"plain": [], "masked": []}
    cpus: dict[str, list[float]] = {"plain": [], "masked": []}
    for request in requests:
        for name, rig in (("plain", plain), ("masked", masked)):
            wall, thread_ms, cpu = _timed(rig, request, settle=not back_to_back)
            walls[name].append(wall)
            threads[name].append(thread_ms)
            cpus[name].append(cpu)
    masked.settle()
    plain.settle()
    added = [m - u for m, u in zip(walls["masked"], walls["plain"], strict=True)]
    added_thread = [m - u for m, u in zip(threads["masked"], threads["plain"], strict=True)]
    figures: dict[str, object] = {
        "unmasked_ms": _percentiles(walls["plain"]),
        "masked_ms": _percentiles(walls["masked"]),
        "added_ms": _percentiles(added),
        # The request thread's own added CPU: the added latency on an otherwise idle core.
        "added_request_cpu_ms": _percentiles(added_thread),
        "within_budget": _percentiles(added)["p95"] <= BUDGET_P95_MS,
    }
    if not back_to_back:
        masked_cpu, plain_cpu = statistics.mean(cpus["masked"]), statistics.mean(cpus["plain"])
        figures["cpu_ms"] = {
            "unmasked": round(plain_cpu, 2),
            "masked": round(masked_cpu, 2),
            "added": round(masked_cpu - plain_cpu, 2),
        }
        # Requests/s whose masking one thread (the worker, or one core) keeps up with.
        figures["masking_capacity_rps_per_core"] = round(1000.0 / max(masked_cpu - plain_cpu, 0.1))
    return figures


def run(*, n_requests: int, engine: str, modes: Sequence[Mode] = MODES) -> dict[str, object]:
    redactor = PresidioRedactor(
        settings=RedactionSettings(
            engine="spacy" if engine == "spacy" else "patterns",
            hmac_secret=SecretStr("bench-only-pseudonym-key"),
        )
    )
    masked_guard = PiiGuard(redactor=redactor)
    plain_guard = PiiGuard(redactor=_NoRedactor(), pseudonymizer=redactor)
    result: dict[str, object] = {
        "engine": engine,
        "requests_per_case": n_requests,
        "chars_per_request": round(statistics.mean(r.chars for r in _requests(n_requests, "x"))),
        "machine": {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)},
        "budget_p95_ms": BUDGET_P95_MS,
    }
    with tempfile.TemporaryDirectory(prefix="bench-masking-") as directory:
        for mode in modes:
            with (
                _rig(masked_guard, worker=mode == "worker", directory=Path(directory)) as masked,
                _rig(plain_guard, worker=mode == "worker", directory=Path(directory)) as plain,
            ):
                warm_up = _requests(3, f"warm-up-{mode}")
                for request in warm_up:
                    plain.serve(request)
                    masked.serve(request)
                masked.settle()
                plain.settle()
                cases: dict[str, object] = {
                    case: _case(masked, plain, case, n_requests, tag=f"{mode}-{case}")
                    for case in CASES
                }
                if masked.worker is not None:
                    cases["warm_evidence_back_to_back"] = _case(
                        masked, plain, "warm_evidence", n_requests, tag=f"{mode}-b2b",
                        back_to_back=True,
                    )  # fmt: skip
                    cases["dropped_traces"] = masked.worker.stats().dropped
                result[mode] = cases
    info = redactor.cache_info()
    result["findings_cache"] = {"hits": info.hits, "misses": info.misses, "entries": info.entries}
    return result


def _rows(result: Mapping[str, object]) -> list[tuple[str, str, str, str]]:
    rows = []
    for mode in MODES:
        cases = result.get(mode)
        if not isinstance(cases, Mapping):
            continue
        for case in (*CASES, "warm_evidence_back_to_back"):
            figures = cases.get(case)
            if not isinstance(figures, Mapping):
                continue
            added, unmasked = figures["added_ms"], figures["unmasked_ms"]
            cpu = figures.get("cpu_ms")
            cpu_added = f"; CPU {cpu['added']:+.1f} ms" if isinstance(cpu, Mapping) else ""
            cpu_plain = f"; CPU {cpu['unmasked']:.1f} ms" if isinstance(cpu, Mapping) else ""
            rows.append(
                (
                    f"masking added, {case}, {mode} (ms p50 / p95)",
                    f"{added['p50']:.1f} / {added['p95']:.1f}{cpu_added}",
                    f"unmasked: {unmasked['p50']:.1f} / {unmasked['p95']:.1f}{cpu_plain}",
                    "within 20 ms" if figures["within_budget"] else "over 20 ms",
                )
            )
    return rows


def bench_rows(
    data: Path, *, quick: bool = False
) -> tuple[list[tuple[str, str, str, str]], dict[str, object]]:
    """Rows for `python -m evals.bench` (the knowledge base is the repository's own)."""
    result = run(n_requests=20 if quick else 60, engine="spacy")
    return _rows(result), result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=60, help="measured requests per case")
    parser.add_argument("--engine", choices=("spacy", "patterns"), default="spacy")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    for noisy in ("opentelemetry", "langfuse"):  # failed exports to the closed port, by design
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    modes: Sequence[Mode] = MODES if args.mode == "both" else (args.mode,)
    result = run(n_requests=args.requests, engine=args.engine, modes=modes)
    if args.json:
        print(json.dumps(result))
        return 0
    print(json.dumps(result, indent=2))
    for row in _rows(result):
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
