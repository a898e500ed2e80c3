"""Who may read what: principals, access rules, access filters, PII masking and injection screening.

This package knows nothing of Qdrant or of any other package of ours.
"""
