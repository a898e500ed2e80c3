"""PII masking with the real Presidio analyzer and the real en_core_web_sm model."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from policies.pii.masking_session import MaskingSession
from policies.pii.port import PseudonymKeyMissingError, Redactor
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from policies.pii.types import PiiFinding

SAMPLE = Path(__file__).parent / "data" / "pii_sample.json"
PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor()


@pytest.fixture(scope="module")
def patterns() -> PresidioRedactor:
    # A model path that does not exist: the patterns engine must never load spaCy's model.
    return PresidioRedactor(
        settings=RedactionSettings(engine="patterns", spacy_model_path=Path("/nonexistent"))
    )


def _sample_values() -> list[tuple[str, str, str]]:
    rows = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return [
        (row["full_text"], span["entity_type"], span["entity_value"])
        for row in rows
        for span in row["spans"]
    ]


SAMPLE_VALUES = _sample_values()


def test_sample_covers_every_entity_type_we_promise() -> None:
    promised = {
        "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN",
        "IP_ADDRESS", "API_KEY", "PASSWORD", "EMPLOYEE_ID", "TICKET_ID", "INTERNAL_HOSTNAME",
    }  # fmt: skip
    assert promised <= {entity for _, entity, _ in SAMPLE_VALUES}
    assert len({text for text, _, _ in SAMPLE_VALUES}) >= 40


@pytest.mark.parametrize(
    ("text", "entity_type", "value"),
    SAMPLE_VALUES,
    ids=[f"{entity}:{value[:24]}" for _, entity, value in SAMPLE_VALUES],
)
def test_no_labelled_value_survives_masking(
    redactor: PresidioRedactor, text: str, entity_type: str, value: str
) -> None:
    masked = redactor.mask(text)
    assert value not in masked, f"{entity_type} leaked: {masked!r}"


@pytest.mark.parametrize(
    ("text", "value", "placeholder"),
    [
        ("Please call Maria Gonzalez back today.", "Maria Gonzalez", "<PERSON_1>"),
        ("Write to ana.sousa@fabrikam.example now.", "ana.sousa@fabrikam.example", None),
        ("Her mobile is +44 20 7946 0958.", "+44 20 7946 0958", "<PHONE_NUMBER_1>"),
        ("Card 4111 1111 1111 1111 was charged.", "4111 1111 1111 1111", "<CREDIT_CARD_1>"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please.", "GB82 WEST 1234 5698 7654 32", None),
        ("My SSN is 512-47-3398.", "512-47-3398", "<US_SSN_1>"),
        ("Blocked host 10.20.30.41 again.", "10.20.30.41", "<IP_ADDRESS_1>"),
        ("Ship it to 27 Elm Street tomorrow.", "27 Elm Street", "<LOCATION_1>"),
        ("Key AKIAIOSFODNN7EXAMPLE leaked.", "AKIAIOSFODNN7EXAMPLE", "<API_KEY_1>"),
        ("password: hunter2", "hunter2", "<PASSWORD_1>"),
        ("Badge for EMP-204871 is ready.", "EMP-204871", "<EMPLOYEE_ID_1>"),
        ("See INC-0048213 for details.", "INC-0048213", "<TICKET_ID_1>"),
        ("ssh to db-01.corp.acme.internal fails.", "db-01.corp.acme.internal", None),
        ("MAC 00:1A:2B:3C:4D:5E drops off Wi-Fi.", "00:1A:2B:3C:4D:5E", "<MAC_ADDRESS_1>"),
    ],
)
def test_each_entity_type_is_masked(
    redactor: PresidioRedactor, text: str, value: str, placeholder: str | None
) -> None:
    masked = redactor.mask(text)
    assert value not in masked
    expected = placeholder or PLACEHOLDER.search(masked)
    assert expected is not None
    if placeholder:
        assert placeholder in masked


def test_findings_carry_type_span_and_score(redactor: PresidioRedactor) -> None:
    text = "Contact jane.doe@acme.example about EMP-123456."
    findings = redactor.find(text)
    by_type = {f.entity_type: f for f in findings}
    email = by_type["EMAIL_ADDRESS"]
    assert text[email.start : email.end] == "jane.doe@acme.example"
    assert 0.0 < email.score <= 1.0
    assert text[by_type["EMPLOYEE_ID"].start : by_type["EMPLOYEE_ID"].end] == "EMP-123456"
    assert findings == sorted(findings, key=lambda f: (f.start, -f.end, f.entity_type))


def test_redactor_satisfies_the_protocol(
    redactor: PresidioRedactor, patterns: PresidioRedactor
) -> None:
    assert isinstance(redactor, Redactor)
    assert isinstance(patterns, Redactor)
    assert {"PERSON", "EMAIL_ADDRESS", "API_KEY"} <= redactor.entities


# --- placeholders and sessions -----------------------------------------------------------------


def test_same_value_gets_same_placeholder_across_calls_in_a_session(
    redactor: PresidioRedactor,
) -> None:
    session = MaskingSession()
    first = redactor.mask("Ticket from maria@contoso.example about the VPN.", session=session)
    second = redactor.mask(
        "Reply sent to maria@contoso.example; cc bob@contoso.example.", session=session
    )
    assert first == "Ticket from <EMAIL_ADDRESS_1> about the VPN."
    assert second == "Reply sent to <EMAIL_ADDRESS_1>; cc <EMAIL_ADDRESS_2>."
    assert len(session) == 2


def test_value_formatting_does_not_split_a_placeholder(patterns: PresidioRedactor) -> None:
    session = MaskingSession()
    a = patterns.mask("Call +1 415 555 0132.", session=session)
    b = patterns.mask("Or +1-415-555-0132 after five.", session=session)
    assert a == "Call <PHONE_NUMBER_1>."
    assert b == "Or <PHONE_NUMBER_1> after five."


def test_sessions_are_independent(patterns: PresidioRedactor) -> None:
    one, two = MaskingSession(), MaskingSession()
    patterns.mask("a@x.example", session=one)
    assert patterns.mask("b@x.example", session=one) == "<EMAIL_ADDRESS_2>"
    assert patterns.mask("b@x.example", session=two) == "<EMAIL_ADDRESS_1>"
    # Without a session every call numbers from one.
    assert patterns.mask("c@x.example and d@x.example") == "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    assert patterns.mask("d@x.example") == "<EMAIL_ADDRESS_1>"


def test_session_is_safe_under_concurrent_use() -> None:
    session = MaskingSession()
    values = [f"user{i % 50}@x.example" for i in range(2000)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        placeholders = list(pool.map(lambda v: session.placeholder("EMAIL_ADDRESS", v), values))
    assert len(session) == 50
    assert len(set(placeholders)) == 50
    for value, placeholder in zip(values, placeholders, strict=True):
        assert placeholder == session.placeholder("EMAIL_ADDRESS", value)


def test_masked_text_is_stable_when_masked_again(redactor: PresidioRedactor) -> None:
    masked = redactor.mask("Dear Mr. Henderson, call +44 20 7946 0958 or mail h@x.example.")
    assert redactor.mask(masked) == masked


def test_concurrent_masking_matches_sequential(redactor: PresidioRedactor) -> None:
    texts = [text for text, _, _ in SAMPLE_VALUES[:30]]
    expected = [redactor.mask(text) for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(redactor.mask, texts)) == expected


# --- allow-list, deny-list, custom patterns --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Restart Outlook and sign in to Okta again.",
        "If Teams still crashes, open a Jira ticket.",
        "Reset Your Password\nGo to the Self-Service Portal and choose Forgot Password.",
        "Please ignore the previous email, the VPN is fixed.",
        "The password is not accepted after the reset.",
        "Error 0x80070005: Access denied. See KB 4023057 for details.",
        "Go to Control Panel and open Device Manager.",
        "Switch to Airplane Mode, then back.",
        "Install updates for Visual Studio Code.",
        "The token is required for login; the password is required too.",
    ],
)
def test_ordinary_helpdesk_text_is_left_alone(redactor: PresidioRedactor, text: str) -> None:
    assert redactor.mask(text) == text


def test_configured_allow_list_keeps_a_term() -> None:
    text = "Mail noreply@proofdesk.example or help@proofdesk.example."
    default = PresidioRedactor(settings=RedactionSettings(engine="patterns"))
    allowing = PresidioRedactor(
        settings=RedactionSettings(engine="patterns", allow_list=("noreply@proofdesk.example",))
    )
    assert default.mask(text) == "Mail <EMAIL_ADDRESS_1> or <EMAIL_ADDRESS_2>."
    assert allowing.mask(text) == "Mail noreply@proofdesk.example or <EMAIL_ADDRESS_1>."


def test_custom_id_patterns_hostname_suffixes_and_deny_list() -> None:
    settings = RedactionSettings(
        engine="patterns",
        employee_id_patterns=(r"\bE\d{5}\b",),
        ticket_id_patterns=(r"\bHD#\d{4,}\b",),
        internal_host_suffixes=("acme",),
        deny_list=("vault01",),
    )
    custom = PresidioRedactor(settings=settings)
    masked = custom.mask("E12345 opened HD#99812: vault01 and git.eu.acme down, EMP-123456 ok.")
    assert masked == (
        "<EMPLOYEE_ID_1> opened <TICKET_ID_1>: <INTERNAL_HOSTNAME_1> and <INTERNAL_HOSTNAME_2>"
        " down, EMP-123456 ok."
    )


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("token ghp_4f9Kq2LmN8xR1tV7yB3cD6eH0jW5sZ9aP2uQ in repo", "ghp_4f9Kq2LmN8xR1tV7yB3cD6"),
        ("bot xoxb-2841093847-9918273645-Qw8eRt6yUi4oP2aS died", "xoxb-2841093847"),
        ("Authorization: Bearer abcDEF1234567890ghiJKL", "abcDEF1234567890ghiJKL"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
        ),
        ("config has api_key = 'f3a9c1d2e4b5a6c7d8e9'", "f3a9c1d2e4b5a6c7d8e9"),
        ("client_secret: Zm9vYmFyYmF6cXV4MTIz", "Zm9vYmFyYmF6cXV4MTIz"),
        ("password: hunter2", "hunter2"),
        ("Password = 'p@ss w0rd'", "p@ss w0rd"),
        ("login with pwd=Sunshine#42 please", "Sunshine#42"),
        ("my password is Tr0ub4dor&3 and it expired", "Tr0ub4dor&3"),
        ("the wifi passcode: 88219944", "88219944"),
    ],
)
def test_credentials_are_masked_but_their_labels_kept(
    patterns: PresidioRedactor, text: str, secret: str
) -> None:
    masked = patterns.mask(text)
    assert secret not in masked
    assert PLACEHOLDER.search(masked)
    label = re.match(r"\W*([A-Za-z_]+)", text)
    assert label is not None
    assert label.group(1) in masked


# --- engines ---------------------------------------------------------------------------------


def test_patterns_engine_finds_contacts_without_spacy(patterns: PresidioRedactor) -> None:
    text = "Reach me at priya@northwind.example or (312) 555-0187."
    assert patterns.mask(text) == "Reach me at <EMAIL_ADDRESS_1> or <PHONE_NUMBER_1>."
    assert patterns.contains_pii(text)
    assert not patterns.contains_pii("The VPN client needs version 5.2 or later.")


def test_spacy_engine_finds_names_the_patterns_engine_cannot(
    redactor: PresidioRedactor, patterns: PresidioRedactor
) -> None:
    text = "Kenji Watanabe says the new monitor flickers."
    assert redactor.contains_pii(text)
    assert "Kenji Watanabe" not in redactor.mask(text)
    assert patterns.mask(text) == text


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text(redactor: PresidioRedactor, text: str) -> None:
    assert redactor.find(text) == []
    assert redactor.mask(text) == text
    assert not redactor.contains_pii(text)


def test_non_ascii_text(redactor: PresidioRedactor) -> None:
    text = (
        "Zoë Brontë-Okoye (zoë@exämple.de) cannot open the calendar of Håkon Lindqvist: "
        "the error says «accès refusé» ✗."
    )
    masked = redactor.mask(text)
    for value in ("Zoë Brontë-Okoye", "Håkon Lindqvist", "exämple"):
        assert value not in masked
    assert "cannot open the calendar of" in masked
    assert masked.endswith("the error says «accès refusé» ✗.")


@pytest.mark.slow
def test_very_long_text_is_masked_in_full(redactor: PresidioRedactor) -> None:
    lines = [
        f"Ticket INC-{10000 + i}: user{i}@contoso.example reports that host 10.0.{i % 250}.7 "
        f"drops the VPN; call back on +1 415 555 {1000 + i:04d}. Nothing else to add here."
        for i in range(1200)
    ]
    text = "\n".join(lines)
    assert len(text) > 100_000
    masked = redactor.mask(text)
    assert "@contoso.example" not in masked
    assert not re.search(r"INC-\d|\b10\.0\.\d+\.7\b|555 \d{4}", masked)
    assert masked.count("<EMAIL_ADDRESS_") == 1200
    assert "<EMAIL_ADDRESS_1200>" in masked


def test_finding_is_a_value_object() -> None:
    finding = PiiFinding(entity_type="PERSON", start=0, end=4, score=0.85)
    assert finding == PiiFinding("PERSON", 0, 4, 0.85)
    with pytest.raises(AttributeError):
        finding.start = 1  # type: ignore[misc]


# --- pseudonyms and settings -------------------------------------------------------------------


def test_pseudonyms_are_stable_and_depend_on_the_secret() -> None:
    one = PresidioRedactor(
        settings=RedactionSettings(engine="patterns", hmac_secret=SecretStr("s3cret-one"))
    )
    two = PresidioRedactor(
        settings=RedactionSettings(engine="patterns", hmac_secret=SecretStr("s3cret-two"))
    )
    pseudonym = one.pseudonymize("alice@contoso.example")
    assert re.fullmatch(r"usr_[0-9a-f]{12}", pseudonym)
    assert one.pseudonymize("alice@contoso.example") == pseudonym
    assert one.pseudonymize("bob@contoso.example") != pseudonym
    assert two.pseudonymize("alice@contoso.example") != pseudonym


def test_pseudonymize_without_a_secret_refuses(patterns: PresidioRedactor) -> None:
    with pytest.raises(PseudonymKeyMissingError):
        patterns.pseudonymize("alice")


@pytest.mark.parametrize(
    "bad",
    [
        {"employee_id_patterns": ("EMP-(",)},
        {"entities": ("person",)},
        {"internal_host_suffixes": ("bad suffix",)},
        {"engine": "transformers"},
        {"score_threshold": 1.5},
    ],
)
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RedactionSettings.model_validate(bad)


def test_secret_is_not_shown_in_settings_repr() -> None:
    settings = RedactionSettings(hmac_secret=SecretStr("do-not-print"))
    assert "do-not-print" not in repr(settings)
