"""`proofdesk eval …`: run an evaluation suite as a user would, print its table, write reports.

Each command builds its own temporary index from the data it is given, checks the suite's
metrics against the thresholds file (`evals/thresholds.yaml` by default) and exits 1 when a
threshold is missed (2 for a usage error). Reports go to `<out>/<suite>.json` and `.md`.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evals.reporting import (
    DEFAULT_THRESHOLDS,
    Bound,
    SuiteReport,
    ThresholdsError,
    apply_thresholds,
    fmt,
    load_thresholds,
    print_report,
    write_report,
)

__all__ = ["app", "main"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_KB = Path(__file__).resolve().parents[1] / "kb"
EXIT_MISSED = 1
EXIT_USAGE = 2

app = typer.Typer(
    name="eval",
    help="Evaluation suites: retrieval, answers, leakage, pii, injection (or all).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

OutOption = Annotated[Path, typer.Option("--out", help="Directory for <suite>.json / .md.")]
ThresholdsOption = Annotated[
    Path, typer.Option("--thresholds", help="YAML file: suite → metric → {min, max}.")
]
KbOption = Annotated[Path, typer.Option("--kb", help="Knowledge base folder (sources.yaml …).")]


def _command() -> str:
    return "proofdesk eval " + " ".join(shlex.quote(a) for a in sys.argv[1:]).removeprefix("eval ")


def _thresholds(path: Path) -> Mapping[str, Mapping[str, Bound]]:
    try:
        return load_thresholds(path)
    except ThresholdsError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc


def _finish(report: SuiteReport, thresholds: Path, out_dir: Path) -> bool:
    checked = apply_thresholds(report, _thresholds(thresholds))
    checked.command = checked.command or _command()
    print_report(checked, out)
    json_path, md_path = write_report(checked, out_dir)
    out.print(f"[dim]reports: {json_path}, {md_path}[/]")
    return checked.passed


def _exit(passed: bool) -> None:
    if not passed:
        raise typer.Exit(EXIT_MISSED)


def _under(data: Path, name: str, marker: str) -> Path:
    """`data` itself when it holds `marker`, else `data/name` (a ../shared/data-style root)."""
    if (data / marker).exists() or data.is_file():
        return data
    candidate = data / name
    if candidate.exists():
        return candidate
    err.print(f"[bold red]error:[/] {data} holds neither {marker} nor {name}/")
    raise typer.Exit(EXIT_USAGE)


# --- suites ----------------------------------------------------------------------------------


def _retrieval(data: Path, split: str | None, max_queries: int | None) -> SuiteReport:
    from evals.suites import retrieval as retrieval_suite

    beir = _under(data, "scifact", "corpus.jsonl")
    result = retrieval_suite.run(beir, split=split, max_queries=max_queries)
    return retrieval_suite.report(result, command=_command())


def _leakage(kb: Path) -> SuiteReport:
    from evals.suites import leakage as leakage_suite

    return leakage_suite.report(leakage_suite.run(kb), command=_command())


def _injection(data: Path, kb: Path, payloads: int) -> SuiteReport:
    from evals.suites import injection as injection_suite

    source = _under(data, "injection", "deepset_prompt_injections_lc")
    result = injection_suite.run(
        source, kb, payload_count=payloads, extra=(injection_suite.READER_INSTRUCTIONS,)
    )
    return injection_suite.report(result, command=_command())


def _pii(data: Path, engine: str) -> SuiteReport:
    from evals.suites import pii as pii_suite
    from evals.suites.pii import redaction_parts

    # A file, a folder of Presidio-format files, or a data root holding pii/.
    folder = data if data.is_file() or any(data.glob("*.json")) else data / "pii"
    files = [folder] if folder.is_file() else sorted(folder.glob("*.json"))
    if not files:
        err.print(f"[bold red]error:[/] no *.json under {folder}")
        raise typer.Exit(EXIT_USAGE)
    with redaction_parts(engine="patterns" if engine == "patterns" else "spacy") as parts:
        result = pii_suite.evaluate(files[0], parts.redactor)
        shapes = pii_suite.evaluate_shapes(parts.redactor)
    rows = [
        [kind, "yes" if r["in_scope"] else "no", str(r["gold"]), str(r["predicted"])]
        + [fmt(r[k]) for k in ("precision", "recall", "f2", "masked")]
        for kind, r in result["entities"].items()
    ]
    o = result["overall"]
    rows.append(["overall (in scope)", "", "", "", *(fmt(o[k]) for k in o)])  # type: ignore[literal-required]
    s = shapes["overall"]
    rows.append(["shapes Presidio misses", "", "", "", *(fmt(s[k]) for k in s)])  # type: ignore[literal-required]
    return SuiteReport(
        suite="pii",
        title=f"PII detection ({engine}): {files[0]}",
        columns=["entity", "in scope", "gold", "pred", "precision", "recall", "F2", "masked"],
        rows=rows,
        metrics={**result, "shapes": shapes},
        notes=[
            f"shapes Presidio misses: {shapes['samples']} texts (evals/pii_shapes.py), "
            "every value must be masked",
            f"{result['samples']} texts, {result['kilobytes']:.1f} KB; token-level scoring as "
            f"presidio-research; mask latency {result['mask_ms_per_kb']:.1f} ms/KB",
        ],
        command=_command(),
    )


def _answers(data: Path) -> SuiteReport | None:
    """The answers suite (evals.suites.answers, written with the answer pipeline), if present."""
    try:
        module = importlib.import_module("evals.suites.answers")
    except ModuleNotFoundError:
        return None
    folder = _under(data, "clapnq", "answerable.jsonl")
    suite_report: Callable[..., SuiteReport] | None = getattr(module, "suite_report", None)
    if suite_report is not None:
        return suite_report(folder, command=_command())
    run: Callable[..., Mapping[str, object]] = module.run
    result = dict(run(folder))
    rows = [[k, f"{v:.3f}" if isinstance(v, float) else str(v)] for k, v in result.items()]
    return SuiteReport("answers", f"Answers: {folder}", ["metric", "value"], rows, result)


# --- commands --------------------------------------------------------------------------------


@app.command()
def retrieval(
    data: Annotated[Path, typer.Option("--data", help="BEIR dir, or a root holding scifact/.")],
    split: Annotated[str | None, typer.Option(help="qrels/<split>.tsv (default: first).")] = None,
    max_queries: Annotated[int | None, typer.Option(help="Evaluate the first N queries.")] = None,
    out_dir: OutOption = Path("reports"),
    thresholds: ThresholdsOption = DEFAULT_THRESHOLDS,
) -> None:
    """nDCG@10, recall@10/@100 and MRR@10 for dense, sparse (BM25) and hybrid search."""
    _exit(_finish(_retrieval(data, split, max_queries), thresholds, out_dir))


@app.command()
def answers(
    data: Annotated[Path, typer.Option("--data", help="CLAP NQ dir, or a root holding clapnq/.")],
    out_dir: OutOption = Path("reports"),
    thresholds: ThresholdsOption = DEFAULT_THRESHOLDS,
) -> None:
    """Answer and refusal rates, citation precision and recall (ALCE)."""
    report = _answers(data)
    if report is None:
        err.print("[bold red]error:[/] the answers suite (evals.suites.answers) is not installed")
        raise typer.Exit(EXIT_USAGE)
    _exit(_finish(report, thresholds, out_dir))


@app.command()
def leakage(
    kb: KbOption = REPO_KB,
    out_dir: OutOption = Path("reports"),
    thresholds: ThresholdsOption = DEFAULT_THRESHOLDS,
) -> None:
    """Personas × canary documents and questions: leaked passages must be 0."""
    _exit(_finish(_leakage(kb), thresholds, out_dir))


@app.command()
def pii(
    data: Annotated[Path, typer.Option("--data", help="Presidio-format JSON, or a dir of them.")],
    engine: Annotated[str, typer.Option(help="spacy (NER + patterns) or patterns.")] = "spacy",
    out_dir: OutOption = Path("reports"),
    thresholds: ThresholdsOption = DEFAULT_THRESHOLDS,
) -> None:
    """Per-entity precision, recall and F2 of PII detection on labelled spans."""
    if engine not in ("spacy", "patterns"):
        err.print("[bold red]error:[/] --engine must be spacy or patterns")
        raise typer.Exit(EXIT_USAGE)
    _exit(_finish(_pii(data, engine), thresholds, out_dir))


@app.command()
def injection(
    data: Annotated[Path, typer.Option("--data", help="Payload sets, or a root with injection/.")],
    kb: KbOption = REPO_KB,
    payloads: Annotated[int, typer.Option(help="Payloads to plant.")] = 200,
    out_dir: OutOption = Path("reports"),
    thresholds: ThresholdsOption = DEFAULT_THRESHOLDS,
) -> None:
    """Attack success rate (95% CI) of payloads planted into indexed helpdesk documents."""
    _exit(_finish(_injection(data, kb, payloads), thresholds, out_dir))


@app.command(name="all")
def run_all(
    data: Annotated[Path, typer.Option("--data", help="Root holding scifact/, clapnq/, pii/ …")],
    kb: KbOption = REPO_KB,
    payloads: Annotated[int, typer.Option(help="Injection payloads to plant.")] = 200,
    out_dir: OutOption = Path("reports"),
    thresholds: ThresholdsOption = DEFAULT_THRESHOLDS,
) -> None:
    """Every suite on a data root; exits 1 when any threshold is missed."""
    suites: list[tuple[str, Callable[[], SuiteReport | None]]] = [
        ("retrieval", lambda: _retrieval(data, None, None)),
        ("answers", lambda: _answers(data)),
        ("leakage", lambda: _leakage(kb)),
        ("pii", lambda: _pii(data, "spacy")),
        ("injection", lambda: _injection(data, kb, payloads)),
    ]
    outcome: dict[str, str] = {}
    for name, suite in suites:
        out.rule(name)
        report = suite()
        if report is None:
            outcome[name] = "not available"
            continue
        outcome[name] = "passed" if _finish(report, thresholds, out_dir) else "MISSED"
    out.rule("summary")
    for name, state in outcome.items():
        out.print(f"{name:<10} {state}")
    _exit("MISSED" not in outcome.values())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
