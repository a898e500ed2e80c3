"""Placeholders for one request (`MaskingSession`), and the spans a mask replaces.

Placeholders (`<PERSON_1>`, `<EMAIL_ADDRESS_2>`) are stable within a session, so a masked
conversation still reads coherently, and never carry the value they replace.
"""

from __future__ import annotations

import re
import threading
from collections import Counter

from policies.pii.types import PiiFinding

__all__ = ["MaskingSession", "merge_findings"]

_PLACEHOLDER_PARTS = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")
# Values compared without their punctuation, so "555-0100" and "555 0100" share a placeholder.
_DIGIT_LIKE = frozenset(
    {"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_BANK_NUMBER", "UK_NINO"}
)


class MaskingSession:
    """Placeholders for one request: the same value gets the same placeholder in every call.

    Thread-safe. It holds the raw values it has seen, so it must live no longer than the request
    and never be logged or persisted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: Counter[str] = Counter()

    def placeholder(self, entity_type: str, value: str) -> str:
        key = (entity_type, _normalise(entity_type, value))
        with self._lock:
            found = self._by_value.get(key)
            if found is None:
                self._counts[entity_type] += 1
                found = f"<{entity_type}_{self._counts[entity_type]}>"
                self._by_value[key] = found
            return found

    def reserve(self, placeholder: str) -> None:
        """Take `placeholder` (`<PERSON_3>`, written by another session: a recorded answer's)
        out of the numbering, so no new value is given it or a lower number of its type."""
        found = _PLACEHOLDER_PARTS.fullmatch(placeholder)
        if found is None:
            return
        entity_type, number = found.group(1), int(found.group(2))
        with self._lock:
            self._counts[entity_type] = max(self._counts[entity_type], number)

    def bind(self, placeholder: str, value: str) -> bool:
        """Give `value` the placeholder another session gave it (a recorded answer's, matched
        against the raw text it came from), so this session's masks agree with that record.
        Refused (False) when `value` has a placeholder here already or `placeholder` stands for
        another value: one placeholder never stands for two values."""
        found = _PLACEHOLDER_PARTS.fullmatch(placeholder)
        if found is None or not value.strip():
            return False
        entity_type = found.group(1)
        key = (entity_type, _normalise(entity_type, value))
        with self._lock:
            if key in self._by_value or placeholder in self._by_value.values():
                return self._by_value.get(key) == placeholder
            self._by_value[key] = placeholder
            self._counts[entity_type] = max(self._counts[entity_type], int(found.group(2)))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_value)


def _normalise(entity_type: str, value: str) -> str:
    if entity_type in _DIGIT_LIKE:
        return "".join(ch for ch in value if ch.isalnum()).casefold()
    return " ".join(value.split()).casefold()


def merge_findings(findings: list[PiiFinding], text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping spans to replace.

    Overlapping findings are united, never trimmed, so no character of any finding survives;
    the united span takes the type of its strongest finding. Same-type neighbours separated by
    blanks only ("Jane" "Doe") become one span. Presidio's AnonymizerEngine resolves overlaps by
    trimming and has no per-request placeholder numbering, hence this small merge of our own.
    """
    merged: list[tuple[int, int, str, float, int]] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged:
            start, end, kind, score, length = merged[-1]
            overlaps = f.start < end
            neighbours = f.entity_type == kind and not text[end : f.start].strip(" \t")
            if overlaps or neighbours:
                stronger = (f.score, f.end - f.start) > (score, length)
                merged[-1] = (
                    start,
                    max(end, f.end),
                    f.entity_type if stronger else kind,
                    max(score, f.score),
                    max(length, f.end - f.start),
                )
                continue
        merged.append((f.start, f.end, f.entity_type, f.score, f.end - f.start))
    return [(start, end, kind) for start, end, kind, _, _ in merged]
