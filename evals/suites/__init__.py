"""The evaluation suites `proofdesk eval` runs (`evals.cli`), one module per suite.

Each suite reads its data set, runs it through the real pipeline and returns its metrics;
`evals.reporting` turns them into a report checked against `evals/thresholds.yaml`.
Beside the suites, their parts: `clapnq`, `answer_judging`, `answer_metrics` and
`answer_calibration` (the answers suite's data, judging, figures and threshold estimate);
`leakage_kb` and `leakage_worlds` (the leakage suite's ground truth and the worlds it probes).
"""

__all__ = [
    "answer_calibration",
    "answer_judging",
    "answer_metrics",
    "answers",
    "clapnq",
    "injection",
    "injection_screen",
    "leakage",
    "leakage_kb",
    "leakage_worlds",
    "llm_injection",
    "pii",
    "pii_kb",
    "pii_trace",
    "retrieval",
]
