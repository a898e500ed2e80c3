"""The evaluation suites `proofdesk eval` runs (`evals.cli`), one module per suite.

Each suite reads its data set, runs it through the real pipeline and returns its metrics;
`evals.reporting` turns them into a report checked against `evals/thresholds.yaml`.
`answer_calibration` is the answers suite's threshold estimate.
"""

__all__ = [
    "answer_calibration",
    "answers",
    "injection",
    "injection_screen",
    "leakage",
    "llm_injection",
    "pii",
    "pii_kb",
    "pii_trace",
    "retrieval",
]
