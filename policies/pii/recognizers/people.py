"""PERSON recognizers: names after cue words ("Dear", "assigned to", a title), and names the
shape of the text gives away (signature lines, chat speakers, NER organisations shaped like
names)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import regex  # type: ignore[import-untyped]
from presidio_analyzer import LocalRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from policies.pii.recognizers.name_checks import ORG_WORDS, RELATIVES
from policies.pii.recognizers.patterns import CASE_SENSITIVE, pattern

__all__ = ["NameShapeRecognizer", "needs_part_of_speech", "person_cue_recognizer"]

_NAME_WORD = r"\p{Lu}[\p{Ll}\p{Lu}'’\-]*\p{Ll}[\p{Ll}'’\-]*"
_INITIAL = r"\p{Lu}\."
_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:{_NAME_WORD}|{_INITIAL}|\p{{Lu}}(?=[ \t]+\p{{Lu}}))){{0,3}}"
_CALENDAR = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Today|Tomorrow)\b"
)
_NOT_A_NAME = (
    r"(?!(?:Team|Teams|All|Everyone|There|Support|Sir|Madam|Customer|Service|Sales|Admin|"
    r"The|This|That|Thanks|Thank|Please|Regards|Best|Kind|Hello|Hi|Dear)\b)"
)


def person_cue_recognizer() -> PatternRecognizer:
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
    relative = rf"\b(?i:(?:my|our|your|his|her|their)[ \t]+(?:{RELATIVES}))[ \t]+"
    preposition = r"\b(?i:for|to|by|with|from|cc|and)[ \t]+"
    full_name = rf"{_NAME_WORD}(?:[ \t]+{_INITIAL})?[ \t]+{_NAME_WORD}"
    table_name = rf"{_NAME_WORD}(?:[ \t]{_INITIAL})?[ \t]{_NAME_WORD}(?:[ \t]{_NAME_WORD})?"
    lower_name = r"\p{Ll}[\p{Ll}'’\-]+(?:[ \t]+\p{Ll}[\p{Ll}'’\-]+)?(?=[ \t]*(?:[.,;!?]|$))"
    not_a_word = (
        r"(?!(?:not|invalid|wrong|incorrect|missing|required|already|the|a|an|too|still|"
        r"spelled|empty|blank|unknown)\b)"
    )
    patterns = [
        pattern("title_name", rf"(?<={title}){_NAME}", 0.6),
        pattern("introduced_name", rf"(?<={strong}){_NOT_A_NAME}{_NAME}", 0.6),
        pattern("greeting_name", rf"(?<={weak}){_NOT_A_NAME}{_NAME}", 0.45),
        pattern("addressed_name", rf"(?<={addressed}){_NOT_A_NAME}{_NAME}", 0.45),
        # "my kid Lukas", "our colleague Priya Raman": a relative or colleague, then a name
        pattern("relative_name", rf"(?<={relative}){_NOT_A_NAME}{_NAME}", 0.6),
        # Where a name is surely meant, stronger than the NER model's reading (0.85) of the
        # same word as a place: "What's your last name? Boyle", "everyone calls me Ján".
        pattern("name_answer", rf"(?<=\b(?i:name)\?[ \t]*\n?[ \t]*){_NOT_A_NAME}{_NAME}", 0.9),
        pattern(
            "called_me",
            rf"(?<=\b(?i:call|calls|called)[ \t]+me[ \t]+){_NOT_A_NAME}(?!{_CALENDAR}){_NAME}",
            0.9,
        ),
        # "reset the password for Tomasz Kowalczyk": a first and a last name after a preposition
        pattern(
            "full_name_after_preposition", rf"(?<={preposition}){_NOT_A_NAME}{full_name}", 0.45
        ),
        # a cell of a fixed-width or pipe table: "  2    Oscar Lindgren       EMP-004390"
        pattern(
            "table_cell_name",
            rf"(?:(?<=[ \t]{{2}})|(?<=\|[ \t]?)){_NOT_A_NAME}{table_name}"
            r"(?=[ \t]{2,}|[ \t]*\||[ \t]+\(|[ \t]*$)|"
            rf"(?<=^[ \t]?){_NOT_A_NAME}{table_name}(?=[ \t]{{2,}}|[ \t]*\|)",
            0.4,
        ),
        pattern(
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
        global_regex_flags=CASE_SENSITIVE,
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
                or word.casefold() in ORG_WORDS
                or word.casefold() in self._allowed
                or (proper and token.tag_ not in ("NNP", "NNPS"))
            ):
                return False
        return True
