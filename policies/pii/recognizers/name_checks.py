"""Checks on a name or place found: is it surely not one (a product, an organisation, UI
vocabulary, a region), and which other spans of the text are the same person."""

from __future__ import annotations

from collections.abc import Sequence

import regex  # type: ignore[import-untyped]

__all__ = [
    "ORG_WORDS",
    "RELATIVES",
    "expand_person_spans",
    "implausible_name",
    "is_region",
    "not_a_person_in",
]

# Words that make a capitalised phrase an organisation rather than a person.
ORG_WORDS = frozenset(
    """inc ltd llc llp plc corp corporation company co group bank university college school
    institute orchestra band solutions systems technologies technology partners services
    insurance foundation agency association council department ministry club hotel
    restaurant data global international holdings labs networks software media health
    capital markets consulting analytics power energy finance financial trust fund gmbh ag
    sa bv oy ab center centre office team desk support store shop airlines motors industries
    enterprises studio studios records press news times weekly review journal magazine
    incorporated associates investments""".split()  # noqa: SIM905
)


# Words for relatives and colleagues: the capitalised word after "my son" is a name.
RELATIVES = (
    r"kid|kids|son|daughter|child|baby|wife|husband|mother|father|mom|mum|dad|brother|sister|"
    r"uncle|aunt|cousin|nephew|niece|grandson|granddaughter|grandma|grandpa|friend|colleague|"
    r"coworker|co-worker|teammate|manager|boss|supervisor|assistant|intern|partner|boyfriend|"
    r"girlfriend|fiancé|fiancée|neighbour|neighbor|tenant|landlord"
)


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
    if any(w in ORG_WORDS for w in words) or any(ch.isdigit() for ch in value):
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
    if org is not None and org.group("word").rstrip(".").casefold() in ORG_WORDS:
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
    allowed = {t.casefold() for t in allow_list} | ORG_WORDS
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
