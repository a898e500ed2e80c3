"""Who may read what (`access/`), PII detection and masking (`pii/`), and injection screening.

This package knows nothing of Qdrant or of any other package of ours but `infra`.
"""
