"""Numbers and codes that identify someone or something: internal ids and host names, payment
cards, national identifiers (US SSN, UK NINO), driver licences and dates of birth."""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, PatternRecognizer
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, UsLicenseRecognizer

from policies.pii.recognizers.patterns import (
    CASE_INSENSITIVE,
    CASE_SENSITIVE,
    MONTH,
    CheckedPatternRecognizer,
    pattern,
)

__all__ = [
    "ShortCodeFreeLicenseRecognizer",
    "credit_card_recognizer",
    "date_of_birth_recognizer",
    "hostname_recognizer",
    "id_recognizer",
    "labelled_ssn_recognizer",
    "uk_nino_recognizer",
]

# --- internal identifiers -----------------------------------------------------------------


def id_recognizer(entity: str, name: str, expressions: Sequence[str]) -> PatternRecognizer | None:
    if not expressions:
        return None
    patterns = [pattern(f"{name}_{i}", expr, 0.9) for i, expr in enumerate(expressions)]
    return PatternRecognizer(
        supported_entity=entity, name=name, patterns=patterns, global_regex_flags=CASE_SENSITIVE
    )


def hostname_recognizer(
    suffixes: Sequence[str], deny_list: Sequence[str]
) -> PatternRecognizer | None:
    patterns = []
    if suffixes:
        tail = "|".join(re.escape(s) for s in sorted(suffixes, key=len, reverse=True))
        patterns.append(
            pattern(
                "internal_suffix",
                rf"(?<![\w.@-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{tail})\b(?!\.\w)",
                0.8,
            )
        )
    if not patterns and not deny_list:
        return None
    return PatternRecognizer(
        supported_entity="INTERNAL_HOSTNAME",
        name="InternalHostnameRecognizer",
        patterns=patterns,
        deny_list=list(deny_list),
        deny_list_score=0.9,
        global_regex_flags=CASE_INSENSITIVE,
    )


def credit_card_recognizer() -> EntityRecognizer:
    # Presidio's default only knows some issuer prefixes; any Luhn-valid 12-19 digit run counts.
    any_issuer = pattern("any_issuer_luhn", r"(?<![\w\-])\d(?:[ \-]?\d){11,18}(?![\w\-]|\.\d)", 0.3)
    # "4111.1111.1111.1111": groups of four joined by dots (read as a MAC address otherwise).
    dotted = pattern(
        "dotted_groups_luhn", r"(?<![\w.\-])\d{4}(?:\.\d{4}){2}\.\d{1,7}(?![\w.])", 0.3
    )
    return CreditCardRecognizer(
        patterns=[*CreditCardRecognizer.PATTERNS, any_issuer, dotted],
        replacement_pairs=[("-", ""), (" ", ""), (".", "")],  # digits only for the Luhn check
    )


# --- national identifiers and dates of birth ------------------------------------------------------

_SSN_LABEL = r"(?i:ssn|ss\#|ss[ \t]?no\.?|social[ \t]+security(?:[ \t]+(?:number|no\.?|\#))?)"


def _invalid_ssn(text: str) -> bool:
    digits = "".join(ch for ch in text if ch.isdigit())
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (
        len(digits) != 9
        or area in ("000", "666")
        or area.startswith("9")
        or group == "00"
        or serial == "0000"
    )


def labelled_ssn_recognizer() -> EntityRecognizer:
    # "SSN 536228471": Presidio scores an unformatted nine-digit run "very weak" (a phone
    # reading may win or nothing is masked); after an SSN label it is an SSN.
    return CheckedPatternRecognizer(
        reject=_invalid_ssn,
        supported_entity="US_SSN",
        name="LabelledSsnRecognizer",
        patterns=[
            pattern(
                "labelled_ssn",
                rf"(?<=\b{_SSN_LABEL}[^\d\n]{{0,20}})(?<![\w\-])\d{{3}}([ .\-]?)\d{{2}}\1\d{{4}}"
                r"(?![\w\-]|\.\d)",
                0.85,
            )
        ],
        context=[],
        global_regex_flags=CASE_SENSITIVE,
    )


def uk_nino_recognizer() -> PatternRecognizer:
    # UK National Insurance number "QQ 12 34 56 C": two letters, three pairs of digits, A-D.
    # Looser than HMRC's allocation rules (QQ is its own example prefix): a masker errs wide.
    return PatternRecognizer(
        supported_entity="UK_NINO",
        name="UkNinoRecognizer",
        patterns=[
            pattern(
                "nino",
                r"(?<![\w\-])(?:[A-Z]{2}|[a-z]{2})"
                r"[ \t]?\d{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?[A-Da-d](?![\w\-])",
                0.6,
            )
        ],
        context=["national", "insurance", "ni", "nino", "nic"],
        global_regex_flags=CASE_SENSITIVE,
    )


_BIRTH_LABEL = (
    r"\b(?:born(?:[ \t]+on)?|date[ \t]+of[ \t]+birth|birth[ \t]?date|birthday|d\.?o\.?b\.?)"
    r"(?:[ \t]*[:\-])?[ \t]*(?:(?:is|was|on)[ \t]+)?"
)


def date_of_birth_recognizer() -> PatternRecognizer:
    # A date is not PII, a date of birth is: only a date right after "born", "DOB", ...
    date = (
        rf"\d{{1,2}}[./\-]\d{{1,2}}[./\-]\d{{2,4}}|\d{{4}}[./\-]\d{{1,2}}[./\-]\d{{1,2}}"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{MONTH},?[ \t]+\d{{4}}"
        rf"|{MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}}"
    )
    return PatternRecognizer(
        supported_entity="DATE_OF_BIRTH",
        name="DateOfBirthRecognizer",
        patterns=[pattern("labelled_birth_date", rf"(?<={_BIRTH_LABEL})(?:{date})(?!\d)", 0.85)],
        global_regex_flags=CASE_INSENSITIVE,
    )


class ShortCodeFreeLicenseRecognizer(UsLicenseRecognizer):
    """Presidio's US driver licence patterns without the short codes they also match.

    Its weak pattern takes a letter and one digit ("L5", a salary level) as a licence number;
    no US state issues one shorter than six characters.
    """

    def invalidate_result(self, pattern_text: str) -> bool:
        return sum(ch.isalnum() for ch in pattern_text) < 6
