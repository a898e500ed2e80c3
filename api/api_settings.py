"""Settings of the HTTP API (`ApiSettings`): one slice of the application settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from limits import parse_many
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from infra.errors import ConfigurationError

__all__ = ["ApiSettings", "InsecureSettingsError", "JwtSettings", "RateLimitSettings"]

JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"]
_HMAC = ("HS256", "HS384", "HS512")
_PLACEHOLDERS = ("changeme", "change-me", "change_me", "placeholder", "example", "your-", "replace")
MIN_SECRET_CHARS = 32
# Settings that moved to the package that owns the limit: old key → new key.
_MOVED = {"max_question_chars": "agent.max_question_chars"}


class InsecureSettingsError(ConfigurationError, ValueError):
    """A setting is acceptable for development but refused in production."""


class JwtSettings(BaseModel):
    """Bearer tokens from an identity provider. Off unless a secret or a public key is set."""

    model_config = ConfigDict(extra="forbid")

    secret: SecretStr | None = Field(default=None, description="HMAC secret (HS256)")
    public_key_file: Path | None = Field(default=None, description="PEM public key (RS256)")
    jwks_file: Path | None = Field(default=None, description="JWKS document (keys chosen by kid)")
    algorithms: list[JwtAlgorithm] | None = Field(
        default=None,
        description="accepted algorithms; default HS256 with a secret, RS256 with a key/JWKS",
    )
    issuer: str | None = Field(default=None, description="required `iss` claim")
    audience: str | None = Field(default=None, description="required `aud` claim")
    user_claim: str = Field(default="sub", min_length=1, description="claim holding the user id")
    groups_claim: str = Field(
        default="groups", min_length=1, description="claim holding the IdP groups (list)"
    )
    leeway_seconds: float = Field(default=30.0, ge=0, le=300, description="clock skew allowed")

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.public_key_file or self.jwks_file)

    def accepted_algorithms(self) -> list[str]:
        if self.algorithms:
            return list(self.algorithms)
        return ["HS256"] if self.secret is not None else ["RS256"]

    @model_validator(mode="after")
    def _one_key_kind(self) -> Self:
        asymmetric = self.public_key_file is not None or self.jwks_file is not None
        if self.secret is not None and asymmetric:
            raise ValueError("give either jwt.secret or a public key / JWKS file, not both")
        if self.algorithms:
            hmac_algs = [a for a in self.algorithms if a in _HMAC]
            # Mixing HMAC and public-key algorithms invites algorithm-confusion attacks.
            if hmac_algs and (asymmetric or len(hmac_algs) != len(self.algorithms)):
                raise ValueError("jwt.algorithms: HMAC algorithms only go with jwt.secret")
            if not hmac_algs and self.secret is not None:
                raise ValueError("jwt.algorithms: jwt.secret needs an HMAC algorithm (HS256)")
        if self.enabled and (self.issuer is None or self.audience is None):
            raise ValueError("jwt.issuer and jwt.audience are required when JWT is enabled")
        return self


class RateLimitSettings(BaseModel):
    """`limits` notation, e.g. "60/minute" or "10/second; 300/hour"."""

    model_config = ConfigDict(extra="forbid")

    per_key: str = Field(default="600/minute", description="per API key (or token subject)")
    per_user: str = Field(default="60/minute", description="per end user (act_as or token)")
    login: str = Field(
        default="10/minute", description="sign-in attempts on the audit page, per client address"
    )
    namespace: str = Field(
        default="proofdesk",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="key prefix in the shared storage",
    )

    @field_validator("per_key", "per_user", "login")
    @classmethod
    def _parsable(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"invalid rate limit {value!r}: {exc}") from exc
        return value


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    api_keys_file: Path | None = Field(
        default=None, description="YAML/JSON file of hashed API keys (see api.auth.hash_api_key)"
    )
    jwt: JwtSettings = Field(default_factory=JwtSettings)
    cors_origins: list[str] = Field(default_factory=list, description="allowed browser origins")
    max_request_bytes: int = Field(default=128 * 1024, ge=1024, description="larger → 413")
    max_messages: int = Field(default=50, ge=1, description="OpenAI-style messages per request")
    request_timeout_seconds: float = Field(
        default=30.0, gt=0, description="time to the first response byte → 504"
    )
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://host:port/db shared by replicas (rate limits); unset: in-process",
    )
    run_scheduler: bool = Field(
        default=True, description="run the cron scheduler inside the server (it owns the index)"
    )
    store_retry_seconds: float = Field(
        default=10.0, gt=0, description="retry opening an index held by another process"
    )
    docs: bool = Field(default=True, description="serve /docs and /openapi.json")

    @model_validator(mode="before")
    @classmethod
    def _moved_settings(cls, data: Any) -> Any:
        """A setting that moved gets a message naming its new key, not "extra inputs"."""
        if isinstance(data, dict):
            for old, new in _MOVED.items():
                if old in data:
                    raise ValueError(
                        f"api.{old} was removed: set {new} (one limit for the API and the "
                        "answer pipeline)"
                    )
        return data

    def check_for(self, environment: str) -> None:
        """Refuse placeholder or short secrets in production; raise `InsecureSettingsError`."""
        if environment != "production":
            return
        problems: list[str] = []
        secret = self.jwt.secret.get_secret_value() if self.jwt.secret else None
        if secret is not None:
            lowered = secret.lower()
            if len(secret) < MIN_SECRET_CHARS:
                problems.append(f"api.jwt.secret is shorter than {MIN_SECRET_CHARS} characters")
            elif any(word in lowered for word in _PLACEHOLDERS) or len(set(secret)) < 10:
                problems.append("api.jwt.secret looks like a placeholder")
        if "*" in self.cors_origins:
            problems.append("api.cors_origins must list origins, not '*'")
        if self.api_keys_file is None and not self.jwt.enabled:
            problems.append("no credentials configured (api.api_keys_file or api.jwt)")
        if problems:
            raise InsecureSettingsError("refused in production: " + "; ".join(problems))
