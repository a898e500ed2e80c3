"""Postal addresses: a street line, then the city/country/postcode lines that follow it."""

from __future__ import annotations

import regex  # type: ignore[import-untyped]
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from policies.pii.recognizers.patterns import CASE_SENSITIVE, MONTH

__all__ = ["AddressRecognizer"]

# Street suffixes: the common ones of USPS Publication 28 (appendix C1) and British usage, less
# those a help-desk text uses after a number for other things ("10 Action Center", "2 Key
# Points", "5 Data Bridges", "3 Test Runs").
_STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Square|Sq|Squares|Streets|Terrace|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Crescent|"
    r"Close|Row|Plaza|Mews|Gardens|Grove|Hill|Park|Walk|Green|Heights|Lodge|Loop|Pike|Ridge|"
    r"Route|Rte|View|Village|Coves?|Courts|Gateway|Extensions?|Unions?|Parks|Pass|Coves|"
    r"Alley|Bayou|Bluffs?|Brooks?|Burgs?|Bypass|Canyon|Causeway|Cliffs?|Corners?|Creek|Crest|"
    r"Crossing|Crossroads?|Curve|Dale|Estates?|Expressway|Expy|Falls|Ferry|Fords?|Forest|"
    r"Forges?|Freeway|Fwy|Glens?|Greens|Groves|Harbors?|Harbours?|Haven|Hills|Hollow|Inlet|"
    r"Islands?|Isles?|Junctions?|Knolls?|Lakes?|Landing|Lanes|Manors?|Meadows?|Mills?|"
    r"Motorway|Mount|Mountains?|Orchard|Oval|Passage|Pines|Plains?|Prairie|Ranch|Rapids?|"
    r"Ridges|Rivers?|Roads|Shoals?|Shores?|Springs|Squares|Stravenue|Summit|Throughway|"
    r"Trails|Turnpike|Valleys?|Views|Villages|Ville|Vista|Walks|Wells"
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
# Postcodes of common shapes: US ZIP (+4), UK, Canadian, Dutch, Polish, Portuguese, and the
# plain 4-6 digit ones of most of Europe.
_POSTCODE = (
    r"(?:\d{5}-\d{4}|[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
    r"|\d{4}[ \t]?[A-Z]{2}|\d{2}-\d{3}|\d{4}-\d{3}|\d{4,6})(?![\w\-])"
)
# Capitalised words that end a one-line address rather than continue it.
_BLOCK_STOP = (
    r"(?:I|We|You|He|She|They|It|The|This|That|Thanks|Thank|Please|Regards|Best|Cheers|"
    r"Phone|Tel|Mobile|Fax|Email|E-mail|Hi|Hello|Dear|And|Or|But|For|If|When)\b"
)
# Lower-case words inside place names ("Mora de Rubielos", "Stratford-upon-Avon").
_PARTICLE = (
    r"(?:de|del|la|las|los|le|les|do|da|dos|das|di|du|des|von|van|der|den|ten|upon|on|am|an|sur)"
)
_PLACE_WORD = rf"(?:[\p{{Lu}}\d(][\p{{L}}\d'’.()\-]*|{_PARTICLE}(?=[ \t]+\p{{Lu}}))"
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
    (
        r"\b(?:\d{1,6}[ \t]+)?(?i:P\.?[ \t]?O\.?[ \t]?Box|Postbox|Post Office Box)[ \t]+\d{1,6}\b",
        0.95,
    ),
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
    # "14 Rue de la Paix", "27 Avenida da Liberdade", "12 Avenue du Golf"
    (
        rf"\b\d{{1,5}}(?:[ \t]+\d{{1,5}})?(?:bis|ter)?,?[ \t]+"
        rf"(?:{_EU_STREET_PREFIX}|(?:Avenue|Boulevard)(?=[ \t]+(?:du|de|des|d'|d’)))"
        r"(?:[ \t]+[\p{L}'’\-]+){1,4}",
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
        rf"(?<![\d\-./:])\b\d{{1,6}}[ \t]+(?!(?i:{MONTH})(?![\p{{L}}]))"
        r"\p{Lu}[\p{L}'’\-]+(?:[ \t]+[\p{L}'’.\-]+){0,3}[ \t]+\d{1,5}\b\.?",
        0.6,
    ),
)
# After an anchor: ", Goiânia", " Apt. 864", ", København V", " 64677" on the same line.
_SAME_LINE_TAIL = regex.compile(
    rf"(?:[ \t]*,?[ \t]*{_UNIT}|[ \t]*,[ \t]*[\p{{Lu}}\d][\p{{L}}\d'’.\-]*"
    rf"(?:[ \t]+{_PLACE_WORD}){{0,4}}|[ \t]+{_POSTCODE})*",
)
# After a unit ("Suite 215"), capitalised words to the end of the line or sentence are the
# city, region and country of a one-line address: "Apt. 615 Moosleerau Switzerland".
_UNIT_TAIL = regex.compile(
    rf"(?<={_UNIT}\.?)(?:[ \t]+(?!{_BLOCK_STOP})\p{{Lu}}[\p{{L}}'’.\-]*){{1,4}}"
    rf"(?:[ \t]+{_POSTCODE})?(?=[ \t]*(?:[,.;:?!)]|\n|$|[ \t]\p{{Ll}}))"
)
# A line that opens with a city, a region code or a country and a postcode before prose goes
# on: "Hellendoorn, OV 21072 after the concert", "Portugal 44674 for post mail?".
_BLOCK_LINE_HEAD = regex.compile(
    rf"[ \t>]*\p{{Lu}}[\p{{L}}'’.\-]*(?:[ \t]+{_PLACE_WORD}){{0,3}}"
    rf"(?:,?[ \t]+\p{{Lu}}{{2}})?[ \t]+{_POSTCODE}(?=[ \t]+\p{{Ll}}|[ \t]*[,.;:?!])"
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


_CORROBORATED_SCORE = 0.9


class AddressRecognizer(LocalRecognizer):
    """Postal addresses: a street line, then the city/country/postcode lines that follow it.

    Regular expressions find an anchor (a numbered street, a unit, a PO box); the span grows
    over the rest of its line and over up to four short address-shaped lines after it, which
    is how addresses sit in signatures and shipping requests.
    """

    NAME = "AddressRecognizer"
    _anchors = tuple((regex.compile(a, CASE_SENSITIVE), score) for a, score in _ADDRESS_ANCHORS)

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
                unit_tail = _UNIT_TAIL.match(text, end)
                end = unit_tail.end() if unit_tail is not None else end
                end = _extend_block(text, end)
                # A street followed by a unit, a city or a postcode is surely an address.
                corroborated = bool(text[match.end() : end].strip(" \t.,"))
                results.append(
                    RecognizerResult(
                        entity_type="LOCATION",
                        start=match.start(),
                        end=end,
                        score=max(score, _CORROBORATED_SCORE) if corroborated else score,
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
            # "Hellendoorn, OV 21072 after the concert": the address ends inside the line.
            head_only = _BLOCK_LINE_HEAD.match(line)
            if head_only is not None:
                end = cursor + len(head_only.group().rstrip(" \t,"))
            break
        end = cursor + len(head.rstrip(" \t,"))
        if head != line:
            break
        taken += 1
        cursor = line_end + 1
    return end
