"""`MaskingSession.reserve` / `bind`: a page's session agrees with a recorded answer's
placeholders and never gives one placeholder to two values (issue 18)."""

from __future__ import annotations

from policies.pii.masking_session import MaskingSession


def test_reserved_numbers_are_never_given_to_new_values() -> None:
    session = MaskingSession()
    session.reserve("<PERSON_2>")
    session.reserve("<EMAIL_ADDRESS_1>")
    session.reserve("not a placeholder")
    assert session.placeholder("PERSON", "Jane Doe") == "<PERSON_3>"
    assert session.placeholder("EMAIL_ADDRESS", "j@example.com") == "<EMAIL_ADDRESS_2>"
    assert session.placeholder("LOCATION", "Paris") == "<LOCATION_1>"


def test_a_bound_value_keeps_its_recorded_placeholder() -> None:
    session = MaskingSession()
    assert session.bind("<PERSON_3>", "Alice  Johnson")
    assert session.placeholder("PERSON", "alice johnson") == "<PERSON_3>"
    assert session.placeholder("PERSON", "Robert Miller") == "<PERSON_4>"
    assert session.bind("<PERSON_3>", "Alice Johnson")  # the same binding again
    assert not session.bind("<PERSON_3>", "Carol White")  # taken by another value
    assert not session.bind("<PERSON_9>", "Robert Miller")  # has a placeholder already
    assert not session.bind("<PERSON_5>", "  ")
    assert session.placeholder("PERSON", "Carol White") == "<PERSON_5>"
    assert session.placeholder("PERSON", "Robert Miller") == "<PERSON_4>"
