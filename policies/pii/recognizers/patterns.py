"""What the pattern recognizers share: regex flags, a pattern with a validity check, months.

Patterns run with the `regex` module (Presidio's), which allows variable-length look-behind:
a credential's label ("password: ") stays readable and only its value is masked.
"""

from __future__ import annotations

from collections.abc import Callable

import regex  # type: ignore[import-untyped]  # Presidio's regex engine: \p{L}, look-behind
from presidio_analyzer import Pattern, PatternRecognizer

__all__ = ["CASE_INSENSITIVE", "CASE_SENSITIVE", "MONTH", "CheckedPatternRecognizer", "pattern"]

CASE_SENSITIVE = regex.DOTALL | regex.MULTILINE
CASE_INSENSITIVE = CASE_SENSITIVE | regex.IGNORECASE

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)


class CheckedPatternRecognizer(PatternRecognizer):
    """A pattern recognizer whose matches are dropped when `reject(match_text)` is true."""

    def __init__(
        self,
        *,
        reject: Callable[[str], bool],
        supported_entity: str,
        name: str,
        patterns: list[Pattern],
        context: list[str],
        global_regex_flags: int,
    ) -> None:
        super().__init__(
            supported_entity=supported_entity,
            name=name,
            patterns=patterns,
            context=context,
            global_regex_flags=global_regex_flags,
        )
        self._reject = reject

    def invalidate_result(self, pattern_text: str) -> bool:
        return self._reject(pattern_text)


def pattern(name: str, expression: str, score: float) -> Pattern:
    """A named Presidio pattern (shorthand)."""
    return Pattern(name=name, regex=expression, score=score)
