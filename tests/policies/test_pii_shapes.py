"""Shapes Presidio's recognizers miss on their own (issue 16, finding 8), and look-alikes that
must stay readable (issue 18: short codes are not licences, dates are not places)."""

from __future__ import annotations

import re

import pytest

from evals.pii_shapes import SHAPES
from policies.pii.redaction import PresidioRedactor


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor()


@pytest.mark.parametrize(("text", "entity_type", "value"), SHAPES, ids=[v for _, _, v in SHAPES])
def test_shape_is_masked_whole_under_its_type(
    redactor: PresidioRedactor, text: str, entity_type: str, value: str
) -> None:
    masked = redactor.mask(text)
    assert f"<{entity_type}_1>" in masked, masked
    # no digit group of the value survives (a card read as a MAC address left its tail)
    for group in re.findall(r"\d{2,}", value):
        assert group not in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "Order 1234567890 shipped on Monday.",  # a bare digit run with no phone or SSN word
        "Ticket 536228471 was merged into the parent request.",
        "The salary band L5 covers senior engineers.",  # a level, not a driver licence
        "Submit the form by 1 April 2026.",  # a date, not an address
        "Upgrade the firmware to 4.11.2 and reboot.",
        "Born in the cloud, the service was rebuilt in 2021.",
        # organisation and product names, ordinary words: not people (issue 18, precision)
        "I work for Rapid Cycle Solutions now.",
        "A driven salesperson, twice Salesperson of the Month.",
        "Open PeopleHub, then ExpensePoint.",
        "Submit the request in PeopleHub today.",
    ],
)
def test_look_alikes_stay_readable(redactor: PresidioRedactor, text: str) -> None:
    assert redactor.mask(text) == text
