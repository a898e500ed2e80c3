"""Contact details: e-mail addresses, phone numbers and IP addresses."""

from __future__ import annotations

import regex  # type: ignore[import-untyped]
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import IpRecognizer

from policies.pii.recognizers.patterns import (
    CASE_INSENSITIVE,
    CheckedPatternRecognizer,
    pattern,
)

__all__ = ["email_recognizer", "ip_recognizer", "phone_recognizer"]

_PHONE_CONTEXT = [
    "phone", "telephone", "tel", "call", "cell", "mobile", "fax", "desk", "office", "number",
    "contact", "reach", "sms", "text", "whatsapp", "extension", "ext",
]  # fmt: skip


# Words that make a bare digit run right after them a phone number (matched as whole words).
_PHONE_LABELS = (
    "phone", "telephone", "tel", "call", "called", "calling", "cell", "cellphone", "mobile",
    "fax", "sms", "text", "texted", "whatsapp", "reach", "dial", "number",
)  # fmt: skip


def email_recognizer() -> PatternRecognizer:
    # Instead of Presidio's EmailRecognizer: it validates the top-level domain with tldextract,
    # which fetches the public suffix list from the internet, and `ann@mail.corp.internal`
    # would leak. This one accepts any dotted domain ending in letters.
    return PatternRecognizer(
        supported_entity="EMAIL_ADDRESS",
        name="AnyDomainEmailRecognizer",
        patterns=[
            pattern("email_any_domain", r"\b[\w.%+'-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", 0.9)
        ],
        global_regex_flags=CASE_INSENSITIVE,
    )


_DATE_LIKE = regex.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}\b|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


_IP_LIKE = regex.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def _not_a_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    stripped = text.strip()
    return (
        not 7 <= digits <= 15 or bool(_DATE_LIKE.match(stripped)) or bool(_IP_LIKE.match(stripped))
    )


def phone_recognizer() -> EntityRecognizer:
    # Instead of Presidio's PhoneRecognizer: python-phonenumbers only knows numbers valid in the
    # regions it is asked about, misses many international formats ("0490 75 40 81",
    # "(37) 788-063", "03.93.92.16.85") and costs three quarters of the patterns engine's time.
    # Digit groups with separators, 7 to 15 digits, not a date or an IPv4 address.
    group_sep = r"(?:[ \t]?[-.][ \t]?|[ \t])"
    grouped = (
        r"(?<![\w+.\-/])(?:\+\d{1,3}[ \t.\-]?(?:\(0\)[ \t]?)?)?(?:\(\d{1,4}\)[ \t]?)?"
        rf"\d{{1,6}}(?:{group_sep}\d{{2,6}}){{1,5}}"
        r"(?:[ \t]?(?:x|ext\.?|extension)[ \t]?\d{1,5})?(?![\w:]|[.\-]\d)"
    )
    # A bare run of digits is a phone number only next to a context word ("Fax: 9498777106").
    bare = r"(?<![\w+.\-/])\+?\d{7,13}(?![\w\-]|\.\d)"
    # "call me back at 4155550199": a phone word shortly before a bare 10 or 11 digit run is as
    # strong as a grouped number (Presidio's context window misses it a few words away).
    labelled = (
        rf"(?<=\b(?i:{'|'.join(_PHONE_LABELS)})\b[^\d\n]{{0,24}})"
        r"(?<![\w+.\-/])\+?1?\d{10}(?![\w\-]|\.\d)"
    )
    return CheckedPatternRecognizer(
        reject=_not_a_phone,
        supported_entity="PHONE_NUMBER",
        name="PhoneFormatRecognizer",
        patterns=[
            pattern("grouped_digits", grouped, 0.4),
            pattern("bare_digits", bare, 0.1),
            pattern("labelled_bare_digits", labelled, 0.6),
        ],
        context=_PHONE_CONTEXT,
        global_regex_flags=CASE_INSENSITIVE,
    )


def ip_recognizer() -> EntityRecognizer:
    # The IPv4/IPv6 patterns validate every octet: strong enough to outrank a phone reading
    # of "192.168.1.254".
    patterns = [
        Pattern(name=p.name, regex=p.regex, score=0.9 if p.score >= 0.5 else p.score)
        for p in IpRecognizer.PATTERNS
    ]
    return IpRecognizer(patterns=patterns)
