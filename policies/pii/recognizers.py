"""Presidio recognizers for what a helpdesk leaks, and the set of built-in ones we keep.

Part of the Presidio adapter: only this module and `policies.pii.redaction` import presidio.
Patterns run with the `regex` module (Presidio's), which allows variable-length look-behind:
a credential's label ("password: ") stays readable and only its value is masked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import regex  # type: ignore[import-untyped]  # Presidio's regex engine: \p{L}, look-behind
from presidio_analyzer import (
    EntityRecognizer,
    LocalRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    DateRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MacAddressRecognizer,
    SpacyRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)

from policies.pii.settings import RedactionSettings

__all__ = [
    "NER_ENTITIES",
    "AddressRecognizer",
    "build_recognizers",
    "expand_person_spans",
    "implausible_name",
    "is_region",
    "needs_part_of_speech",
    "not_a_person_in",
]

# Entities only a NER model finds (the `patterns` engine cannot report them).
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})

_CASE_SENSITIVE = regex.DOTALL | regex.MULTILINE
_CASE_INSENSITIVE = _CASE_SENSITIVE | regex.IGNORECASE

_PHONE_CONTEXT = [
    "phone", "telephone", "tel", "call", "cell", "mobile", "fax", "desk", "office", "number",
    "contact", "reach", "sms", "text", "whatsapp", "extension", "ext",
]  # fmt: skip


# Words that make a bare digit run right after them a phone number (matched as whole words).
_PHONE_LABELS = (
    "phone", "telephone", "tel", "call", "called", "calling", "cell", "cellphone", "mobile",
    "fax", "sms", "text", "texted", "whatsapp", "reach", "dial", "number",
)  # fmt: skip


class _CheckedPatternRecognizer(PatternRecognizer):
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


def _pattern(name: str, expression: str, score: float) -> Pattern:
    return Pattern(name=name, regex=expression, score=score)


# --- credentials ---------------------------------------------------------------------------

_SECRET_VALUE = r"[A-Za-z0-9._~+/=\-]{8,}"  # noqa: S105 - a pattern, not a secret
_KEY_LABEL = (
    r"(?i:api[_\- ]?key|apikey|x-api-key|secret(?:[_\- ]?key)?|client[_\- ]?secret"
    r"|access[_\- ]?token|auth[_\- ]?token|refresh[_\- ]?token|token|private[_\- ]?key"
    r"|aws_secret_access_key|session[_\- ]?key)"
)


def _api_key_recognizer() -> PatternRecognizer:
    patterns = [
        _pattern("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", 0.9),
        _pattern("github_token", r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", 0.9),
        _pattern("github_pat", r"\bgithub_pat_[A-Za-z0-9_]{30,}\b", 0.9),
        _pattern("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0.9),
        _pattern("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+", 0.9),
        _pattern("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
        _pattern("stripe_key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}\b", 0.9),
        _pattern("openai_style_key", r"\bsk-[A-Za-z0-9_-]{20,}\b", 0.8),
        _pattern("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.9),
        _pattern("bearer", r"(?<=\b(?i:bearer)\s+)[A-Za-z0-9._~+/\-]{16,}=*", 0.8),
        _pattern(
            "private_key_block",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            0.95,
        ),
        _pattern(
            "labelled_secret",
            # a value with a digit, or a long one: not "the token is required"
            rf"(?<=\b{_KEY_LABEL}[\"']?\s*(?:[:=]|\bis\b)\s*[\"']?)"
            rf"(?=[^\s\"']*\d|[A-Za-z0-9._~+/=\-]{{20}}){_SECRET_VALUE}",
            0.7,
        ),
    ]
    return PatternRecognizer(
        supported_entity="API_KEY",
        name="ApiKeyRecognizer",
        patterns=patterns,
        global_regex_flags=_CASE_SENSITIVE,
    )


_PASSWORD_LABEL = r"(?:password|passwort|passwd|passphrase|passcode|pwd|pw|pass|pin)"  # noqa: S105


def _password_recognizer() -> PatternRecognizer:
    # The value is masked, the label kept: "password: <PASSWORD_1>".
    patterns = [
        _pattern(
            "labelled_password",
            rf"(?<=\b{_PASSWORD_LABEL}[\"']?\s*[:=]\s*)(?![<\[])[^\s\"']+|"
            rf"(?<=\b{_PASSWORD_LABEL}[\"']?\s*[:=]\s*[\"'])[^\"'\n]+",
            0.8,
        ),
        # In prose ("my password is Tr0ub4dor&3") only a password-shaped value counts (a digit,
        # a symbol or an inner capital): "the password is required" stays readable, and a
        # plain-word password said this way is the accepted miss.
        _pattern(
            "password_is",
            rf"(?<=\b{_PASSWORD_LABEL}\s+(?:(?:is|was|to|=)\s+|(?:is|was)\s+(?:now|still)\s+)"
            r"[\"']?)(?=[^\s\"']*(?:\d|[^\w\s\"'.,;!?)]|(?-i:\w\p{Lu})))"
            r"[^\s\"']*[^\s\"'.,;!?)]",
            0.7,
        ),
    ]
    return PatternRecognizer(
        supported_entity="PASSWORD",
        name="PasswordRecognizer",
        patterns=patterns,
        global_regex_flags=_CASE_INSENSITIVE,
    )


# --- internal identifiers -----------------------------------------------------------------


def _id_recognizer(entity: str, name: str, expressions: Sequence[str]) -> PatternRecognizer | None:
    if not expressions:
        return None
    patterns = [_pattern(f"{name}_{i}", expr, 0.9) for i, expr in enumerate(expressions)]
    return PatternRecognizer(
        supported_entity=entity, name=name, patterns=patterns, global_regex_flags=_CASE_SENSITIVE
    )


def _hostname_recognizer(
    suffixes: Sequence[str], deny_list: Sequence[str]
) -> PatternRecognizer | None:
    patterns = []
    if suffixes:
        tail = "|".join(re.escape(s) for s in sorted(suffixes, key=len, reverse=True))
        patterns.append(
            _pattern(
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
        global_regex_flags=_CASE_INSENSITIVE,
    )


# --- contact details and money ---------------------------------------------------------------


def _email_recognizer() -> PatternRecognizer:
    # Instead of Presidio's EmailRecognizer: it validates the top-level domain with tldextract,
    # which fetches the public suffix list from the internet, and `ann@mail.corp.internal`
    # would leak. This one accepts any dotted domain ending in letters.
    return PatternRecognizer(
        supported_entity="EMAIL_ADDRESS",
        name="AnyDomainEmailRecognizer",
        patterns=[
            _pattern("email_any_domain", r"\b[\w.%+'-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", 0.9)
        ],
        global_regex_flags=_CASE_INSENSITIVE,
    )


_DATE_LIKE = regex.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}\b|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


_IP_LIKE = regex.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def _not_a_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    stripped = text.strip()
    return (
        not 7 <= digits <= 15 or bool(_DATE_LIKE.match(stripped)) or bool(_IP_LIKE.match(stripped))
    )


def _phone_recognizer() -> EntityRecognizer:
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
    return _CheckedPatternRecognizer(
        reject=_not_a_phone,
        supported_entity="PHONE_NUMBER",
        name="PhoneFormatRecognizer",
        patterns=[
            _pattern("grouped_digits", grouped, 0.4),
            _pattern("bare_digits", bare, 0.1),
            _pattern("labelled_bare_digits", labelled, 0.6),
        ],
        context=_PHONE_CONTEXT,
        global_regex_flags=_CASE_INSENSITIVE,
    )


def _ip_recognizer() -> EntityRecognizer:
    # The IPv4/IPv6 patterns validate every octet: strong enough to outrank a phone reading
    # of "192.168.1.254".
    patterns = [
        Pattern(name=p.name, regex=p.regex, score=0.9 if p.score >= 0.5 else p.score)
        for p in IpRecognizer.PATTERNS
    ]
    return IpRecognizer(patterns=patterns)


def _credit_card_recognizer() -> EntityRecognizer:
    # Presidio's default only knows some issuer prefixes; any Luhn-valid 12-19 digit run counts.
    any_issuer = _pattern(
        "any_issuer_luhn", r"(?<![\w\-])\d(?:[ \-]?\d){11,18}(?![\w\-]|\.\d)", 0.3
    )
    # "4111.1111.1111.1111": groups of four joined by dots (read as a MAC address otherwise).
    dotted = _pattern(
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


def _labelled_ssn_recognizer() -> EntityRecognizer:
    # "SSN 536228471": Presidio scores an unformatted nine-digit run "very weak" (a phone
    # reading may win or nothing is masked); after an SSN label it is an SSN.
    return _CheckedPatternRecognizer(
        reject=_invalid_ssn,
        supported_entity="US_SSN",
        name="LabelledSsnRecognizer",
        patterns=[
            _pattern(
                "labelled_ssn",
                rf"(?<=\b{_SSN_LABEL}[^\d\n]{{0,20}})(?<![\w\-])\d{{3}}([ .\-]?)\d{{2}}\1\d{{4}}"
                r"(?![\w\-]|\.\d)",
                0.85,
            )
        ],
        context=[],
        global_regex_flags=_CASE_SENSITIVE,
    )


def _uk_nino_recognizer() -> PatternRecognizer:
    # UK National Insurance number "QQ 12 34 56 C": two letters, three pairs of digits, A-D.
    # Looser than HMRC's allocation rules (QQ is its own example prefix): a masker errs wide.
    return PatternRecognizer(
        supported_entity="UK_NINO",
        name="UkNinoRecognizer",
        patterns=[
            _pattern(
                "nino",
                r"(?<![\w\-])(?:[A-Z]{2}|[a-z]{2})"
                r"[ \t]?\d{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?[A-Da-d](?![\w\-])",
                0.6,
            )
        ],
        context=["national", "insurance", "ni", "nino", "nic"],
        global_regex_flags=_CASE_SENSITIVE,
    )


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_BIRTH_LABEL = (
    r"\b(?:born(?:[ \t]+on)?|date[ \t]+of[ \t]+birth|birth[ \t]?date|birthday|d\.?o\.?b\.?)"
    r"(?:[ \t]*[:\-])?[ \t]*(?:(?:is|was|on)[ \t]+)?"
)


def _date_of_birth_recognizer() -> PatternRecognizer:
    # A date is not PII, a date of birth is: only a date right after "born", "DOB", ...
    date = (
        rf"\d{{1,2}}[./\-]\d{{1,2}}[./\-]\d{{2,4}}|\d{{4}}[./\-]\d{{1,2}}[./\-]\d{{1,2}}"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTH},?[ \t]+\d{{4}}"
        rf"|{_MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}}"
    )
    return PatternRecognizer(
        supported_entity="DATE_OF_BIRTH",
        name="DateOfBirthRecognizer",
        patterns=[_pattern("labelled_birth_date", rf"(?<={_BIRTH_LABEL})(?:{date})(?!\d)", 0.85)],
        global_regex_flags=_CASE_INSENSITIVE,
    )


class _ShortCodeFreeLicenseRecognizer(UsLicenseRecognizer):
    """Presidio's US driver licence patterns without the short codes they also match.

    Its weak pattern takes a letter and one digit ("L5", a salary level) as a licence number;
    no US state issues one shorter than six characters.
    """

    def invalidate_result(self, pattern_text: str) -> bool:
        return sum(ch.isalnum() for ch in pattern_text) < 6


# --- people and places -----------------------------------------------------------------------

_NAME_WORD = r"\p{Lu}[\p{Ll}\p{Lu}'’\-]*\p{Ll}[\p{Ll}'’\-]*"
_INITIAL = r"\p{Lu}\."
_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:{_NAME_WORD}|{_INITIAL}|\p{{Lu}}(?=[ \t]+\p{{Lu}}))){{0,3}}"
_NOT_A_NAME = (
    r"(?!(?:Team|Teams|All|Everyone|There|Support|Sir|Madam|Customer|Service|Sales|Admin|"
    r"The|This|That|Thanks|Thank|Please|Regards|Best|Kind|Hello|Hi|Dear)\b)"
)


def _person_recognizer() -> PatternRecognizer:
    title = r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Mme|Mlle|Herr|Frau)\.?[ \t]+"
    strong = (
        r"\b(?i:my name is|my name's|name is|name:|names?[ \t]+are|dear|signed|called|"
        r"surname:|first name:|last name:|full name:|employee:|user:|requester:|assignee:|"
        r"on behalf of|contact person:?|\w+[ \t]+(?:by|to|for):|(?:reported|requested|"
        r"assigned|reassigned|approved|created|submitted|escalated|directed|written|sent|opened|"
        r"closed|resolved|handled|raised|logged|managed|delegated|transferred)[ \t]+(?:by|to))"
        r"[ \t\n]+"
    )
    weak = (
        r"(?:^|(?<=[.!?]\s))(?i:hi|hello|hey|thanks|thank you|regards|cheers|best|"
        r"sincerely|yours)[,!]?[ \t\n]+"
    )
    addressed = (
        r"\b(?i:ask|ping|tell|contact|cc|message|notify|inform|email|call|loop in|"
        r"escalate to|forward to|forwarded to|thanks to)[ \t]+"
    )
    preposition = r"\b(?i:for|to|by|with|from|cc|and)[ \t]+"
    full_name = rf"{_NAME_WORD}(?:[ \t]+{_INITIAL})?[ \t]+{_NAME_WORD}"
    table_name = rf"{_NAME_WORD}(?:[ \t]{_INITIAL})?[ \t]{_NAME_WORD}(?:[ \t]{_NAME_WORD})?"
    lower_name = r"\p{Ll}[\p{Ll}'’\-]+(?:[ \t]+\p{Ll}[\p{Ll}'’\-]+)?(?=[ \t]*(?:[.,;!?]|$))"
    not_a_word = (
        r"(?!(?:not|invalid|wrong|incorrect|missing|required|already|the|a|an|too|still|"
        r"spelled|empty|blank|unknown)\b)"
    )
    patterns = [
        _pattern("title_name", rf"(?<={title}){_NAME}", 0.6),
        _pattern("introduced_name", rf"(?<={strong}){_NOT_A_NAME}{_NAME}", 0.6),
        _pattern("greeting_name", rf"(?<={weak}){_NOT_A_NAME}{_NAME}", 0.45),
        _pattern("addressed_name", rf"(?<={addressed}){_NOT_A_NAME}{_NAME}", 0.45),
        # "reset the password for Tomasz Kowalczyk": a first and a last name after a preposition
        _pattern(
            "full_name_after_preposition", rf"(?<={preposition}){_NOT_A_NAME}{full_name}", 0.45
        ),
        # a cell of a fixed-width or pipe table: "  2    Oscar Lindgren       EMP-004390"
        _pattern(
            "table_cell_name",
            rf"(?:(?<=[ \t]{{2}})|(?<=\|[ \t]?)){_NOT_A_NAME}{table_name}"
            r"(?=[ \t]{2,}|[ \t]*\||[ \t]+\(|[ \t]*$)|"
            rf"(?<=^[ \t]?){_NOT_A_NAME}{table_name}(?=[ \t]{{2,}}|[ \t]*\|)",
            0.4,
        ),
        _pattern(
            "introduced_lowercase",
            r"(?<=\b(?i:(?:my|first|last|maiden|full|sur)[ \t]?name(?:[ \t]+is|'s|:|\?))"
            rf"[ \t]+){not_a_word}{lower_name}",
            0.5,
        ),
    ]
    return PatternRecognizer(
        supported_entity="PERSON",
        name="PersonCueRecognizer",
        patterns=patterns,
        global_regex_flags=_CASE_SENSITIVE,
    )


# Words that make a capitalised phrase an organisation rather than a person.
_ORG_WORDS = frozenset(
    """inc ltd llc llp plc corp corporation company co group bank university college school
    institute orchestra band solutions systems technologies technology partners services
    insurance foundation agency association council department ministry club hotel
    restaurant data global international holdings labs networks software media health
    capital markets consulting analytics power energy finance financial trust fund gmbh ag
    sa bv oy ab center centre office team desk support store shop airlines motors industries
    enterprises studio studios records press news times weekly review journal magazine
    incorporated associates investments""".split()  # noqa: SIM905
)
# Field labels that open a line ("Phone: ...") and are not a speaker's name.
_FIELD_LABELS = frozenset(
    """name phone email e-mail date time when where subject from to cc bcc re fwd note answer
    question user bot agent customer address mobile desk fax website status priority summary
    description error warning info step example title category type location office
    department team tel ticket id host server url link password username login account
    device model version build result output input reason comment comments update resolution
    cause solution workaround impact urgency owner requester assignee tip important
    caution""".split()  # noqa: SIM905
)
_LINE = regex.compile(r"^[ \t>]*(?P<body>[^\n]*?)[ \t]*$", regex.MULTILINE)
_SPEAKER = regex.compile(r"(?P<name>\p{Lu}[\p{Ll}'’\-]+):[ \t]*\S")
_NAME_LINE = regex.compile(r"\p{Lu}[\p{L}'’\-]+(?:[ \t]+(?:\p{Lu}\.?|\p{Lu}[\p{L}'’\-]+)){1,3}")


def needs_part_of_speech(text: str) -> bool:
    """Whether `NameShapeRecognizer` will read part-of-speech tags in `text`: only a line that
    is a name alone or starts with "Name:" is checked for proper nouns. Everything else needs
    the NER component only (the tagger costs a third of spaCy's time)."""
    for line in _LINE.finditer(text):
        body = line.group("body")
        if _NAME_LINE.fullmatch(body) or _SPEAKER.match(body):
            return True
    return False


# Before a noun phrase, words that make it a thing or a place rather than a person ("a" does
# not: "a Homero Portillo concert"):
# "the Avalara office", "her Allianz letter"; for a single word also "flew to Loeches",
# "arrived at Khandallah", "I work for Citigroup".
_DETERMINERS = frozenset(
    "the this that these those her his their our my your its".split()  # noqa: SIM905
)
_PLACE_PREPOSITIONS = frozenset(
    "at in to from for of near into via across around inside outside visit visited".split()  # noqa: SIM905
)


def _reading(doc: Any, start: int, length: int) -> str | None:
    """How the words before tokens `start`..`start+length` of `doc` make them read: a person,
    a place (one word after a place preposition: still masked) or a thing (None)."""
    before = doc[start - 1].lower_ if start > 0 else ""
    if before in _DETERMINERS:
        return None
    return "LOCATION" if length == 1 and before in _PLACE_PREPOSITIONS else "PERSON"


class NameShapeRecognizer(LocalRecognizer):
    """PERSON where en_core_web_sm misses people that the text's shape gives away.

    - what the model calls an organisation but is shaped like a name ("Miklós Hajdu", "Scott"):
      one to four title-case words, none an organisation word, a stop word or allow-listed; not
      after "the" or a possessive ("the Avalara office"), and a place (LOCATION) when one word
      follows a place preposition ("flew to Loeches");
    - a line holding only two to four proper nouns (signature and address blocks);
    - a chat speaker: a proper noun opening a line and followed by a colon.

    Scores are modest. For a masker, a company masked as a person is a small cost; a person
    left in the clear is the failure.
    """

    def __init__(self, *, allow_list: Sequence[str], score: float = 0.5) -> None:
        super().__init__(supported_entities=["PERSON", "LOCATION"], name="NameShapeRecognizer")
        self._allowed = frozenset(term.casefold() for term in allow_list)
        self._score = score

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or nlp_artifacts.tokens is None or "PERSON" not in entities:
            return []
        doc = nlp_artifacts.tokens
        spans: list[tuple[int, int, float, str]] = []
        for ent in nlp_artifacts.entities:
            if ent.label_ == "ORGANIZATION" and self._name_words(list(ent)):
                reading = _reading(doc, ent.start, len(ent))
                if reading == "PERSON" or (reading is not None and reading in entities):
                    spans.append((ent.start_char, ent.end_char, self._score, reading))
        for line in _LINE.finditer(text):
            start, end = line.span("body")
            body = line.group("body")
            if _NAME_LINE.fullmatch(body):
                span = doc.char_span(start, end, alignment_mode="expand")
                if span is not None and self._name_words(list(span), proper=True):
                    spans.append((start, end, self._score - 0.1, "PERSON"))
            speaker = _SPEAKER.match(body)
            if speaker and speaker.group("name").casefold() not in _FIELD_LABELS:
                s, e = start + speaker.start("name"), start + speaker.end("name")
                span = doc.char_span(s, e, alignment_mode="expand")
                if span is not None and self._name_words(list(span), proper=True):
                    spans.append((s, e, self._score - 0.1, "PERSON"))
        return [
            RecognizerResult(entity_type=kind, start=s, end=e, score=score)
            for s, e, score, kind in spans
        ]

    def _name_words(self, tokens: list[Any], *, proper: bool = False) -> bool:
        words = [t for t in tokens if not t.is_space and t.text != "."]
        if not 1 <= len(words) <= 4:
            return False
        for token in words:
            word: str = token.text
            if len(word) <= 2 and word[:1].isupper() and word[1:] in ("", "."):
                continue  # an initial
            if (
                not word[:1].isupper()
                or word.isupper()
                or not word.replace("-", "").replace("'", "").replace("’", "").isalpha()
                or token.is_stop
                or word.casefold() in _ORG_WORDS
                or word.casefold() in self._allowed
                or (proper and token.tag_ not in ("NNP", "NNPS"))
            ):
                return False
        return True


# Help-desk vocabulary: a "name" holding one of these words is a UI string or a product
# ("Reset Your Password", "Forgot Password"), not a person or a place.
_IT_WORDS = frozenset(
    """password passwords reset settings setting portal account accounts login logon sign
    signin network internet server servers printer laptop desktop update updates install
    uninstall error access admin administrator support service desk helpdesk help ticket
    request license licence click open select choose enable disable forgot profile device
    devices wifi vpn email mail inbox calendar folder file files drive backup restart reboot
    download upload security policy app application software hardware monitor keyboard
    router firewall proxy browser cache certificate user users group groups permission
    permissions role roles channel meeting outage incident issue problem release version
    patch upgrade migration status dashboard report knowledge article guide manual faq step
    steps self-service control panel manager mode center centre explorer preferences options
    menu tab window screen button page site console editor viewer shell terminal wizard
    intranet toolbar taskbar""".split()  # noqa: SIM905
)
_WORDS = regex.compile(r"[\p{L}][\p{L}\-]*")
# "PeopleHub", "ExpensePoint": a capital inside a word after four or more lower-case letters
# joins two words into a product name; names have it after a short prefix only (McKay, DeShawn).
_COMPOUND_WORD = regex.compile(r"\p{Lu}\p{Ll}{4,}\p{Lu}\p{Ll}")
# "Southern Tunisia", "North Carolina": a region, not a person (see `is_region`).
_REGION_WORDS = frozenset(
    "southern northern eastern western central north south east west".split()  # noqa: SIM905
)


def is_region(value: str) -> bool:
    """Whether a name found opens with a compass word ("Southern Tunisia"): a place."""
    words = _WORDS.findall(value)
    return len(words) > 1 and words[0].casefold() in _REGION_WORDS


def implausible_name(value: str, entity_type: str, allow_list: Sequence[str]) -> bool:
    """Whether a name or place found by the NER model or a name heuristic is surely wrong.

    It is when one of its words is allow-listed or help-desk vocabulary ("Control Panel"), or
    when a "person" holds an organisation word or is a short acronym ("KB", "SSO").
    """
    words = [w.casefold() for w in _WORDS.findall(value)]
    if not words:
        return True
    allowed = {t.casefold() for t in allow_list}
    if any(w in allowed or w in _IT_WORDS for w in words):
        return True
    if _COMPOUND_WORD.search(value):  # a product, neither a person nor a place
        return True
    if entity_type != "PERSON":
        return False
    if any(w in _ORG_WORDS for w in words) or any(ch.isdigit() for ch in value):
        return True
    letters = [ch for ch in value if ch.isalpha()]
    return all(ch.isupper() for ch in letters) and all(len(w) <= 4 for w in words)


# After a name: more capitalised words, then an organisation word ("Rapid Cycle Solutions",
# "Davis, Reynolds and Williamson Orchestra", "Aunt Bertha Inc").
_BEFORE_ORG_WORD = regex.compile(
    r"(?:(?:,|[ \t]+(?:and|&))?[ \t]+\p{Lu}[\p{L}'’\-]*){0,3}[ \t]+(?P<word>\p{Lu}[\p{L}.]*)"
)
# A lower-case word of prose, not part of an address or identifier ("priya.raman@...").
_LOWER_WORD = regex.compile(r"(?<![\p{L}\d_@./\-])\p{Ll}{5,}(?![\p{L}\d_@/\-]|\.\w)")


def not_a_person_in(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]`, found as a person, is read otherwise in `text`: the start of
    an organisation's name, or words the text also writes in lower case (an ordinary word:
    "Awarded Salesperson of the Month" beside "a driven salesperson")."""
    org = _BEFORE_ORG_WORD.match(text, end)
    if org is not None and org.group("word").rstrip(".").casefold() in _ORG_WORDS:
        return True
    words = [w for w in regex.findall(r"\p{L}+", text[start:end]) if len(w) >= 5]
    if not words or len(words) != len(regex.findall(r"\p{L}+", text[start:end])):
        return False
    lower = set(_LOWER_WORD.findall(text[:start] + " " + text[end:]))
    return all(w.casefold() in lower for w in words)


_LIST_OF_WORDS = regex.compile(
    r"\p{Lu}[\p{Ll}'’\-]+(?:,[ \t]+\p{Lu}[\p{Ll}'’\-]+)*,?[ \t]+(?:and|&)[ \t]+\p{Lu}[\p{Ll}'’\-]+"
)
_WORD_IN_LIST = regex.compile(r"\p{Lu}[\p{Ll}'’\-]+")


def expand_person_spans(
    text: str, persons: Sequence[tuple[int, int]], *, allow_list: Sequence[str]
) -> list[tuple[int, int]]:
    """More PERSON spans implied by the ones found: repeats and list neighbours.

    Once "Asya Godina" is found, a later "Asya" or "Godina" is the same person and must not
    leak; in "Kónya, Becker and Vasquez", if one member is a person, so are the others.
    """
    allowed = {t.casefold() for t in allow_list} | _ORG_WORDS
    found = set(persons)
    values = {text[s:e] for s, e in persons}
    words = {
        w
        for v in values
        for w in regex.findall(r"\p{Lu}[\p{Ll}'’\-]{2,}", v)
        if w.casefold() not in allowed
    }
    extra: set[tuple[int, int]] = set()
    for value in values | words:
        if value.casefold() in allowed or len(value) < 3:
            continue
        flags = regex.IGNORECASE if value in values else 0
        pattern = regex.compile(rf"(?<!\w){regex.escape(value)}(?!\w)", flags)
        extra.update(m.span() for m in pattern.finditer(text))
    for listing in _LIST_OF_WORDS.finditer(text):
        members = [
            (listing.start() + m.start(), listing.start() + m.end())
            for m in _WORD_IN_LIST.finditer(listing.group())
        ]
        if any(s < pe and ps < e for s, e in members for ps, pe in found):
            extra.update((s, e) for s, e in members if text[s:e].casefold() not in allowed)
    return sorted(extra - found)


_STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Square|Sq|Squares|Streets|Terrace|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Crescent|"
    r"Close|Row|Plaza|Mews|Gardens|Grove|Hill|Park|Walk|Green|Heights|Lodge|Loop|Pike|Ridge|"
    r"Route|Rte|View|Village|Coves?|Courts|Gateway|Extensions?|Unions?|Parks|Pass|Coves"
)
_EU_STREET_SUFFIX = (
    r"katu|tie|kuja|polku|vej|vænget|gade|allé|straße|strasse|str\.|weg|gasse|platz|allee|"
    r"laan|straat|gracht|gatan|vägen|väg|veien|vegen|gata|utca|út|tér|ulica"
)
_EU_STREET_PREFIX = (
    r"Via|Viale|Vicolo|Piazza|Corso|Largo|Rua|Avenida|Av\.|Travessa|Praça|Calle|Carrer|Paseo|"
    r"Rue|Chemin|Quai|Allée|Impasse|Ulica|ul\.|Odos|Leoforos"
)
_WORD = r"\p{Lu}[\p{L}'’.\-]*"
_UNIT = r"(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?[ \t]*#?[ \t]*\d{1,5}[A-Z]?\b"
_ADDRESS_ANCHORS = (
    # "1668 Glyn St", "14 Crown Street Kishiev Squares"
    (
        rf"\b\d{{1,6}}[A-Za-z]?(?:[ \t]+\d{{1,4}})?[ \t]+(?:{_WORD}[ \t]+){{1,4}}"
        rf"(?:{_STREET_TYPES})\b\.?(?:[ \t]+(?:{_WORD}[ \t]+){{0,2}}(?:{_STREET_TYPES})\b\.?)?",
        0.95,
    ),
    (rf"\b{_UNIT}", 0.95),
    (r"\b(?:PSC|CMR|Unit)[ \t]+\d{3,5},[ \t]*Box[ \t]+\d{2,5}\b", 0.95),
    (r"\b(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5}\b", 0.95),
    (r"\b(?i:P\.?[ \t]?O\.?[ \t]?Box|Postbox|Post Office Box)[ \t]+\d{1,6}\b", 0.95),
    # "Villacher Strasse 89", "Søndergade 52", in lower case too ("hersnapvej 18")
    (
        rf"\b(?:\p{{Lu}}[\p{{L}}\-]*[ \t]+)?(?=\p{{L}}{{5}})(?:\p{{Lu}}[\p{{L}}\-]*|\p{{Ll}}*)"
        rf"(?i:{_EU_STREET_SUFFIX})(?:[ \t]+\p{{Lu}}[\p{{L}}\-]*)?[ \t]+\d{{1,5}}[a-z]?\b\.?",
        0.9,
    ),
    # "3911 fourth avenue", typed in lower case: only unambiguous street words
    (
        r"\b\d{1,6}[ \t]+(?:\p{Ll}[\p{Ll}'’\-]+[ \t]+){1,3}"
        r"(?:street|avenue|road|boulevard|lane|terrace|crescent)\b",
        0.8,
    ),
    # "14 Rue de la Paix", "27 Avenida da Liberdade"
    (
        rf"\b\d{{1,5}}(?:bis|ter)?,?[ \t]+(?:{_EU_STREET_PREFIX})(?:[ \t]+[\p{{L}}'’\-]+){{1,4}}",
        0.9,
    ),
    # "Via Franscini 71", "Rua do Arenque 1634", "ul. Miła 53"
    (rf"\b(?:{_EU_STREET_PREFIX})[ \t]+(?:[\p{{L}}'’.\-]+[ \t]+){{0,4}}\d{{1,5}}[a-z]?\b", 0.9),
    # "the corner of Dalbraut 99 and Frederikke Coves"
    (
        r"\b(?i:(?:the[ \t]+)?corner of)[ \t]+[\p{L}\d][\p{L}\d'’.\-]*"
        r"(?:[ \t]+[\p{L}\d][\p{L}\d'’.\-]*){0,4}[ \t]+(?:and|&)[ \t]+[\p{L}\d][\p{L}\d'’.\-]*"
        r"(?:[ \t]+\p{Lu}[\p{L}\d'’.\-]*){0,3}",
        0.9,
    ),
    # "28245 Puruntie 82", "808 Kálmán Imre u. 12." (house number, name, number)
    (
        # ... but "1 April 2026" is a date, not a place
        rf"(?<![\d\-./:])\b\d{{1,6}}[ \t]+(?!(?i:{_MONTH})(?![\p{{L}}]))"
        r"\p{Lu}[\p{L}'’\-]+(?:[ \t]+[\p{L}'’.\-]+){0,3}[ \t]+\d{1,5}\b\.?",
        0.6,
    ),
)
# After an anchor: ", Goiânia", " Apt. 864", ", København V", " 64677" on the same line.
_SAME_LINE_TAIL = regex.compile(
    rf"(?:[ \t]*,?[ \t]*{_UNIT}|[ \t]*,[ \t]*[\p{{Lu}}\d][\p{{L}}\d'’.\-]*"
    r"(?:[ \t]+[\p{Lu}\d(][\p{L}\d'’.()\-]*){0,3}|[ \t]+\d{4,6}\b)*",
)
# A following line that belongs to the address block: city, region, country and postcode.
_BLOCK_LINE = regex.compile(
    r"[ \t>]*(?:[\p{Lu}\d(][\p{L}\d'’.()\-]*|,|(?:de|del|la|do|da|von|van|der|upon|on)\b)"
    r"(?:[ \t,]+(?:[\p{Lu}\d(][\p{L}\d'’.()\-]*|(?:de|del|la|do|da|von|van|der|upon|on)\b))*"
    r"[ \t,]*"
)
_SENTENCE_GOES_ON = regex.compile(r"[?!]|\.[ \t]+(?=\p{Lu})|[ \t]+(?=(?:I|we|it|is|and)\b)")
_BLOCK_STOP_WORDS = frozenset(
    """thanks thank regards best cheers sincerely sent phone tel mobile fax email e-mail
    website web hi hello dear""".split()  # noqa: SIM905
)


class AddressRecognizer(LocalRecognizer):
    """Postal addresses: a street line, then the city/country/postcode lines that follow it.

    Regular expressions find an anchor (a numbered street, a unit, a PO box); the span grows
    over the rest of its line and over up to four short address-shaped lines after it, which
    is how addresses sit in signatures and shipping requests.
    """

    NAME = "AddressRecognizer"
    _anchors = tuple((regex.compile(a, _CASE_SENSITIVE), score) for a, score in _ADDRESS_ANCHORS)

    def __init__(self) -> None:
        super().__init__(supported_entities=["LOCATION"], name=self.NAME)

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "LOCATION" not in entities:
            return []
        results = []
        for anchor, score in self._anchors:
            for match in anchor.finditer(text):
                end = _SAME_LINE_TAIL.match(text, match.end()).end()
                end = _extend_block(text, end)
                results.append(
                    RecognizerResult(
                        entity_type="LOCATION", start=match.start(), end=end, score=score
                    )
                )
        return results


def _extend_block(text: str, end: int, max_lines: int = 4) -> int:
    """Grow `end` over following address-shaped lines (one blank line may separate them)."""
    rest_of_line = text.find("\n", end)
    if rest_of_line == -1 or text[end:rest_of_line].strip(" \t?.,"):
        return end
    cursor, taken, blank_seen = rest_of_line + 1, 0, False
    while taken < max_lines and cursor < len(text):
        line_end = text.find("\n", cursor)
        line_end = len(text) if line_end == -1 else line_end
        line = text[cursor:line_end]
        if not line.strip(" \t>"):
            if blank_seen:
                break
            blank_seen, cursor = True, line_end + 1
            continue
        # "Cyprus 36903? I am in ..." – the address ends where the sentence goes on.
        head = _SENTENCE_GOES_ON.split(line, maxsplit=1)[0]
        first_word = head.strip(" \t>").split()[0].strip(",:").casefold() if head.strip() else ""
        address_like = (
            0 < len(head.strip()) <= 40
            and sum(ch.isdigit() for ch in head) <= 6
            and first_word not in _BLOCK_STOP_WORDS
            and _BLOCK_LINE.fullmatch(head) is not None
        )
        if not address_like:
            break
        end = cursor + len(head.rstrip(" \t,"))
        if head != line:
            break
        taken += 1
        cursor = line_end + 1
    return end


def build_recognizers(settings: RedactionSettings, *, with_ner: bool) -> list[EntityRecognizer]:
    """Every recognizer for `settings.entities`; spaCy's NER one only when `with_ner`."""
    candidates: list[EntityRecognizer | None] = [
        _email_recognizer(),
        _phone_recognizer(),
        _credit_card_recognizer(),
        IbanRecognizer(regex_flags=_CASE_INSENSITIVE),  # lower-case IBANs too
        _ip_recognizer(),
        MacAddressRecognizer(),
        CryptoRecognizer(),
        UsSsnRecognizer(),
        _labelled_ssn_recognizer(),
        _uk_nino_recognizer(),
        _date_of_birth_recognizer(),
        UsItinRecognizer(),
        UsPassportRecognizer(),
        _ShortCodeFreeLicenseRecognizer(),
        UsBankRecognizer(),
        UrlRecognizer(),
        DateRecognizer(),
        _api_key_recognizer(),
        _password_recognizer(),
        _id_recognizer("EMPLOYEE_ID", "EmployeeIdRecognizer", settings.employee_id_patterns),
        _id_recognizer("TICKET_ID", "TicketIdRecognizer", settings.ticket_id_patterns),
        _hostname_recognizer(settings.internal_host_suffixes, settings.deny_list),
        _person_recognizer(),
        AddressRecognizer(),
    ]
    wanted = set(settings.entities)
    if with_ner and wanted & NER_ENTITIES:
        candidates.append(SpacyRecognizer(supported_entities=sorted(wanted & NER_ENTITIES)))
    if with_ner:
        candidates.append(NameShapeRecognizer(allow_list=settings.allow_list))
    return [r for r in candidates if r is not None and r.supported_entities[0] in wanted]
