"""Grounded answering on CLAP NQ, through the real ingest pipeline and the real answer pipeline.

Every passage of `answerable.jsonl` and `unanswerable.jsonl` is written as one Markdown
document (`<row id>.md`, title as heading) of one public source and ingested by `IngestService`
(parse, chunk, embed, BM25, injection flags) into a Qdrant Edge index. Every question is then
asked through `AnswerService` (extractive composer) as an ordinary user.

Figures:
- answerable: answered; answered citing its own passage (the issue's "≥ 90%" figure);
  escalated; refused. Unanswerable (its related passage lacks the answer): refused (the
  issue's "≥ 85%" figure), escalated, answered.
- citations, ALCE-style, over the answered answerable questions:
  - precision (verbatim): a citation counts when its quote is exactly the document's normalised
    text at its offsets (re-parsed from the written file) and the answer sentence is that quote
    (whitespace, list markers and emphasis aside). A verbatim quote entails its sentence, so
    this is ALCE's "the cited span supports the sentence", checked mechanically, no NLI.
  - precision (reference): a citation counts when its span is one of the annotators'
    `selected_sentences` for that question (word overlap ≥ 0.6 of the shorter of the two) —
    the span is not only quoted right but is evidence a person chose for the reference answer.
  - recall (verbatim): the share of answer sentences fully supported by their citation (the
    same check per sentence: one citation per sentence); recall (reference): the share of
    answer sentences whose citation is reference evidence; gold-evidence recall: the share of
    the reference's selected sentences that the answer cites.
- a threshold sweep: answer / refusal rates if `answer_threshold` were each value (the decision
  score does not depend on the threshold, so one run gives the whole curve), and a
  cross-validated estimate of calibrating it here (`threshold_cv`): in 5 folds (10 shuffles
  with fixed seeds), the threshold that refuses the most unanswerable questions while answering
  at least 90% of the answerable ones citing their passage is chosen on four folds and applied
  to the fifth; the out-of-fold rates are what a threshold calibrated on this set can be
  expected to give on unseen questions like these.

The modules beside this one: `clapnq` (the rows and the corpus written from them),
`answer_judging` (one answer judged), `answer_metrics` (the figures), `answer_calibration`
(the profiles and the reader's calibration).

    python -m evals.suites.answers --data /work/shared/data/clapnq [--limit N] [--out reports]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from agent.settings import AgentSettings
from evals.corpus_files import write_sources_file
from evals.eval_index import answer_service_over, build_index
from evals.reporting import SuiteReport, fmt, print_report, write_report
from evals.suites.answer_judging import Outcome, ScoreTracer, judge
from evals.suites.answer_metrics import metrics as suite_metrics
from evals.suites.clapnq import SOURCE_ID, load_clapnq, write_clapnq_corpus
from ingest.parsing import parse_document
from policies.access.settings import DEFAULT_POLICY_PATH
from retrieval.embedding.embedder import Embedder, load_embedder
from retrieval.reading import ReaderSettings

__all__ = ["main", "report", "run", "suite_report"]


def run(
    data: Path,
    *,
    limit: int | None = None,
    settings: AgentSettings | None = None,
    embedder: Embedder | None = None,
    workdir: Path | None = None,
    reader: ReaderSettings | None = None,
) -> dict[str, object]:
    """Index every passage, ask every question (the first `limit` per file), return metrics.
    `reader`: the reading model (default: the bundled one; `kind: none` for none)."""
    rows = load_clapnq(data)
    asked = load_clapnq(data, limit=limit) if limit is not None else rows
    embedder = embedder or load_embedder()
    settings = settings or AgentSettings()
    with tempfile.TemporaryDirectory(prefix="pd-answers-") as tmp:
        root = workdir or Path(tmp)
        docs = root / "docs"
        write_clapnq_corpus(rows, docs)
        sources = write_sources_file(root / "sources.yaml", [(SOURCE_ID, docs)])
        started = time.perf_counter()
        index = build_index(
            sources_file=sources,
            policy_file=DEFAULT_POLICY_PATH,
            workdir=root,
            embedder=embedder,
            agent=settings,
            reader=reader or ReaderSettings(),
        )
        index_seconds = time.perf_counter() - started
        try:
            texts = {
                f"{SOURCE_ID}:{path.name}": parse_document(
                    path.read_bytes(), "md", fallback_title=path.stem
                ).text
                for path in docs.glob("*.md")
            }
            tracer = ScoreTracer()
            service = answer_service_over(index, tracer=tracer)
            principal = index.policy.principal_for("clapnq-evaluator")
            outcomes: list[Outcome] = []
            started = time.perf_counter()
            for row in asked:
                answer = service.answer(row.question, principal=principal)
                outcomes.append(judge(row, answer, tracer, texts))
            ask_seconds = time.perf_counter() - started
            chunks = index.store.count()
        finally:
            index.close()
    return suite_metrics(
        outcomes,
        settings=settings,
        chunks=chunks,
        documents=len(rows),
        index_seconds=index_seconds,
        ask_seconds=ask_seconds,
    )


def _cell(metrics: dict[str, object], group: str, name: str) -> list[str]:
    value = metrics[group][name]  # type: ignore[index]
    return [
        f"{group}: {name.replace('_', ' ')}",
        fmt(value["rate"]),
        f"[{fmt(value['ci95_low'])}, {fmt(value['ci95_high'])}]",
        str(value["n"]),
    ]


def _decision_rows(metrics: dict[str, object]) -> list[list[str]]:
    """The profiles' rates, the sweep, and (with a reader) its AUCs and cross-validation."""
    rows: list[list[str]] = []
    profiles: dict[str, dict[str, float]] = metrics["profiles"]  # type: ignore[assignment]
    for name, rates in profiles.items():
        rows.append(
            [
                f"profile {name} (answer at {rates['answer_threshold']}): answerable answered "
                f"own / unanswerable not answered",
                f"{fmt(rates['answerable_answered_own'])} / "
                f"{fmt(rates['unanswerable_not_answered'])}",
                "",
                "",
            ]
        )
    sweep: list[dict[str, float]] = metrics["sweep"]  # type: ignore[assignment]
    for point in sweep:
        rows.append(
            [
                f"sweep: answer at {point['answer_threshold']:.2f}",
                f"{fmt(point['answerable_answered_own'])} / {fmt(point['unanswerable_refused'])}",
                "",
                "",
            ]
        )
    reader: dict[str, object] | None = metrics.get("reader")  # type: ignore[assignment]
    if reader:
        aucs: dict[str, float | None] = reader["auc"]  # type: ignore[assignment]
        for name, value in aucs.items():
            rows.append([f"AUC answerable-own vs unanswerable: {name}", fmt(value), "", ""])
        cv: dict[str, float] | None = reader["combination_cv"]  # type: ignore[assignment]
        if cv:
            rows.append(
                [
                    "reader + confidence, fitted and thresholded out of fold (5-fold x10)",
                    f"{fmt(cv['answerable_answered_own'])} / "
                    f"{fmt(cv['unanswerable_not_answered'])}",
                    "",
                    "",
                ]
            )
    return rows


def report(metrics: dict[str, object], *, command: str = "") -> SuiteReport:
    cit: dict[str, float | None] = metrics["citations"]  # type: ignore[assignment]
    rows = [
        _cell(metrics, "answerable", "answered_citing_own_passage"),
        _cell(metrics, "answerable", "answered"),
        _cell(metrics, "answerable", "escalated"),
        _cell(metrics, "answerable", "refused"),
        _cell(metrics, "unanswerable", "refused"),
        _cell(metrics, "unanswerable", "escalated"),
        _cell(metrics, "unanswerable", "answered"),
        ["citation precision (verbatim)", fmt(cit["precision_verbatim"]), "", ""],
        ["citation precision (reference)", fmt(cit["precision_reference"]), "", ""],
        ["citation recall (verbatim)", fmt(cit["recall_verbatim"]), "", ""],
        ["citation recall (reference)", fmt(cit["recall_reference"]), "", ""],
        ["gold-evidence recall", fmt(cit["gold_evidence_recall"]), "", ""],
        *_decision_rows(metrics),
    ]
    latency: dict[str, float | None] = metrics["latency_ms"]  # type: ignore[assignment]
    seconds: dict[str, float] = metrics["seconds"]  # type: ignore[assignment]
    folded: dict[str, float] | None = metrics.get("threshold_cv")  # type: ignore[assignment]
    cv = (
        f"answerable answered citing own passage {fmt(folded['answerable_answered_own'])}, "
        f"unanswerable not answered {fmt(folded['unanswerable_refused'])} out of fold"
        if folded
        else "too few questions"
    )
    return SuiteReport(
        suite="answers",
        title="Grounded answering on CLAP NQ (extractive composer)",
        columns=["metric", "value", "95% CI", "n"],
        rows=rows,
        metrics=metrics,
        notes=[
            f"{metrics['corpus']} indexed through the real ingest pipeline in "
            f"{seconds['index']} s; questions answered in {seconds['questions']} s "
            f"(p50 {latency['p50']} ms, p95 {latency['p95']} ms end to end)",
            "precision/recall (verbatim): the quote equals the document text at its offsets "
            "and the sentence is that quote; (reference): the cited span is one of the "
            "annotators' selected sentences (word overlap >= 0.6)",
            "sweep and profiles: answerable answered citing own passage / unanswerable not "
            "answered at each answer threshold (metrics.sweep, metrics.profiles)",
            f"reader: {metrics.get('reader') and metrics['reader']['fitted_calibration']} "  # type: ignore[index]
            "(a, b, c) fitted on all rows; settings use "
            f"{metrics['settings']['reader_calibration']}",  # type: ignore[index]
            f"threshold calibrated by 5-fold cross-validation (metrics.threshold_cv): {cv}",
        ],
        command=command,
    )


def suite_report(
    data: Path, *, command: str = "", limit: int | None = None, workdir: Path | None = None
) -> SuiteReport:
    """The `answers` suite of `proofdesk eval`."""
    return report(run(data, limit=limit, workdir=workdir), command=command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.suites.answers", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the clapnq/ folder")
    parser.add_argument("--limit", type=int, default=None, help="questions per file")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the index here")
    parser.add_argument(
        "--reader-kind",
        choices=["onnx", "cross_encoder", "none"],
        default=None,
        help="the reading model's kind (default: inferred; none: decide without a reader)",
    )
    parser.add_argument("--reader-path", type=Path, default=None, help="reader model directory")
    parser.add_argument(
        "--profile", choices=["balanced", "cautious"], default="balanced", help="agent.profile"
    )
    args = parser.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python -m evals.suites.answers", *given])
    result = report(
        run(
            args.data,
            limit=args.limit,
            workdir=args.workdir,
            settings=AgentSettings(profile=args.profile),
            reader=ReaderSettings(kind=args.reader_kind, model_path=args.reader_path),
        ),
        command=command,
    )
    print_report(result)
    write_report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
