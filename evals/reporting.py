"""What every evaluation suite hands back: a table, metrics, threshold checks, and the reports.

A suite returns a `SuiteReport`; the CLI checks it against `evals/thresholds.yaml`, prints the
table, and writes `reports/<suite>.json` and `reports/<suite>.md`. Thresholds name a metric by its
dotted path in the report's metrics (`hybrid.ndcg@10`) and give a `min` and/or a `max`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from infra.errors import ConfigurationError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Bound",
    "SuiteReport",
    "ThresholdCheck",
    "ThresholdsError",
    "apply_thresholds",
    "check_thresholds",
    "flatten",
    "load_thresholds",
    "print_report",
    "wilson_interval",
    "write_report",
]

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.yaml"

Scalar = float | int | str | bool | None


class ThresholdsError(ConfigurationError, ValueError):
    """The thresholds file is missing, not YAML, or not shaped `suite: {metric: {min|max}}`."""


@dataclass(frozen=True)
class Bound:
    """A metric must be ≥ `min` and ≤ `max` (either may be absent)."""

    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ThresholdCheck:
    metric: str
    value: float | None  # None: the suite did not produce this metric (a failure)
    bound: Bound
    passed: bool

    def describe(self) -> str:
        want = " and ".join(
            part
            for part in (
                f">= {self.bound.min:g}" if self.bound.min is not None else "",
                f"<= {self.bound.max:g}" if self.bound.max is not None else "",
            )
            if part
        )
        got = "missing" if self.value is None else f"{self.value:.4g}"
        return f"{self.metric} {want}: {got} ({'ok' if self.passed else 'MISSED'})"


@dataclass
class SuiteReport:
    """A suite's result: the printed table, the metrics (nested, JSON-shaped) and notes."""

    suite: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    metrics: dict[str, object]
    notes: list[str] = field(default_factory=list)
    command: str = ""
    checks: list[ThresholdCheck] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "suite": self.suite,
            "title": self.title,
            "created_at": self.created_at,
            "command": self.command,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
            "metrics": self.metrics,
            "table": {"columns": self.columns, "rows": self.rows},
            "notes": self.notes,
        }

    def as_markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.command:
            lines += ["```", self.command, "```", ""]
        lines += [
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join("---" for _ in self.columns) + "|",
        ]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in self.rows
        ]
        if self.checks:
            lines += ["", "## Thresholds", ""]
            lines += [f"- {c.describe()}" for c in self.checks]
        if self.notes:
            lines += ["", "## Notes", ""]
            lines += [f"- {note}" for note in self.notes]
        lines += ["", f"_{self.created_at}_", ""]
        return "\n".join(lines)


def flatten(metrics: Mapping[str, object], prefix: str = "") -> dict[str, Scalar]:
    """`{"hybrid": {"ndcg@10": 0.7}}` → `{"hybrid.ndcg@10": 0.7}` (lists are left out)."""
    flat: dict[str, Scalar] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif value is None or isinstance(value, float | int | str | bool):
            flat[name] = value
    return flat


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, dict[str, Bound]]:
    """`suite → metric → Bound` from a YAML file; ThresholdsError when it is malformed."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThresholdsError(f"cannot read thresholds file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ThresholdsError(f"thresholds file {path} is not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ThresholdsError(f"{path}: expected a mapping of suite names")
    suites: dict[str, dict[str, Bound]] = {}
    for suite, metrics in raw.items():
        if metrics is None:
            suites[str(suite)] = {}
            continue
        if not isinstance(metrics, dict):
            raise ThresholdsError(f"{path}: suite {suite!r} must map metric names to bounds")
        suites[str(suite)] = {
            str(m): _bound(path, str(suite), str(m), b) for m, b in metrics.items()
        }
    return suites


def _bound(path: Path, suite: str, metric: str, raw: object) -> Bound:
    where = f"{path}: {suite}.{metric}"
    if not isinstance(raw, dict) or not raw or set(raw) - {"min", "max"}:
        raise ThresholdsError(f"{where}: expected {{min: x}} and/or {{max: y}}, got {raw!r}")
    values: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ThresholdsError(f"{where}: {key} must be a number, got {value!r}")
        values[str(key)] = float(value)
    return Bound(min=values.get("min"), max=values.get("max"))


def check_thresholds(
    metrics: Mapping[str, object], bounds: Mapping[str, Bound]
) -> list[ThresholdCheck]:
    """One check per bound; a metric the suite did not produce fails its check."""
    flat = flatten(metrics)
    checks: list[ThresholdCheck] = []
    for metric, bound in bounds.items():
        raw = flat.get(metric)
        value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        passed = (
            value is not None
            and not math.isnan(value)
            and (bound.min is None or value >= bound.min)
            and (bound.max is None or value <= bound.max)
        )
        checks.append(ThresholdCheck(metric=metric, value=value, bound=bound, passed=passed))
    return checks


def apply_thresholds(
    report: SuiteReport, thresholds: Mapping[str, Mapping[str, Bound]]
) -> SuiteReport:
    """The report with its suite's checks filled in (no section: no checks)."""
    return replace(
        report, checks=check_thresholds(report.metrics, thresholds.get(report.suite, {}))
    )


def print_report(report: SuiteReport, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(*report.columns, title=report.title)
    for row in report.rows:
        table.add_row(*row)
    console.print(table)
    for note in report.notes:
        console.print(f"[dim]- {note}[/]")
    for check in report.checks:
        style = "green" if check.passed else "bold red"
        console.print(f"[{style}]{check.describe()}[/]")


def write_report(report: SuiteReport, out_dir: Path) -> tuple[Path, Path]:
    """Write `<out_dir>/<suite>.json` and `.md`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{report.suite}.json"
    md_path = out_dir / f"{report.suite}.md"
    json_path.write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n", "utf-8")
    md_path.write_text(report.as_markdown(), encoding="utf-8")
    return json_path, md_path


def wilson_interval(successes: int, trials: int, *, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) with no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def fmt(value: float | None, digits: int = 3) -> str:
    """A table cell for a number ('-' for None)."""
    return "-" if value is None else f"{value:.{digits}f}"


def table_rows(rows: Sequence[Sequence[object]]) -> list[list[str]]:
    return [[str(cell) for cell in row] for row in rows]
