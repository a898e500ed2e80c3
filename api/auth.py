"""Who is calling: API keys (stored hashed, with scopes) and JWT bearer tokens → an `Identity`.

API keys are random 256-bit secrets, so a plain SHA-256 is enough to store them (slow password
hashes exist for guessable secrets). A key with the `act_as` scope may name the end user it acts
for (`X-Proofdesk-User`, `X-Proofdesk-Groups`); the principal then comes from the policy engine
for that user, exactly as for a token. Tokens get `chat`, plus `admin` / `audit` when the policy
gives the user those roles: Casbin stays the one decision point.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import jwt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.api_settings import JwtSettings
from api.errors import (
    AuthenticationError,
    EndUserRequiredError,
    PermissionDeniedError,
)
from api.key_hashing import KEY_PREFIX, generate_api_key, hash_api_key
from infra.errors import ConfigurationError
from policies.access.engine import PolicyEngine, holds_auditor_role
from policies.access.principal import InvalidPrincipalError, Principal, user_ref

__all__ = [
    "ApiKeyEntry",
    "ApiKeyStore",
    "ApiKeysFileError",
    "Authenticator",
    "Identity",
    "JwtVerifier",
    "Scope",
    "generate_api_key",
    "hash_api_key",
]

Scope = Literal["chat", "act_as", "admin", "audit"]
SCOPES: tuple[Scope, ...] = get_args(Scope)


class ApiKeysFileError(ConfigurationError, ValueError):
    """The API keys file is missing or invalid."""


class ApiKeyEntry(BaseModel):
    """One integration's key: its hash, what it may do, and whom it runs as by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    scopes: frozenset[Scope]
    user_id: str | None = Field(default=None, description="the key's own principal (None: public)")
    groups: tuple[str, ...] = ()
    enabled: bool = True

    @field_validator("user_id")
    @classmethod
    def _valid_user(cls, value: str | None) -> str | None:
        if value is not None:
            user_ref(value)  # raises on an id the policy could never name
        return value


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[ApiKeyEntry]


class ApiKeyStore:
    """Keys by hash: a lookup hashes the presented key, so its timing reveals no stored key."""

    def __init__(self, entries: Iterable[ApiKeyEntry] = ()) -> None:
        entries = list(entries)
        ids = [e.id for e in entries]
        if len(set(ids)) != len(ids):
            raise ApiKeysFileError("duplicate API key ids")
        self._by_hash = {e.hash: e for e in entries if e.enabled}

    @classmethod
    def load(cls, path: Path) -> ApiKeyStore:
        """Read a YAML or JSON file `{"keys": [{id, hash, scopes, user_id, groups}, …]}`."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ApiKeysFileError(f"API keys file not found: {path}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ApiKeysFileError(f"cannot read API keys file {path}: {exc}") from exc
        try:
            return cls(_KeysFile.model_validate(raw).keys)
        except (ValidationError, InvalidPrincipalError) as exc:
            raise ApiKeysFileError(f"{path}: {exc}") from exc

    def lookup(self, presented: str) -> ApiKeyEntry | None:
        return self._by_hash.get(hash_api_key(presented))

    def __len__(self) -> int:
        return len(self._by_hash)


class JwtVerifier:
    """Checks signature, expiry, issuer and audience with PyJWT; returns the claims."""

    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._algorithms = settings.accepted_algorithms()
        self._key: Any = None
        self._jwks: jwt.PyJWKSet | None = None
        if settings.secret is not None:
            self._key = settings.secret.get_secret_value()
        elif settings.public_key_file is not None:
            self._key = _read(settings.public_key_file, "JWT public key")
        elif settings.jwks_file is not None:
            try:
                self._jwks = jwt.PyJWKSet.from_json(_read(settings.jwks_file, "JWKS"))
            except (jwt.PyJWKSetError, json.JSONDecodeError) as exc:
                raise ValueError(f"invalid JWKS file {settings.jwks_file}: {exc}") from exc

    def verify(self, token: str) -> dict[str, Any]:
        s = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=self._algorithms,
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_seconds,
                options={"require": ["exp", "iss", "aud", s.user_claim]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired", code="token_expired") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("wrong token audience", code="invalid_audience") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("wrong token issuer", code="invalid_issuer") from None
        except jwt.InvalidTokenError:
            raise AuthenticationError("invalid token", code="invalid_token") from None
        return claims

    def _signing_key(self, token: str) -> Any:
        if self._jwks is None:
            return self._key
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise AuthenticationError("invalid token", code="invalid_token") from None
        keys = [k for k in self._jwks.keys if kid is None or k.key_id == kid]
        if len(keys) != 1:
            raise AuthenticationError("unknown token signing key", code="invalid_token")
        return keys[0].key


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the {what} file {path}: {exc}") from exc


END_USER_REQUIRED = (
    "this key acts for end users (scope act_as): name the user in the X-Proofdesk-User header "
    "(for /v1/chat/completions, the OpenAI `user` field works too)"
)


@dataclass(frozen=True)
class Identity:
    """The caller of one request.

    `client` names the credential (`key:<id>` or `jwt:<user>`, for per-key limits); `principal`
    is whom the request runs as (the end user when a key acts for one).
    """

    client: str
    principal: Principal
    scopes: frozenset[Scope]
    acting: bool = False

    @property
    def asker(self) -> str:
        """Who owns what this request creates: the end user, or the key itself."""
        uid = self.principal.user_id
        return f"user:{uid}" if uid is not None else self.client

    def end_user(self) -> Identity:
        """This identity, for a request that runs as an end user (chat): an `act_as` key must
        name the one it acts for, never run as itself."""
        if "act_as" in self.scopes and not self.acting:
            raise EndUserRequiredError(END_USER_REQUIRED)
        return self

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise PermissionDeniedError(f"this operation needs the '{scope}' scope")


class Authenticator:
    def __init__(
        self,
        *,
        policy: PolicyEngine,
        keys: ApiKeyStore | None = None,
        jwt_verifier: JwtVerifier | None = None,
        jwt_settings: JwtSettings | None = None,
    ) -> None:
        self._policy = policy
        self._keys = keys or ApiKeyStore()
        self._jwt = jwt_verifier
        self._jwt_settings = jwt_settings or JwtSettings()

    def authenticate(
        self, bearer: str | None, *, act_user: str | None = None, act_groups: str | None = None
    ) -> Identity:
        """The identity of `Authorization: Bearer <bearer>`; raises `AuthenticationError`.

        Every request's principal is made here, so this is where a policy edit is picked up:
        a changed policy file before the very next request's principal, a policy database
        within `policy.reload_interval_seconds`. The principal (its expanded groups) and the
        access decisions made for it later in the request then come from the same version."""
        self._policy.maybe_reload()
        if not bearer:
            raise AuthenticationError(
                "send an API key or a token: Authorization: Bearer …", code="missing_credentials"
            )
        if bearer.startswith(KEY_PREFIX) or self._jwt is None:
            identity = self._from_key(bearer)
        else:
            identity = self._from_token(self._jwt.verify(bearer))
        if act_user is None and act_groups is None:
            return identity
        return self.act_for(identity, act_user, act_groups)

    def is_auditor(self, identity: Identity) -> bool:
        """Whether the identity runs as a principal the policy makes an auditor."""
        return holds_auditor_role(self._policy, identity.principal)

    def _from_key(self, presented: str) -> Identity:
        entry = self._keys.lookup(presented)
        if entry is None:
            raise AuthenticationError("invalid API key")
        principal = self._policy.principal_for(entry.user_id, entry.groups)
        return Identity(client=f"key:{entry.id}", principal=principal, scopes=entry.scopes)

    def _from_token(self, claims: Mapping[str, Any]) -> Identity:
        s = self._jwt_settings
        user = claims.get(s.user_claim)
        groups = _groups(claims.get(s.groups_claim))
        if not isinstance(user, str) or groups is None:
            raise AuthenticationError("the token's user or groups claim is malformed")
        try:
            principal = self._policy.principal_for(user, groups)
        except InvalidPrincipalError:
            raise AuthenticationError("the token's user id is not valid") from None
        scopes: set[Scope] = {"chat"}
        if self._policy.is_allowed(principal, "api", "sync"):
            scopes.add("admin")
        if self._policy.is_allowed(principal, "api", "audit"):
            scopes.add("audit")
        return Identity(client=f"jwt:{user}", principal=principal, scopes=frozenset(scopes))

    def act_for(self, identity: Identity, user: str | None, groups: str | None = None) -> Identity:
        """`identity` (an `act_as` key) acting for the end user `user` with the comma-separated
        `groups` from the identity provider, expanded by the policy."""
        identity.require("act_as")
        if not user:
            raise EndUserRequiredError(END_USER_REQUIRED)
        names = [g.strip() for g in (groups or "").split(",") if g.strip()]
        principal = self._policy.principal_for(user, names)  # InvalidPrincipalError → 422
        return Identity(
            client=identity.client, principal=principal, scopes=identity.scopes, acting=True
        )


def _groups(value: object) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(g, str) for g in value):
        return list(value)
    return None
