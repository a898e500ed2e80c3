"""The `Redactor` port: what finds and masks PII, as traces, logs and audit rows see it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from infra.errors import ConfigurationError
from policies.pii.masking_session import MaskingSession
from policies.pii.types import PiiFinding

__all__ = ["Prefetching", "PseudonymKeyMissingError", "Redactor"]


class PseudonymKeyMissingError(ConfigurationError, RuntimeError):
    """`pseudonymize` was called but no `hmac_secret` is configured."""


@runtime_checkable
class Prefetching(Protocol):
    """A redactor that can load what it knows about several texts at once (`PresidioRedactor`
    reads the findings stored at ingest in one query)."""

    def prefetch(self, texts: Iterable[str]) -> None: ...


@runtime_checkable
class Redactor(Protocol):
    """Finds and masks PII. Implementations are built once and shared by concurrent requests."""

    @property
    def entities(self) -> frozenset[str]:
        """The entity types this redactor reports."""

    def find(self, text: str) -> list[PiiFinding]:
        """Findings sorted by position; they may overlap."""

    def mask(self, text: str, *, session: MaskingSession | None = None) -> str:
        """`text` with every finding replaced by a placeholder; a new session when None."""
