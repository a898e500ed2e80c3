"""PII detection and masking: Presidio behind a port, and the guard every writer goes through.

`redaction` holds the `Redactor` port and its Presidio adapter (`PresidioRedactor`) with
`MaskingSession` (stable placeholders); `recognizers` the recognizers it runs (with
`redaction`, the only modules importing presidio); `settings` (`RedactionSettings`), `types`
(`PiiFinding`) and `vocabulary` (the corpus's own words, not masked) are its inputs;
`findings_store` keeps the findings computed at ingest; `analysis_pool` runs the analysis in
worker processes (`python -m policies.pii.analysis_worker`). `guard` (`PiiGuard`) is the one
choke point for traces, logs and audit rows (request scopes, pseudonyms), and `masking_worker`
(`MaskingWorker`) masks and delivers their values off the request path.
"""

__all__ = [
    "analysis_pool",
    "analysis_worker",
    "findings_store",
    "guard",
    "masking_worker",
    "recognizers",
    "redaction",
    "settings",
    "types",
    "vocabulary",
]
