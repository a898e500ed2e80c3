"""Names and places the NER model misses (issue 18, recall), and ordinary words that must stay
readable (precision): the first-name and place gazetteers, name cues, and street addresses
that run on through unit, city, region and postcode. Sentences are made up for these tests."""

from __future__ import annotations

import re

import pytest

from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings

PLACEHOLDER = re.compile(r"<([A-Z_]+)_\d+>")


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # a first name after a word for a relative or colleague
        ("My colleague Lukas cannot log in since Monday.", "Lukas"),
        # the addressee of a parcel, after an address label
        ("Billing address: Ana Dias\n12 High Street", "Ana Dias"),
        # a first name after a verb of speech, read as a place by the NER model alone
        ("Enrico shouted at Gary: the share is gone.", "Gary"),
    ],
)
def test_a_lone_first_name_in_a_persons_place_is_masked_as_a_person(
    redactor: PresidioRedactor, text: str, value: str
) -> None:
    masked = redactor.mask(text)
    assert value not in masked, masked
    assert "<PERSON_1>" in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "Everyone here calls me Ján.",  # the NER model alone reads a place
        "What's your last name? Arcuri",
    ],
)
def test_a_name_given_as_an_answer_is_a_person(redactor: PresidioRedactor, text: str) -> None:
    masked = redactor.mask(text)
    assert PLACEHOLDER.findall(masked) == ["PERSON"], masked


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The spare laptop is in Torrance now.", "Torrance"),  # missed by the NER model
        ("The spare laptop is in Penzance now.", "Penzance"),  # read as a person by it
        ("Mr. Novak flew to Naantali on Tuesday.", "Naantali"),
        ("Deliver it to\nVelenje\nby Friday.", "Velenje"),  # a line of its own
    ],
)
def test_a_city_standing_alone_is_masked_as_a_place(
    redactor: PresidioRedactor, text: str, value: str
) -> None:
    masked = redactor.mask(text)
    assert value not in masked, masked
    assert "LOCATION" in PLACEHOLDER.findall(masked), masked
    assert "PERSON" not in PLACEHOLDER.findall(masked)[1:], masked


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        # one-line address: after the unit, the city and the region up to the prose
        ("Deliver to 40 Elm Road Suite 12 Harrogate Yorkshire by Friday.", "Harrogate Yorkshire"),
        # the next line's "city postcode" before the sentence goes on
        ("Please use 7 Rue des Lilas\nLyon 69003 for the parcel.", "Lyon 69003"),
        # a building number before the house number, then the unit and a postcode
        ("Mail it to 0912 P.O. Box 287 Apt. 051, Tallinn, Estonia 10111.", "0912"),
        ("Ship to 14 Oak Crossroad Apt 3, Mora de Rubielos, Spain 44400.", "Mora de Rubielos"),
    ],
)
def test_an_address_is_masked_with_its_tail(
    redactor: PresidioRedactor, text: str, tail: str
) -> None:
    masked = redactor.mask(text)
    for part in tail.split():
        assert part not in masked, masked
    assert PLACEHOLDER.findall(masked) == ["LOCATION"], masked


@pytest.mark.parametrize(
    "text",
    [
        # first names that are ordinary words, where they are ordinary words
        "Will you reset it for me?",
        "May I reset my password?",
        "Mark the ticket as solved.",
        "Grant access to the shared drive.",
        "We will talk to Sales about it; mark it done.",
        # city names that are ordinary words
        "Reading the guide takes ten minutes.",
        "Mobile sign-in is blocked for guests.",
        "Nice work on the rollout.",
        "Split the file into two parts.",
        # months and days are dates, not places or people
        "Submit it by March 3.",
        "The report is due in March.",
        # a street suffix after a number in a UI string is not an address
        "Use Windows 10 Action Center to see it.",
        "Read the 3 Key Points of the guide.",
    ],
)
def test_ordinary_words_stay_readable(redactor: PresidioRedactor, text: str) -> None:
    assert redactor.mask(text) == text


def test_a_city_that_is_also_a_first_name_needs_a_place_word(redactor: PresidioRedactor) -> None:
    # "Florence" is a Census first name and an Italian city: after "talk to" it is a person
    masked = redactor.mask("Please talk to Florence about the laptop.")
    assert "Florence" not in masked, masked
    assert "LOCATION" not in masked, masked
    assert "LOCATION" in redactor.mask("The office in Florence is closed today.")


def test_the_allow_list_keeps_a_place_name_readable() -> None:
    allowed = PresidioRedactor(settings=RedactionSettings(allow_list=("Mobile",)))
    assert allowed.mask("Sign in from Mobile today.") == "Sign in from Mobile today."
