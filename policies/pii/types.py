"""What PII detection reports, shared by the redactor and the findings store."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PiiFinding"]


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One detected value: its type, its character span in the text (end exclusive), its score."""

    entity_type: str
    start: int
    end: int
    score: float
