"""API keys, tokens and passwords: the value is masked, its label ("password: ") kept."""

from __future__ import annotations

from presidio_analyzer import PatternRecognizer

from policies.pii.recognizers.patterns import CASE_INSENSITIVE, CASE_SENSITIVE, pattern

__all__ = ["api_key_recognizer", "password_recognizer"]

_SECRET_VALUE = r"[A-Za-z0-9._~+/=\-]{8,}"  # noqa: S105 - a pattern, not a secret
_KEY_LABEL = (
    r"(?i:api[_\- ]?key|apikey|x-api-key|secret(?:[_\- ]?key)?|client[_\- ]?secret"
    r"|access[_\- ]?token|auth[_\- ]?token|refresh[_\- ]?token|token|private[_\- ]?key"
    r"|aws_secret_access_key|session[_\- ]?key)"
)


def api_key_recognizer() -> PatternRecognizer:
    patterns = [
        pattern("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", 0.9),
        pattern("github_token", r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", 0.9),
        pattern("github_pat", r"\bgithub_pat_[A-Za-z0-9_]{30,}\b", 0.9),
        pattern("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0.9),
        pattern("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+", 0.9),
        pattern("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
        pattern("stripe_key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}\b", 0.9),
        pattern("openai_style_key", r"\bsk-[A-Za-z0-9_-]{20,}\b", 0.8),
        pattern("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.9),
        pattern("bearer", r"(?<=\b(?i:bearer)\s+)[A-Za-z0-9._~+/\-]{16,}=*", 0.8),
        pattern(
            "private_key_block",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            0.95,
        ),
        pattern(
            "labelled_secret",
            # a value with a digit, or a long one: not "the token is required"
            rf"(?<=\b{_KEY_LABEL}[\"']?\s*(?:[:=]|\bis\b)\s*[\"']?)"
            rf"(?=[^\s\"']*\d|[A-Za-z0-9._~+/=\-]{{20}}){_SECRET_VALUE}",
            0.7,
        ),
    ]
    return PatternRecognizer(
        supported_entity="API_KEY",
        name="ApiKeyRecognizer",
        patterns=patterns,
        global_regex_flags=CASE_SENSITIVE,
    )


_PASSWORD_LABEL = r"(?:password|passwort|passwd|passphrase|passcode|pwd|pw|pass|pin)"  # noqa: S105


def password_recognizer() -> PatternRecognizer:
    # The value is masked, the label kept: "password: <PASSWORD_1>".
    patterns = [
        pattern(
            "labelled_password",
            rf"(?<=\b{_PASSWORD_LABEL}[\"']?\s*[:=]\s*)(?![<\[])[^\s\"']+|"
            rf"(?<=\b{_PASSWORD_LABEL}[\"']?\s*[:=]\s*[\"'])[^\"'\n]+",
            0.8,
        ),
        # In prose ("my password is Tr0ub4dor&3") only a password-shaped value counts (a digit,
        # a symbol or an inner capital): "the password is required" stays readable, and a
        # plain-word password said this way is the accepted miss.
        pattern(
            "password_is",
            rf"(?<=\b{_PASSWORD_LABEL}\s+(?:(?:is|was|to|=)\s+|(?:is|was)\s+(?:now|still)\s+)"
            r"[\"']?)(?=[^\s\"']*(?:\d|[^\w\s\"'.,;!?)]|(?-i:\w\p{Lu})))"
            r"[^\s\"']*[^\s\"'.,;!?)]",
            0.7,
        ),
    ]
    return PatternRecognizer(
        supported_entity="PASSWORD",
        name="PasswordRecognizer",
        patterns=patterns,
        global_regex_flags=CASE_INSENSITIVE,
    )
