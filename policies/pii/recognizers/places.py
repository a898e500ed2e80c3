"""LOCATION for place names standing alone ("flew to Ljubljana", "We moved here from Canada"):
a gazetteer of countries, US states and cities (`gazetteers.place_names`).

A place name is also often an ordinary word ("Reading", "Mobile", "Nice", "Split") or a
first name ("Florence", "Jordan"). So:

- only capitalised words count (title case, or all capitals for names of four letters or
  more: "NAANTALI"), never a stop word, a month or a day, nor a word the text also writes in
  lower case;
- a name of several words ("Porto Alegre", "New Zealand") counts wherever it stands;
- a country or US state counts wherever it stands, unless it is also a first name followed
  by a capitalised word ("Georgia Smith") or is not preceded by a place word when it opens a
  sentence and is a first name ("Jordan said");
- a one-word city counts only after a place word ("in", "from", "near", "flew to", ...) or
  as a line of its own or before a comma and another place ("Bremen, Germany"); "to" alone is
  not enough for a city that is also a first name ("send it to Florence").

The corpus's own vocabulary and the allow list are applied to every LOCATION afterwards (see
`PresidioRedactor.find` and `implausible_name`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import regex  # type: ignore[import-untyped]
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from policies.pii.recognizers.gazetteers import (
    PlaceKind,
    first_names,
    lower_case_words,
    place_names,
    sentence_initial,
)

__all__ = ["PlaceNameRecognizer"]

_WORD = regex.compile(r"(?<![\p{L}\d_@./\-])\p{Lu}[\p{L}'’\-]*(?<![\-'’])(?![\p{L}\d_@\-])")
# Lower-case words inside place names ("Rio de Janeiro", "Stratford-upon-Avon").
_JOINER = regex.compile(
    r"[ \t]+(?:(?:de|del|la|do|da|dos|das|du|des|di|von|van|der|den|upon|on|and|of|the|am|an|sur)"
    r"[ \t]+)?"
)
_MAX_WORDS = 4
# Words right before a place name that make it one.
_PLACE_CUES = regex.compile(
    r"(?i:\b(?:in|at|from|near|via|outside|around|across|visit|visiting|visited|into|of"
    r"|based[ \t]+in|located[ \t]+in|lives[ \t]+in|live[ \t]+in|born[ \t]+in"
    r"|(?:flew|fly|flying|moved|move|moving|travel(?:l?ed|l?ing)?|went|go|going|drive|drove"
    r"|relocated|relocating|trip|flight|train|headed|return(?:ed|ing)?)[ \t]+(?:back[ \t]+)?to"
    r"|to))[ \t]+$"
)
# Cues as usual before a person ("shouted at Gary", "talk to Florence", "a friend of Jackson"):
# not enough for a city that is also a first name.
_WEAK_CUE = regex.compile(r"(?i:\b(?:to|at|of|with|visit|visiting|visited))[ \t]+$")
_CAPITALISED_NEXT = regex.compile(r"[ \t]+\p{Lu}\p{Ll}")
_SCORE = 0.9
_MIN_CAPITALS = 4  # "NAANTALI" is a place, "IT", "NO", "OR" are not


class PlaceNameRecognizer(LocalRecognizer):
    """Countries, US states and cities from GeoNames, where the text shows them as places."""

    NAME = "PlaceNameRecognizer"

    def __init__(self) -> None:
        super().__init__(supported_entities=["LOCATION"], name=self.NAME)

    def load(self) -> None:
        return None  # the gazetteer loads on first use (see `gazetteers`)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "LOCATION" not in entities:
            return []
        words = [m.span() for m in _WORD.finditer(text) if _shaped_like_a_name(m.group())]
        if not words:
            return []
        places = place_names()
        lowered = lower_case_words(text)
        vocab = nlp_artifacts.tokens.vocab if nlp_artifacts and nlp_artifacts.tokens else None
        results: list[RecognizerResult] = []
        i = 0
        while i < len(words):
            found = self._longest_place(text, words, i, places)
            if found is None:
                i += 1
                continue
            n, kind = found
            start, end = words[i][0], words[i + n - 1][1]
            stop_word = vocab is not None and vocab[text[start:end].lower()].is_stop
            if n > 1 or (not stop_word and self._stands_as_place(text, start, end, kind, lowered)):
                results.append(
                    RecognizerResult(entity_type="LOCATION", start=start, end=end, score=_SCORE)
                )
            i += n
        return results

    @staticmethod
    def _longest_place(
        text: str, words: list[tuple[int, int]], i: int, places: Mapping[str, PlaceKind]
    ) -> tuple[int, PlaceKind] | None:
        """(words taken, kind) of the longest place name starting at word `i`."""
        for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            span = words[i : i + n]
            if any(
                _JOINER.fullmatch(text, a_end, b_start) is None
                for (_, a_end), (b_start, _) in itertools.pairwise(span)
            ):
                continue
            key = " ".join(text[span[0][0] : span[-1][1]].split()).casefold()
            kind = places.get(key)
            if kind is not None:
                return n, kind
        return None

    @staticmethod
    def _stands_as_place(
        text: str, start: int, end: int, kind: str, lowered: frozenset[str]
    ) -> bool:
        word = text[start:end]
        folded = word.casefold()
        if folded in lowered or word.lower() in lowered:
            return False
        before = text[max(0, start - 40) : start]
        cue = _PLACE_CUES.search(before) is not None
        weak_cue = _WEAK_CUE.search(before) is not None
        first_name = folded in first_names()
        if kind != "city":
            # "Georgia Smith", "Jordan said": a person's first name, not the country or state
            followed_by_name = _CAPITALISED_NEXT.match(text, end) is not None
            opens_sentence = sentence_initial(text, start) and not cue
            return not (first_name and (followed_by_name or opens_sentence))
        if cue and not (weak_cue and first_name):
            return True
        return _on_its_own_line(text, start, end) or _before_another_place(text, end)


def _shaped_like_a_name(word: str) -> bool:
    if word.isupper():
        return len(word) >= _MIN_CAPITALS
    return word[1:] == word[1:].lower() or "-" in word


def _on_its_own_line(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    return (
        not text[line_start:start].strip(" \t>|,")
        and regex.fullmatch(r"[ \t,.|]*(?:\d[\d \-]{2,8})?[ \t,.|]*", text[end:line_end])
        is not None
    )


def _before_another_place(text: str, end: int) -> bool:
    """ "Bremen, Germany", "Mobile, AL": a comma, then a region code or another place."""
    after = regex.match(
        r",[ \t]*(\p{Lu}[\p{L}'’\-]*(?:[ \t]+\p{Lu}[\p{L}'’\-]*)?)", text[end : end + 40]
    )
    if after is None:
        return False
    following = after.group(1)
    return bool(regex.fullmatch(r"\p{Lu}{2}", following)) or following.casefold() in place_names()
