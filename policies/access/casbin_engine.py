"""`CasbinPolicyEngine`: the access model and policy in Casbin; the only module importing casbin.

Casbin holds the specification (`policies/access/casbin/model.conf`) and reads the policy
through its adapters: the file adapter (`policy.csv`) or the SQLAlchemy adapter (SQLite,
PostgreSQL). Every line is validated when it is loaded, and the whole policy is compiled once
per version into the lookup tables of `CompiledPolicy`, which decide requests without scanning
policy lines (plain `enforce()` scans all of them: far too slow per request, let alone per
chunk). The Casbin enforcer running the model itself stays available as the reference
decision (`reference_can_read`, `reference_is_allowed`), and the property tests prove that both
always agree.

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
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import casbin
import casbin_sqlalchemy_adapter
from casbin import persist
from casbin.persist.adapters import FileAdapter
from sqlalchemy import Integer, String, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from policies.access.engine import PolicyLoadError, PolicyStatus, PolicyStorageError
from policies.access.filters import AccessFilter
from policies.access.principal import PUBLIC, InvalidPrincipalError, Principal
from policies.access.rules import (
    SOURCE_PREFIX,
    CompiledPolicy,
    Rule,
    parse_rule,
    parse_rule_text,
    policy_version,
    rule_text,
)
from policies.access.settings import DEFAULT_MODEL_PATH, PolicySettings

__all__ = ["CasbinPolicyEngine"]

_logger = logging.getLogger(__name__)


class _CasbinChatterAtDebug(logging.Filter):
    """Casbin logs its whole model and every user→group link at INFO when an enforcer is built:
    library chatter, so it becomes DEBUG (shown only where DEBUG is enabled)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


for _name in ("casbin", "casbin.policy", "casbin.role", "casbin.enforcer"):
    logging.getLogger(_name).addFilter(_CasbinChatterAtDebug())
_SECTIONS = ("r", "p", "g", "e", "m")
_DENY_ALL = AccessFilter(holds=frozenset(), allowed_sources=frozenset())


@dataclass(frozen=True)
class _Subject:
    """`r.sub`: the references a subject holds directly (its user and its defined IdP groups)."""

    refs: tuple[str, ...]


@dataclass(frozen=True)
class _Resource:
    """`r.obj`: `source:<id>` with the document's access lists, or `api` (read = public)."""

    name: str
    read: tuple[str, ...]
    deny: tuple[str, ...]


# --- reading storage --------------------------------------------------------------------------


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


class _Sink:
    def __init__(self, lines: list[tuple[str, list[str]]], ptype: str) -> None:
        self._lines, self._ptype = lines, ptype

    def append(self, fields: list[str]) -> None:
        self._lines.append((self._ptype, list(fields)))


class _Entry:
    def __init__(self, lines: list[tuple[str, list[str]]], ptype: str) -> None:
        self.policy = _Sink(lines, ptype)


class _Section:
    def __init__(self, lines: list[tuple[str, list[str]]]) -> None:
        self._lines = lines

    def keys(self) -> _Everything:
        return _Everything()

    def __getitem__(self, ptype: str) -> _Entry:
        return _Entry(self._lines, ptype)


class _Collector:
    """Stands in for a Casbin model while an adapter loads, and keeps every line it is given.

    Casbin silently skips lines whose type the model does not declare: a mistyped deny line
    would vanish, and what it denied would be allowed. Collected lines are validated instead.
    `persist.load_policy_line` only touches `model.model[sec][ptype].policy.append(fields)`.
    """

    def __init__(self) -> None:
        self.lines: list[tuple[str, list[str]]] = []
        self.model = self

    def keys(self) -> _Everything:
        return _Everything()

    def __getitem__(self, sec: str) -> _Section:
        return _Section(self.lines)


class _Storage(Protocol):
    description: str

    def read(self) -> list[tuple[str, list[str]]]: ...
    def fingerprint(self) -> object: ...
    def add(self, rules: Sequence[Rule]) -> None: ...
    def remove(self, rules: Sequence[Rule]) -> None: ...
    def close(self) -> None: ...


def _file_fingerprint(path: Path) -> object:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class _FileStorage:
    """Casbin's file adapter over `policy.csv`; the file itself is edited, then reloaded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"policy file {path}"
        self._adapter = FileAdapter(str(path))

    def read(self) -> list[tuple[str, list[str]]]:
        if not self.path.is_file():
            raise PolicyLoadError(f"policy file not found: {self.path}")
        collector = _Collector()
        self._adapter.load_policy(collector)
        return collector.lines

    def fingerprint(self) -> object:
        return _file_fingerprint(self.path)

    def add(self, rules: Sequence[Rule]) -> None:
        raise PolicyStorageError(f"{self.description} is edited as a file; reload() picks it up")

    remove = add

    def close(self) -> None:
        return None


def _rule_table(table_name: str) -> type[Any]:
    """The adapter's `CasbinRule` row, in a table of our choosing (its own metadata each time)."""

    class Base(DeclarativeBase):
        pass

    class PolicyRow(Base):
        __tablename__ = table_name
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        ptype: Mapped[str | None] = mapped_column(String(255))
        v0: Mapped[str | None] = mapped_column(String(255))
        v1: Mapped[str | None] = mapped_column(String(255))
        v2: Mapped[str | None] = mapped_column(String(255))
        v3: Mapped[str | None] = mapped_column(String(255))
        v4: Mapped[str | None] = mapped_column(String(255))
        v5: Mapped[str | None] = mapped_column(String(255))

        __str__ = casbin_sqlalchemy_adapter.CasbinRule.__str__  # the line the adapter loads

    return PolicyRow


class _DatabaseStorage:
    """Casbin's SQLAlchemy adapter: every replica reads the same table; edits are rows."""

    def __init__(self, url: str, table_name: str) -> None:
        self.description = (
            f"policy table {table_name!r} in {make_url(url).render_as_string(hide_password=True)}"
        )
        self._engine = create_engine(url, pool_pre_ping=True)
        try:
            self._adapter = casbin_sqlalchemy_adapter.Adapter(
                self._engine, db_class=_rule_table(table_name)
            )
        except Exception as exc:
            self._engine.dispose()
            raise PolicyLoadError(f"cannot open the {self.description}: {exc}") from exc

    def read(self) -> list[tuple[str, list[str]]]:
        collector = _Collector()
        self._adapter.load_policy(collector)
        return collector.lines

    def fingerprint(self) -> object:
        return None  # no cheap change marker: the interval reload compares versions

    def add(self, rules: Sequence[Rule]) -> None:
        for rule in rules:
            self._adapter.add_policy(rule.ptype, rule.ptype, list(rule.fields()))

    def remove(self, rules: Sequence[Rule]) -> None:
        for rule in rules:
            self._adapter.remove_policy(rule.ptype, rule.ptype, list(rule.fields()))

    def close(self) -> None:
        self._engine.dispose()


class _RulesAdapter(persist.Adapter):  # type: ignore[misc]
    """Feeds already validated rules to the reference enforcer (it never writes)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = rules

    def load_policy(self, model: Any) -> None:
        for rule in self._rules:
            persist.load_policy_line(rule_text(rule), model)


# --- the model ---------------------------------------------------------------------------------


def _parse_model(text: str, origin: str) -> tuple[Any, dict[str, str]]:
    """Casbin's parse of a model, and its definitions with whitespace normalised."""
    try:
        model = casbin.Model()
        model.load_model_from_text(text)
    except Exception as exc:
        raise PolicyLoadError(f"invalid Casbin model {origin}: {exc}") from exc
    definitions: dict[str, str] = {}
    for sec in _SECTIONS:
        assertion = (model[sec] or {}).get(sec)
        if assertion is None:
            raise PolicyLoadError(f"invalid Casbin model {origin}: it defines no '{sec}'")
        definitions[sec] = " ".join(str(assertion.value).split())
    return model, definitions


def _read_model(path: Path) -> tuple[str, Any]:
    """The model text, checked to define exactly the packaged model, and Casbin's parse of it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyLoadError(f"Casbin model not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyLoadError(f"cannot read the Casbin model {path}: {exc}") from exc
    model, found = _parse_model(text, str(path))
    if path.resolve() != DEFAULT_MODEL_PATH:
        packaged = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")
        _, expected = _parse_model(packaged, str(DEFAULT_MODEL_PATH))
        changed = [sec for sec in _SECTIONS if found[sec] != expected[sec]]
        if changed:
            raise PolicyLoadError(
                f"the Casbin model {path} differs from the packaged model.conf in "
                f"{', '.join(changed)}: the engine's access filters implement exactly that model"
            )
    return text, model


def _reference_enforcer(model: Any, rules: Sequence[Rule]) -> Any:
    """The Casbin enforcer running the model over every policy line: the slow reference."""
    enforcer = casbin.Enforcer(model, _RulesAdapter(rules))
    roles = enforcer.get_role_manager()
    # Casbin stops following g links after 10 levels by default; nesting depth here is bounded
    # only by the number of principals (cycles are refused at load).
    roles.max_hierarchy_level = 2 * len(rules) + 2

    def holds(sub: _Subject, ref: str) -> bool:
        return ref == PUBLIC or any(roles.has_link(own, ref) for own in sub.refs)

    def holds_any(sub: _Subject, refs: Iterable[str]) -> bool:
        return any(holds(sub, ref) for ref in refs)

    enforcer.add_function("holds", holds)
    enforcer.add_function("holdsAny", holds_any)
    return enforcer


@dataclass(frozen=True)
class _Snapshot:
    compiled: CompiledPolicy
    enforcer: Any
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
        self._reference_lock = threading.Lock()
        self._last_error: str | None = None
        url = settings.database_url
        self._storage: _Storage = (
            _DatabaseStorage(url.get_secret_value(), settings.table_name)
            if url is not None
            else _FileStorage(settings.policy_path)
        )
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
        return (_file_fingerprint(self._settings.model_path), storage)

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
        text, model = _read_model(self._settings.model_path)
        rules = sorted(set(self._read_rules()), key=rule_text)
        version = policy_version(text, rules)
        if previous is not None and previous.compiled.version == version:
            return None
        try:
            compiled = CompiledPolicy(rules, version=version)
            enforcer = _reference_enforcer(model, rules)
        except PolicyLoadError as exc:
            raise PolicyLoadError(f"{self._storage.description}: {exc}") from None
        except Exception as exc:
            raise PolicyLoadError(f"cannot compile the {self._storage.description}: {exc}") from exc
        if not rules:
            _logger.warning("the %s is empty: nothing is readable", self._storage.description)
        return _Snapshot(compiled=compiled, enforcer=enforcer, loaded_at=datetime.now(UTC))

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
        resource = _Resource(SOURCE_PREFIX + source_id, tuple(read), tuple(deny))
        return self._reference(user_id, idp_groups, resource, "read")

    def reference_is_allowed(
        self, user_id: str | None, idp_groups: Iterable[str], obj: str, act: str
    ) -> bool:
        return self._reference(user_id, idp_groups, _Resource(obj, (PUBLIC,), ()), act)

    def _reference(
        self, user_id: str | None, idp_groups: Iterable[str], resource: _Resource, act: str
    ) -> bool:
        enforcer = self._snapshot.enforcer
        refs: list[str] = []
        if user_id is not None:
            # What the policy defines, asked of Casbin itself: p subjects and both sides of g.
            named = set(enforcer.get_all_subjects())
            named.update(ref for line in enforcer.get_grouping_policy() for ref in line)
            refs.append(f"user:{user_id}")
            for group in idp_groups:
                ref = group if group.startswith("group:") else f"group:{group}"
                if ref in named:
                    refs.append(ref)
        with self._reference_lock:  # Casbin's role manager caches lookups as it goes
            return bool(enforcer.enforce(_Subject(tuple(refs)), resource, act))

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
