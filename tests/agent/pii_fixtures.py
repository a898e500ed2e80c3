"""The labelled PII sample (tests/policies/data/pii_sample.json) and one shared real redactor,
for the tests that prove nothing raw leaves a request (traces, logs, audit rows)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import SecretStr

from policies.pii.guard import PiiGuard
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings

__all__ = ["PII_SAMPLE", "LabelledText", "labelled_texts", "leaked_values", "make_guard"]

PII_SAMPLE = Path(__file__).resolve().parents[1] / "policies" / "data" / "pii_sample.json"
TEST_HMAC_SECRET = "test-only-pseudonym-key"


@dataclass(frozen=True)
class LabelledText:
    text: str
    values: tuple[str, ...]  # the labelled PII values inside `text`
    name_parts: tuple[str, ...]  # each word of a labelled PERSON (a half-masked name leaks)


@cache
def labelled_texts() -> tuple[LabelledText, ...]:
    rows = json.loads(PII_SAMPLE.read_text(encoding="utf-8"))
    return tuple(
        LabelledText(
            text=row["full_text"],
            values=tuple(span["entity_value"] for span in row["spans"]),
            name_parts=tuple(
                part
                for span in row["spans"]
                if span["entity_type"] == "PERSON"
                for part in span["entity_value"].split()
                if len(part) >= 3
            ),
        )
        for row in rows
    )


@cache
def _redactor() -> PresidioRedactor:
    return PresidioRedactor(settings=RedactionSettings(hmac_secret=SecretStr(TEST_HMAC_SECRET)))


def make_guard() -> PiiGuard:
    """A fresh guard over the shared (expensive to build) Presidio redactor."""
    return PiiGuard(redactor=_redactor())


def leaked_values(haystack: str, values: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """Labelled values and person-name parts (all of the sample by default) found in
    `haystack` as whole words."""
    wanted = (
        values
        if values is not None
        else [v for t in labelled_texts() for v in (*t.values, *t.name_parts)]
    )
    return sorted(
        {v for v in wanted if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", haystack) is not None}
    )
