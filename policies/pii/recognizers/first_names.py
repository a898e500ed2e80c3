"""PERSON for a first name standing alone where the text treats it as a person: "shouted at
Todd", "my kid Lukas", "Elizabeth: I'm here", "Tiffany said", "Priya, can you ...".

The first name must be in the US Census lists (`gazetteers.first_names`), capitalised, not a
stop word ("Will you reset it", "May I"), a month or a day, nor a word the text also writes in
lower case ("Mark it done ... mark"); and it must stand in a person's place:

- after a greeting or a verb of addressing ("Hi", "Dear", "ask", "told", "shouted at"), a word
  for a relative or colleague ("my son", "colleague"), or "call me";
- before a verb of speech ("said", "wrote", "asked", "shouted"), as a chat speaker opening a
  line ("Elizabeth:"), or before a comma and a question or request ("Priya, can you").

A capitalised word after it that is not a stop word ("Steffen Mauer") is taken as the surname.
The corpus's own vocabulary and the allow list are applied afterwards, as for every PERSON.
"""

from __future__ import annotations

import regex  # type: ignore[import-untyped]
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from policies.pii.recognizers.gazetteers import first_names, lower_case_words, sentence_initial
from policies.pii.recognizers.name_checks import ORG_WORDS, RELATIVES

__all__ = ["FirstNameRecognizer"]

_WORD = regex.compile(r"(?<![\p{L}\d_@./\-])\p{Lu}\p{Ll}+(?![\p{L}\d_@\-])")
_SURNAME = regex.compile(
    r"[ \t]+(\p{Lu}[\p{Ll}'’\-]*\p{Ll}|\p{Lu}\.[ \t]+\p{Lu}[\p{Ll}'’\-]*\p{Ll})"
)
_ADDRESSING = (
    r"hi|hello|hey|dear|thanks|thank[ \t]+you|cheers|morning|evening|ask|asked|asking|ping|"
    r"pinged|tell|told|telling|contact|contacted|message|messaged|email|emailed|cc|call|called|"
    r"meet|met|(?:meet|meeting|met|call|chat|lunch)[ \t]+with|said[ \t]+to|"
    r"(?:spoke|speak|talk|talked)[ \t]+(?:to|with)|(?:shouted|yelled)[ \t]+at|"
    r"(?:wrote|replied|forward|forwarded)[ \t]+to|(?:calls|call|called)[ \t]+me|name[ \t]+is|"
    r"I'm|I[ \t]+am|this[ \t]+is|"
    # the addressee of a letter or parcel: "Billing address: Ana Dias", "Attn: Ana"
    r"(?:billing|shipping|mailing|delivery|postal)[ \t]+address:|ship[ \t]+to:|attn\.?:?|"
    r"attention:|c/o"
)
_BEFORE = regex.compile(
    rf"(?i:\b(?:(?:my|our|your|his|her|their|the)[ \t]+(?:{RELATIVES})|{_ADDRESSING}))"
    r"[ \t]*[,:]?[ \t]+$"
)
_SPEECH = (
    r"said|says|asked|asks|wrote|writes|replied|replies|shouted|yelled|told|tells|answered|"
    r"mentioned|explained|added|noted|confirmed|reported|called|emailed|texted|messaged|"
    r"agreed|thinks|thought|wants|needs|sent"
)
_AFTER = regex.compile(
    rf"[ \t]+(?:{_SPEECH})\b"  # "Tiffany said"
    r"|[ \t]*:[ \t]*\S"  # a chat speaker, checked to open its line
    r"|,[ \t]+(?i:can|could|would|will|please|do|did|are|is|have|I|you|we)\b"  # vocative
)
_SCORE = 0.9


class FirstNameRecognizer(LocalRecognizer):
    """US Census first names in a person's place (see the module's docstring)."""

    NAME = "FirstNameRecognizer"

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name=self.NAME)

    def load(self) -> None:
        return None  # the name list loads on first use (see `gazetteers`)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        names = first_names()
        vocab = nlp_artifacts.tokens.vocab if nlp_artifacts and nlp_artifacts.tokens else None
        lowered: frozenset[str] | None = None
        results: list[RecognizerResult] = []
        for match in _WORD.finditer(text):
            word = match.group()
            folded = word.casefold()
            if folded not in names or (vocab is not None and vocab[folded].is_stop):
                continue
            if lowered is None:
                lowered = lower_case_words(text)
            if folded in lowered or not self._in_a_persons_place(text, match.start(), match.end()):
                continue
            end = match.end()
            surname = _SURNAME.match(text, end)
            if (
                surname is not None
                and (vocab is None or not vocab[surname.group(1).casefold()].is_stop)
                and surname.group(1).casefold() not in ORG_WORDS
                and surname.group(1).casefold() not in lowered
            ):
                end = surname.end()
            results.append(
                RecognizerResult(entity_type="PERSON", start=match.start(), end=end, score=_SCORE)
            )
        return results

    @staticmethod
    def _in_a_persons_place(text: str, start: int, end: int) -> bool:
        line_start = text.rfind("\n", 0, start) + 1
        if _BEFORE.search(text[max(line_start, start - 40) : start]) is not None:
            return True
        after = _AFTER.match(text, end)
        if after is None:
            return False
        if after.group().lstrip(" \t").startswith(":"):
            return not text[line_start:start].strip(" \t>|")
        if after.group().startswith(","):
            return sentence_initial(text, start)
        return True
