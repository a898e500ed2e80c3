"""Principal references (`user:<id>`, `group:<name>`, `public`) and the `Principal` of a request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "PUBLIC",
    "InvalidPrincipalError",
    "Principal",
    "group_ref",
    "parse_principal_ref",
    "user_ref",
]

PUBLIC = "public"

# Identifiers are kept deliberately narrow: they end up in policy files, payload indexes and logs.
_NAME = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}"
_REF = re.compile(rf"^(?:(?P<kind>user|group):(?P<name>{_NAME})|(?P<public>public))$")


class InvalidPrincipalError(ValueError):
    """A principal reference is not `user:<id>`, `group:<name>` or `public`."""


def parse_principal_ref(raw: object) -> str:
    """Validate and normalise one principal reference; raise `InvalidPrincipalError` otherwise.

    The kind prefix is case-insensitive; names are case-sensitive identifiers.
    """
    if not isinstance(raw, str):
        raise InvalidPrincipalError(f"principal must be a string, got {type(raw).__name__}")
    text = raw.strip()
    head, sep, tail = text.partition(":")
    candidate = f"{head.lower()}{sep}{tail}" if sep else text.lower()
    if not _REF.match(candidate):
        raise InvalidPrincipalError(
            f"invalid principal {raw!r}: expected 'user:<id>', 'group:<name>' or 'public'"
        )
    return candidate


def user_ref(user_id: str) -> str:
    return parse_principal_ref(f"user:{user_id}")


def group_ref(group: str) -> str:
    return parse_principal_ref(f"group:{group}")


@dataclass(frozen=True)
class Principal:
    """The identity a request runs as: a user id (None for anonymous) and the groups it holds.

    `groups` holds bare group names (no `group:` prefix), already expanded by the policy engine
    when the principal comes from it.
    """

    user_id: str | None
    groups: frozenset[str] = field(default_factory=frozenset)

    def refs(self) -> frozenset[str]:
        """Every principal reference this identity holds, `public` included."""
        refs = {PUBLIC}
        if self.user_id is not None:
            refs.add(user_ref(self.user_id))
        refs.update(group_ref(g) for g in self.groups)
        return frozenset(refs)
