"""`ConfigurationError`: the base of every configuration mistake, apart from request-time errors.

A settings file, the sources file, the access policy, the API keys file, a prompt template, the
model files: a mistake in one of them is found at start-up or by a CLI command, and is reported
as one line naming the file or the key (the CLI catches this class in one place,
`api.cli.common.translated_errors`). Errors of one request (an invalid question, an unknown
answer, a busy source) are the domain's own and are mapped to HTTP in `api.errors`.

Each subclass keeps the built-in base it had (`ValueError`, `RuntimeError`), so code that
catches those still does.
"""

from __future__ import annotations

__all__ = ["ConfigurationError"]


class ConfigurationError(Exception):
    """A configuration mistake: fixed by editing a file or a setting, not by retrying."""
