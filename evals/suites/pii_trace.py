"""End to end: does any labelled PII value reach a Langfuse server through a traced request?

Every text of a labelled set (Presidio's synthetic format) goes through one traced request with
the real Langfuse SDK, as question, evidence, LLM input/output, quote and answer, exported over
OTLP/HTTP to a receiver on 127.0.0.1. For each labelled value of a masked type the report says
whether it arrived in that request's exported spans, and whether the redactor alone leaves it
in the text (a detection miss). `plumbing_leaks` counts values that arrived although the
redactor alone masks them: the tracing path itself leaking. It must be 0; detection misses are
the redactor's recall (see `python -m evals.suites.pii`).

    python -m evals.suites.pii_trace --data /work/shared/data/pii [--limit N] [--json]

Run from the repository: the loopback receiver is the one the tests use.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

from pydantic import SecretStr

from agent.tracing.build import build_tracer
from agent.tracing.langfuse_tracer import LangfuseTracer
from agent.tracing.settings import TracingSettings
from evals.suites.pii import ENTITY_MAPPING, redaction_parts
from policies.pii.guard import PiiGuard

__all__ = ["TraceLeakReport", "evaluate", "main"]


class EntityLeaks(TypedDict):
    labelled: int
    arrived: int
    missed_by_redactor: int
    plumbing_leaks: int


class TraceLeakReport(TypedDict):
    texts: int
    spans_received: int
    in_scope: dict[str, EntityLeaks]
    out_of_scope_types: dict[str, int]
    arrived: int
    missed_by_redactor: int
    plumbing_leaks: int


def _files(data: Path) -> list[Path]:
    return sorted(data.glob("*.json")) if data.is_dir() else [data]


def _present(value: str, haystack: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", haystack) is not None


def _trace(tracer: LangfuseTracer, text: str, n: int) -> str:
    with tracer.trace("answer", user_id=f"user-{n}", input={"question": text}) as root:
        with tracer.span("retrieve", top_k=5) as step:
            step.set_output([{"chunk_id": f"c{n}", "text": text}])
        with tracer.generation(
            "compose", model="eval-model", prompt_id="answer", prompt_version="1",
            input=[{"role": "user", "content": text}],
        ) as llm:  # fmt: skip
            llm.record(output=text, prompt_tokens=10, completion_tokens=5, cost_usd=0.0)
        with tracer.span("verify") as step:
            step.set(quote=text)
        root.set_output(text)
        root.score("support", 1.0)
        return root.trace_id


def evaluate(data: Path, *, limit: int | None = None) -> TraceLeakReport:
    from evals.otlp_receiver import running_receiver  # a real loopback Langfuse stand-in

    rows = [row for path in _files(data) for row in json.loads(path.read_text("utf-8"))]
    rows = rows[:limit] if limit else rows
    in_scope: dict[str, EntityLeaks] = {}
    out_of_scope: Counter[str] = Counter()
    with (
        redaction_parts(hmac_secret=SecretStr(secrets.token_hex(16))) as parts,
        running_receiver() as receiver,
    ):
        redactor, guard = parts.redactor, parts.guard
        scope = redactor.entities
        key = secrets.token_hex(8)
        # The served tracer as the server builds it: its settings, the guard, the masking worker.
        tracer = build_tracer(
            TracingSettings(
                langfuse_public_key=SecretStr(f"pk-eval-{key}"),
                langfuse_secret_key=SecretStr(f"sk-eval-{key}"),
                langfuse_host=receiver.base_url,
            ),
            guard=guard,
            worker=parts.masking_worker,
        )
        if not isinstance(tracer, LangfuseTracer):
            raise TypeError(f"Langfuse settings built a {type(tracer).__name__}")
        trace_ids = [_trace(tracer, row["full_text"], n) for n, row in enumerate(rows)]
        tracer.close(timeout_seconds=60)
        by_trace: dict[str, list[str]] = {}
        for span in receiver.spans:
            by_trace.setdefault(span.trace_id, []).append(span.text())
        spans_received = len(receiver.spans)
        for row, trace_id in zip(rows, trace_ids, strict=True):
            exported = "\n".join(by_trace.get(trace_id, []))
            alone = PiiGuard(redactor=redactor, pseudonymizer=guard).mask_text(row["full_text"])
            for span in row["spans"]:
                kind = ENTITY_MAPPING.get(span["entity_type"], span["entity_type"])
                if kind not in scope:
                    out_of_scope[kind] += 1
                    continue
                value = span["entity_value"]
                arrived = _present(value, exported)
                missed = _present(value, alone)
                entry = in_scope.setdefault(
                    kind,
                    {"labelled": 0, "arrived": 0, "missed_by_redactor": 0, "plumbing_leaks": 0},
                )
                entry["labelled"] += 1
                entry["arrived"] += int(arrived)
                entry["missed_by_redactor"] += int(missed)
                entry["plumbing_leaks"] += int(arrived and not missed)
    return {
        "texts": len(rows),
        "spans_received": spans_received,
        "in_scope": dict(sorted(in_scope.items())),
        "out_of_scope_types": dict(sorted(out_of_scope.items())),
        "arrived": sum(e["arrived"] for e in in_scope.values()),
        "missed_by_redactor": sum(e["missed_by_redactor"] for e in in_scope.values()),
        "plumbing_leaks": sum(e["plumbing_leaks"] for e in in_scope.values()),
    }


def format_table(report: TraceLeakReport) -> str:
    lines = [
        f"{report['texts']} texts, {report['spans_received']} spans received",
        f"{'entity':<20}{'labelled':>9}{'arrived':>9}{'missed':>9}{'plumbing':>9}",
    ]
    for kind, e in report["in_scope"].items():
        lines.append(
            f"{kind:<20}{e['labelled']:>9}{e['arrived']:>9}{e['missed_by_redactor']:>9}"
            f"{e['plumbing_leaks']:>9}"
        )
    lines.append(
        f"{'total':<20}{sum(e['labelled'] for e in report['in_scope'].values()):>9}"
        f"{report['arrived']:>9}{report['missed_by_redactor']:>9}{report['plumbing_leaks']:>9}"
    )
    lines.append(f"not masked by design (out of scope): {report['out_of_scope_types']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, required=True, help="a JSON file or a directory")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = evaluate(args.data, limit=args.limit)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0 if report["plumbing_leaks"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
