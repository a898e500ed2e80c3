"""`CasbinPolicyEngine`: the access model and policy in Casbin (the adapter: this module,
`casbin_storage` and `casbin_reference` are the only ones importing casbin).

Casbin holds the specification (`policies/access/casbin/model.conf`) and reads the policy
through its adapters (`casbin_storage`): the file adapter (`policy.csv`) or the SQLAlchemy
adapter (SQLite, PostgreSQL). Every line is validated when it is loaded, and the whole policy
is compiled once per version into the lookup tables of `CompiledPolicy`, which decide requests
without scanning policy lines (plain `enforce()` scans all of them: far too slow per request,
let alone per chunk). The Casbin enforcer running the model itself (`casbin_reference`) stays
available as the reference decision (`reference_can_read`, `reference_is_allowed`), and the
property tests prove that both always agree.

Fail closed: a missing or invalid model or policy stops the engine from being built; a failed
reload keeps the last good policy and reports the error; an error while deciding means "no".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from policies.access.casbin_reference import ReferenceEnforcer, read_model
from policies.access.casbin_storage import PolicyStorage, file_fingerprint, open_storage
from policies.access.engine import PolicyLoadError, PolicyStatus, PolicyStorageError
from policies.access.filters import AccessFilter
from policies.access.principal import InvalidPrincipalError, Principal
from policies.access.rules import (
    CompiledPolicy,
    Rule,
    parse_rule,
    parse_rule_text,
    policy_version,
    rule_text,
)
from policies.access.settings import PolicySettings

__all__ = ["CasbinPolicyEngine"]

_logger = logging.getLogger(__name__)


_DENY_ALL = AccessFilter(holds=frozenset(), allowed_sources=frozenset())


@dataclass(frozen=True)
class _Snapshot:
    compiled: CompiledPolicy
    reference: ReferenceEnforcer
    loaded_at: datetime


# --- the engine --------------------------------------------------------------------------------


class CasbinPolicyEngine:
    """The `PolicyEngine` over Casbin. Thread-safe: each policy version is an immutable snapshot.

    Raises `PolicyLoadError` when the model or the policy cannot be loaded: it never starts
    with a partial or default policy.
    """

    def __init__(
        self, *, settings: PolicySettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.RLock()
        self._last_error: str | None = None
        self._storage: PolicyStorage = open_storage(settings)
        try:
            self._fingerprint = self._fingerprints()
            snapshot = self._build(previous=None)
        except BaseException:
            self._storage.close()
            raise
        assert snapshot is not None
        self._snapshot = snapshot
        self._next_check = clock() + settings.reload_interval_seconds
        _logger.info(
            "access policy %s loaded from the %s (%d rules)",
            snapshot.compiled.version,
            self._storage.description,
            snapshot.compiled.rule_count,
        )

    # -- loading

    def _fingerprints(self) -> object:
        storage = self._storage.fingerprint()
        if storage is None:
            return None
        return (file_fingerprint(self._settings.model_path), storage)

    def _read_rules(self) -> list[Rule]:
        try:
            lines = self._storage.read()
        except PolicyLoadError:
            raise
        except Exception as exc:
            raise PolicyLoadError(f"cannot read the {self._storage.description}: {exc}") from exc
        try:
            return [parse_rule(ptype, fields) for ptype, fields in lines]
        except PolicyLoadError as exc:
            raise PolicyLoadError(f"{self._storage.description}: {exc}") from None

    def _build(self, *, previous: _Snapshot | None) -> _Snapshot | None:
        """A new snapshot, or None when storage holds the version already served."""
        text, model = read_model(self._settings.model_path)
        rules = sorted(set(self._read_rules()), key=rule_text)
        version = policy_version(text, rules)
        if previous is not None and previous.compiled.version == version:
            return None
        try:
            compiled = CompiledPolicy(rules, version=version)
            reference = ReferenceEnforcer(model, rules)
        except PolicyLoadError as exc:
            raise PolicyLoadError(f"{self._storage.description}: {exc}") from None
        except Exception as exc:
            raise PolicyLoadError(f"cannot compile the {self._storage.description}: {exc}") from exc
        if not rules:
            _logger.warning("the %s is empty: nothing is readable", self._storage.description)
        return _Snapshot(compiled=compiled, reference=reference, loaded_at=datetime.now(UTC))

    def reload(self) -> bool:
        """Re-read model and policy; True when the version changed.

        On an invalid policy, raises `PolicyLoadError` and keeps serving the last good version
        (`status.last_error` says why until a reload succeeds).
        """
        with self._lock:
            fingerprint = self._fingerprints()
            try:
                snapshot = self._build(previous=self._snapshot)
            except PolicyLoadError as exc:
                self._fingerprint = fingerprint  # do not retry an unchanged broken file
                self._last_error = str(exc)
                _logger.error(
                    "policy reload failed; still serving %s: %s",
                    self._snapshot.compiled.version,
                    exc,
                )
                raise
            self._fingerprint = fingerprint
            self._last_error = None
            if snapshot is None:
                return False
            self._snapshot = snapshot
            _logger.info(
                "access policy %s loaded (%d rules)",
                snapshot.compiled.version,
                snapshot.compiled.rule_count,
            )
            return True

    def maybe_reload(self) -> bool:
        """Reload if the policy may have changed; never raises. Called once per request.

        A file policy is checked on every call (a `stat`, microseconds) and re-read as soon as
        the model or policy file changed (mtime, size, inode), so an edit applies to the very
        next request. A database policy has no cheap change marker: it is re-read every
        `reload_interval_seconds` and swapped only if its version changed.
        """
        fingerprint = self._fingerprints()
        if fingerprint is not None:
            if fingerprint == self._fingerprint:
                return False
        else:
            now = self._clock()
            if now < self._next_check:
                return False
            self._next_check = now + self._settings.reload_interval_seconds
        try:
            return self.reload()
        except PolicyLoadError:
            return False  # logged and recorded by reload()

    # -- state

    @property
    def version(self) -> str:
        return self._snapshot.compiled.version

    @property
    def status(self) -> PolicyStatus:
        snapshot = self._snapshot
        return PolicyStatus(
            version=snapshot.compiled.version,
            loaded_at=snapshot.loaded_at,
            rules=snapshot.compiled.rule_count,
            last_error=self._last_error,
        )

    # -- decisions (fast path)

    def principal_for(self, user_id: str | None, idp_groups: Iterable[str] = ()) -> Principal:
        """The principal of an identity; raises `InvalidPrincipalError` for a malformed user id."""
        if isinstance(idp_groups, str):  # a lone group name would be read letter by letter
            raise TypeError("idp_groups must be a collection of group names, not a string")
        try:
            return self._snapshot.compiled.principal(user_id, idp_groups)
        except InvalidPrincipalError:
            raise
        except Exception:
            _logger.exception("principal expansion failed; the principal holds only public")
            return Principal(user_id=user_id)

    def access_filter(self, principal: Principal) -> AccessFilter:
        try:
            return self._snapshot.compiled.access_filter(principal)
        except Exception:
            _logger.exception("access filter compilation failed; nothing is readable")
            return _DENY_ALL

    def can_read(
        self,
        subject: Principal | AccessFilter,
        *,
        source_id: str,
        read: Collection[str],
        deny: Collection[str],
    ) -> bool:
        """The per-chunk re-check. A filter compiled under another policy version is refused."""
        try:
            if isinstance(subject, AccessFilter):
                if subject.policy_version != self._snapshot.compiled.version:
                    _logger.warning("access filter of an older policy version: chunk refused")
                    return False
                access = subject
            else:
                access = self._snapshot.compiled.access_filter(subject)
            return access.admits(source_id=source_id, read=read, deny=deny)
        except Exception:
            _logger.exception("access check failed: chunk refused")
            return False

    def is_allowed(self, principal: Principal, obj: str, act: str) -> bool:
        try:
            return self._snapshot.compiled.is_allowed(principal, obj, act)
        except Exception:
            _logger.exception("permission check failed: refused")
            return False

    # -- decisions (slow reference: Casbin's enforce over every line; tests and audits only)

    def reference_can_read(
        self,
        user_id: str | None,
        idp_groups: Iterable[str] = (),
        *,
        source_id: str,
        read: Collection[str],
        deny: Collection[str],
    ) -> bool:
        return self._snapshot.reference.can_read(
            user_id, idp_groups, source_id=source_id, read=read, deny=deny
        )

    def reference_is_allowed(
        self, user_id: str | None, idp_groups: Iterable[str], obj: str, act: str
    ) -> bool:
        return self._snapshot.reference.is_allowed(user_id, idp_groups, obj, act)

    # -- editing (database storage)

    def add_rules(self, lines: Iterable[str]) -> bool:
        """Write policy lines to the database, then reload; True when something was added.

        Every line is validated, and so is the resulting policy (e.g. no cycles), before anything
        is written. Other replicas see the edit at their next reload. Files are edited as files.
        """
        rules = list(dict.fromkeys(parse_rule_text(line) for line in lines))
        with self._lock:
            stored = set(self._read_rules())
            new = [r for r in rules if r not in stored]
            if not new:
                return False
            CompiledPolicy([*stored, *new], version="candidate")  # validates: no cycles
            self._write(self._storage.add, new)
            self.reload()
        return True

    def remove_rules(self, lines: Iterable[str]) -> bool:
        """Delete policy lines from the database, then reload; True when something was removed."""
        rules = list(dict.fromkeys(parse_rule_text(line) for line in lines))
        with self._lock:
            stored = set(self._read_rules())
            gone = [r for r in rules if r in stored]
            if not gone:
                return False
            self._write(self._storage.remove, gone)
            self.reload()
        return True

    def _write(self, operation: Callable[[Sequence[Rule]], None], rules: Sequence[Rule]) -> None:
        try:
            operation(rules)
        except PolicyStorageError:
            raise
        except Exception as exc:
            raise PolicyStorageError(
                f"cannot write to the {self._storage.description}: {exc}"
            ) from exc

    def close(self) -> None:
        self._storage.close()

    def __enter__(self) -> CasbinPolicyEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
