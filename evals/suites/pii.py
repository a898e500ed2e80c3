"""PII detection quality on a file in the Presidio synthetic format, scored per token.

Input: a JSON list of `{full_text, spans: [{entity_type, entity_value, start_position,
end_position}]}` (end exclusive), e.g. presidio-research's synthetic set. Scoring follows
presidio-research's evaluator: text is split into word tokens, each token gets the gold type of
the span covering it and the predicted type of the strongest finding covering it; gold types
the redactor does not report count as "no entity" in the overall score (predictions on them are
false positives). Gold types are mapped as in Presidio's own evaluation: STREET_ADDRESS and
GPE → LOCATION, DOMAIN_NAME → URL.

`masked` is what a masker promises: the share of gold tokens covered by any finding, of any
type (a value masked under the wrong type has not leaked).

The shapes Presidio's own recognizers miss (`evals.pii_shapes`: unformatted phone numbers and
SSNs, UK National Insurance numbers, dates of birth, dotted card numbers) are scored apart.

The redactor is the product's (`redaction_parts`: built by the composition root from a
`Settings` object), without the PII findings stored in a state database.

    python -m evals.suites.pii PATH [--engine spacy|patterns] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypedDict

from pydantic import SecretStr

from api.bootstrap.components import Components
from api.settings import Settings
from evals.pii_shapes import SHAPES
from policies.pii.port import Redactor
from policies.pii.settings import RedactionSettings
from policies.pii.types import PiiFinding

__all__ = [
    "ENTITY_MAPPING",
    "EntityReport",
    "EvalReport",
    "OverallReport",
    "evaluate",
    "evaluate_samples",
    "evaluate_shapes",
    "main",
    "redaction_parts",
]

ENTITY_MAPPING = {"STREET_ADDRESS": "LOCATION", "GPE": "LOCATION", "DOMAIN_NAME": "URL"}
_TOKEN = re.compile(r"\w+")
_BETA = 2.0


class EntityReport(TypedDict):
    in_scope: bool
    gold: int
    predicted: int
    true_positives: int
    precision: float
    recall: float
    f2: float
    masked: float


class OverallReport(TypedDict):
    precision: float
    recall: float
    f2: float
    masked: float


class EvalReport(TypedDict):
    samples: int
    kilobytes: float
    scope: list[str]
    overall: OverallReport
    entities: dict[str, EntityReport]
    mask_ms_per_kb: float


class _Sample(TypedDict):
    text: str
    spans: list[tuple[int, int, str]]


def _load(path: Path) -> list[_Sample]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    samples: list[_Sample] = []
    for row in rows:
        spans = [
            (
                int(s["start_position"]),
                int(s["end_position"]),
                ENTITY_MAPPING.get(s["entity_type"], s["entity_type"]),
            )
            for s in row["spans"]
        ]
        samples.append({"text": row["full_text"], "spans": spans})
    return samples


def _label_tokens(
    tokens: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int, str, float]]
) -> list[str | None]:
    """The type of the highest-scoring span overlapping each token, or None."""
    labels: list[str | None] = []
    for t_start, t_end in tokens:
        best: tuple[float, str] | None = None
        for start, end, kind, score in spans:
            if start < t_end and t_start < end and (best is None or score > best[0]):
                best = (score, kind)
        labels.append(best[1] if best else None)
    return labels


def _f_beta(precision: float, recall: float, beta: float = _BETA) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def shape_samples() -> list[_Sample]:
    """`evals.pii_shapes.SHAPES` as samples: the shapes Presidio alone misses."""
    samples: list[_Sample] = []
    for text, kind, value in SHAPES:
        start = text.index(value)
        samples.append({"text": text, "spans": [(start, start + len(value), kind)]})
    return samples


def evaluate_shapes(redactor: Redactor) -> EvalReport:
    """`evaluate` on the shapes Presidio alone misses (every one must be masked)."""
    return evaluate_samples(shape_samples(), redactor)


def evaluate(path: Path, redactor: Redactor) -> EvalReport:
    """Per-entity and overall token-level precision, recall and F2 of `redactor` on `path`."""
    return evaluate_samples(_load(path), redactor)


def evaluate_samples(samples: Sequence[_Sample], redactor: Redactor) -> EvalReport:
    """`evaluate` on samples already loaded."""
    scope = redactor.entities
    gold_count: Counter[str] = Counter()
    pred_count: Counter[str] = Counter()
    true_pos: Counter[str] = Counter()
    masked: Counter[str] = Counter()
    overall_pred = overall_gold = overall_tp = overall_masked = 0
    chars = 0
    mask_seconds = 0.0
    for sample in samples:
        text = sample["text"]
        chars += len(text.encode("utf-8"))
        findings: list[PiiFinding] = redactor.find(text)
        started = time.perf_counter()
        redactor.mask(text)
        mask_seconds += time.perf_counter() - started

        tokens = [m.span() for m in _TOKEN.finditer(text)]
        gold = _label_tokens(tokens, [(s, e, k, 1.0) for s, e, k in sample["spans"]])
        pred = _label_tokens(tokens, [(f.start, f.end, f.entity_type, f.score) for f in findings])
        for g, p in zip(gold, pred, strict=True):
            if g is not None:
                gold_count[g] += 1
                masked[g] += p is not None
                true_pos[g] += g == p
            if p is not None:
                pred_count[p] += 1
                overall_pred += 1
            if g is not None and g in scope:
                overall_gold += 1
                overall_tp += g == p
                overall_masked += p is not None

    entities: dict[str, EntityReport] = {}
    for kind in sorted(set(gold_count) | set(pred_count)):
        precision = _ratio(true_pos[kind], pred_count[kind])
        recall = _ratio(true_pos[kind], gold_count[kind])
        entities[kind] = {
            "in_scope": kind in scope,
            "gold": gold_count[kind],
            "predicted": pred_count[kind],
            "true_positives": true_pos[kind],
            "precision": precision,
            "recall": recall,
            "f2": _f_beta(precision, recall),
            "masked": _ratio(masked[kind], gold_count[kind]),
        }
    precision = _ratio(overall_tp, overall_pred)
    recall = _ratio(overall_tp, overall_gold)
    kilobytes = chars / 1024
    return {
        "samples": len(samples),
        "kilobytes": kilobytes,
        "scope": sorted(scope),
        "overall": {
            "precision": precision,
            "recall": recall,
            "f2": _f_beta(precision, recall),
            "masked": _ratio(overall_masked, overall_gold),
        },
        "entities": entities,
        "mask_ms_per_kb": 1000 * mask_seconds / kilobytes if kilobytes else 0.0,
    }


def redaction_parts(
    *, engine: Literal["spacy", "patterns"] = "spacy", hmac_secret: SecretStr | None = None
) -> Components:
    """The composition root's parts over the product's redaction settings with `engine` (and
    `hmac_secret`, the pseudonyms' key, when given): `redactor`, `guard`, `masking_worker`. No
    state database: the findings ingest stores are not read (what is measured is detection)."""
    redaction = RedactionSettings(engine=engine)
    if hmac_secret is not None:
        redaction = redaction.model_copy(update={"hmac_secret": hmac_secret})
    return Components(Settings(redaction=redaction), findings=False)


def format_table(report: EvalReport) -> str:
    header = (
        f"{'entity':<20}{'scope':>6}{'gold':>7}{'pred':>7}"
        f"{'prec':>8}{'recall':>8}{'F2':>8}{'masked':>8}"
    )
    lines = [header, "-" * len(header)]
    for kind, row in report["entities"].items():
        lines.append(
            f"{kind:<20}{'yes' if row['in_scope'] else 'no':>6}{row['gold']:>7}"
            f"{row['predicted']:>7}{row['precision']:>8.3f}{row['recall']:>8.3f}"
            f"{row['f2']:>8.3f}{row['masked']:>8.3f}"
        )
    overall = report["overall"]
    lines += [
        "-" * len(header),
        f"{'overall (in scope)':<40}{overall['precision']:>8.3f}{overall['recall']:>8.3f}"
        f"{overall['f2']:>8.3f}{overall['masked']:>8.3f}",
        f"{report['samples']} texts, {report['kilobytes']:.1f} KB; "
        f"mask latency {report['mask_ms_per_kb']:.1f} ms/KB",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.suites.pii", description=__doc__)
    parser.add_argument("path", type=Path, help="JSON file in the Presidio synthetic format")
    parser.add_argument("--engine", choices=["spacy", "patterns"], default="spacy")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    with redaction_parts(engine=args.engine) as parts:
        report = evaluate(args.path, parts.redactor)
        shapes = evaluate_shapes(parts.redactor)
    if args.json:
        print(json.dumps({**report, "shapes": shapes}, indent=2))
    else:
        print(format_table(report))
        print("\nShapes Presidio alone misses (evals/pii_shapes.py):")
        print(format_table(shapes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
