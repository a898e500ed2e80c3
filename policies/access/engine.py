"""The policy engine port: who a request runs as, and what that principal may read or do.

One decision point, used twice: `access_filter` compiles a principal once per request into the
filter that retrieval pushes into the vector search; `can_read` re-checks every chunk that will be
cited. Both give the decision of the access model (Casbin, in `policies.access.casbin_engine`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from infra.errors import ConfigurationError
from policies.access.filters import AccessFilter
from policies.access.principal import Principal

__all__ = [
    "PolicyEngine",
    "PolicyError",
    "PolicyLoadError",
    "PolicyStatus",
    "PolicyStorageError",
    "holds_auditor_role",
]


class PolicyError(Exception):
    """Base of the access policy errors."""


class PolicyLoadError(PolicyError, ConfigurationError):
    """The model or the policy is missing, unreadable or invalid.

    At start-up the engine refuses to build; on a reload it keeps serving the last good policy.
    """


class PolicyStorageError(PolicyError):
    """A policy edit could not be written (or the storage cannot be edited from here)."""


@dataclass(frozen=True)
class PolicyStatus:
    """What the engine is serving, and the last reload failure (None once a reload succeeds)."""

    version: str
    loaded_at: datetime
    rules: int
    last_error: str | None = None


class PolicyEngine(Protocol):
    """Decides who may read what. Every decision fails closed: an error means "no"."""

    @property
    def version(self) -> str:
        """A stable hash of the model and the sorted policy lines being served."""

    def principal_for(self, user_id: str | None, idp_groups: Iterable[str] = ()) -> Principal:
        """The principal of an authenticated identity (`None`: anonymous, `public` only).

        The identity provider's groups are merged with the groups the policy gives the user and
        expanded through nested groups; groups the policy does not define are dropped.
        """

    def access_filter(self, principal: Principal) -> AccessFilter:
        """Compile a principal, once per request, into what it may read."""

    def can_read(
        self,
        subject: Principal | AccessFilter,
        *,
        source_id: str,
        read: Collection[str],
        deny: Collection[str],
    ) -> bool:
        """Whether one chunk (its source and its document's access lists) is readable. Fast."""

    def is_allowed(self, principal: Principal, obj: str, act: str) -> bool:
        """Whether the principal may perform an action, e.g. `("api", "audit")`."""

    def maybe_reload(self) -> bool:
        """Pick up a changed policy if there is one (cheap; called per request); never raises."""

    def reload(self) -> bool:
        """Re-read the policy; True when the version changed.

        Raises `PolicyLoadError` when the new policy is invalid; the last good one stays in use.
        """


def holds_auditor_role(policy: PolicyEngine, principal: Principal) -> bool:
    """The auditor role: a named user the policy allows `("api", "audit")`. A principal without
    a user (an API key of its own) is never an auditor, whatever scopes its key holds."""
    return principal.user_id is not None and policy.is_allowed(principal, "api", "audit")
