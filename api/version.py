"""The installed Proofdesk version: the OpenAPI document and `proofdesk_build_info` show it."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["proofdesk_version"]


@cache
def proofdesk_version() -> str:
    """The distribution's version, or "unknown" when run from a tree that is not installed."""
    try:
        return version("proofdesk")
    except PackageNotFoundError:
        return "unknown"
