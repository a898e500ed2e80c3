"""Presidio recognizers for what a helpdesk leaks, and the set of built-in ones we keep.

Part of the Presidio adapter: only this package, `policies.pii.redaction` and
`policies.pii.spacy_engine` import presidio. One module per family: `credentials` (API keys,
passwords), `contact_details` (e-mail, phone, IP), `identifiers` (internal ids, cards, national
ids, dates of birth), `people` (PERSON cues and name shapes), `name_checks` (what a name or place
found surely is not), `addresses` (postal addresses); `patterns` holds what they share.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import (
    CryptoRecognizer,
    DateRecognizer,
    IbanRecognizer,
    MacAddressRecognizer,
    SpacyRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)

from policies.pii.recognizers.addresses import AddressRecognizer
from policies.pii.recognizers.contact_details import (
    email_recognizer,
    ip_recognizer,
    phone_recognizer,
)
from policies.pii.recognizers.credentials import api_key_recognizer, password_recognizer
from policies.pii.recognizers.first_names import FirstNameRecognizer
from policies.pii.recognizers.identifiers import (
    ShortCodeFreeLicenseRecognizer,
    credit_card_recognizer,
    date_of_birth_recognizer,
    hostname_recognizer,
    id_recognizer,
    labelled_ssn_recognizer,
    uk_nino_recognizer,
)
from policies.pii.recognizers.name_checks import (
    expand_person_spans,
    implausible_name,
    is_region,
    not_a_person_in,
)
from policies.pii.recognizers.patterns import CASE_INSENSITIVE
from policies.pii.recognizers.people import (
    NameShapeRecognizer,
    needs_part_of_speech,
    person_cue_recognizer,
)
from policies.pii.recognizers.places import PlaceNameRecognizer
from policies.pii.settings import RedactionSettings

__all__ = [
    "NER_ENTITIES",
    "AddressRecognizer",
    "build_recognizers",
    "expand_person_spans",
    "implausible_name",
    "is_region",
    "needs_part_of_speech",
    "not_a_person_in",
]

# Entities only a NER model finds (the `patterns` engine cannot report them).
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})


def build_recognizers(settings: RedactionSettings, *, with_ner: bool) -> list[EntityRecognizer]:
    """Every recognizer for `settings.entities`; spaCy's NER one only when `with_ner`."""
    candidates: list[EntityRecognizer | None] = [
        email_recognizer(),
        phone_recognizer(),
        credit_card_recognizer(),
        IbanRecognizer(regex_flags=CASE_INSENSITIVE),  # lower-case IBANs too
        ip_recognizer(),
        MacAddressRecognizer(),
        CryptoRecognizer(),
        UsSsnRecognizer(),
        labelled_ssn_recognizer(),
        uk_nino_recognizer(),
        date_of_birth_recognizer(),
        UsItinRecognizer(),
        UsPassportRecognizer(),
        ShortCodeFreeLicenseRecognizer(),
        UsBankRecognizer(),
        UrlRecognizer(),
        DateRecognizer(),
        api_key_recognizer(),
        password_recognizer(),
        id_recognizer("EMPLOYEE_ID", "EmployeeIdRecognizer", settings.employee_id_patterns),
        id_recognizer("TICKET_ID", "TicketIdRecognizer", settings.ticket_id_patterns),
        hostname_recognizer(settings.internal_host_suffixes, settings.deny_list),
        person_cue_recognizer(),
        AddressRecognizer(),
    ]
    wanted = set(settings.entities)
    if with_ner and wanted & NER_ENTITIES:
        candidates.append(SpacyRecognizer(supported_entities=sorted(wanted & NER_ENTITIES)))
    if with_ner:
        candidates.append(NameShapeRecognizer(allow_list=settings.allow_list))
        candidates.append(FirstNameRecognizer())
        candidates.append(PlaceNameRecognizer())
    return [r for r in candidates if r is not None and r.supported_entities[0] in wanted]
