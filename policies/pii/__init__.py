"""PII detection and masking: Presidio behind a port, and the guard every writer goes through.

`port` holds the `Redactor` port (and `Prefetching`, `PseudonymKeyMissingError`);
`masking_session` the `MaskingSession` (stable placeholders per request) and how findings
become the spans a mask replaces. `redaction` is the Presidio adapter (`PresidioRedactor`);
with `spacy_engine` (the bundled spaCy model) and the `recognizers` package, the only modules
importing presidio and spaCy. `segments` cuts texts at citation seams and into windows,
`findings_cache` keeps findings in memory by text digest, `findings_store` keeps those computed
at ingest; `settings` (`RedactionSettings`), `types` (`PiiFinding`) and `vocabulary` (the
corpus's own words, not masked) are the adapter's inputs; `analysis_pool` runs the analysis in
worker processes (`python -m policies.pii.analysis_worker`). `guard` (`PiiGuard`) is the one
choke point for traces, logs and audit rows (request scopes, pseudonyms), and `masking_worker`
(`MaskingWorker`) masks and delivers their values off the request path.

Import from the modules: importing the package loads neither presidio nor spaCy.
"""

__all__ = [
    "analysis_pool",
    "analysis_worker",
    "findings_cache",
    "findings_store",
    "guard",
    "masking_session",
    "masking_worker",
    "port",
    "recognizers",
    "redaction",
    "segments",
    "settings",
    "spacy_engine",
    "types",
    "vocabulary",
]
