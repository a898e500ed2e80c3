"""The Casbin model, read and checked, and the reference decision: Casbin's own enforcer running
that model over every policy line.

`read_model` refuses a model that differs from the packaged `model.conf`: the compiled lookup
tables (`policies.access.rules.CompiledPolicy`) implement exactly that model. The
`ReferenceEnforcer` is slow (it scans every line per decision) and serves tests and audits only;
the property tests prove that it and the compiled tables always agree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin
from casbin import persist

from policies.access.engine import PolicyLoadError
from policies.access.principal import PUBLIC
from policies.access.rules import SOURCE_PREFIX, Rule, rule_text
from policies.access.settings import DEFAULT_MODEL_PATH

__all__ = ["ReferenceEnforcer", "read_model"]

_SECTIONS = ("r", "p", "g", "e", "m")


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


class _RulesAdapter(persist.Adapter):  # type: ignore[misc]
    """Feeds already validated rules to the reference enforcer (it never writes)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = rules

    def load_policy(self, model: Any) -> None:
        for rule in self._rules:
            persist.load_policy_line(rule_text(rule), model)


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


def read_model(path: Path) -> tuple[str, Any]:
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


class ReferenceEnforcer:
    """The Casbin enforcer running `model` over every one of `rules`: the slow reference."""

    def __init__(self, model: Any, rules: Sequence[Rule]) -> None:
        enforcer = casbin.Enforcer(model, _RulesAdapter(rules))
        roles = enforcer.get_role_manager()
        # Casbin stops following g links after 10 levels by default; nesting depth here is
        # bounded only by the number of principals (cycles are refused at load).
        roles.max_hierarchy_level = 2 * len(rules) + 2

        def holds(sub: _Subject, ref: str) -> bool:
            return ref == PUBLIC or any(roles.has_link(own, ref) for own in sub.refs)

        def holds_any(sub: _Subject, refs: Iterable[str]) -> bool:
            return any(holds(sub, ref) for ref in refs)

        enforcer.add_function("holds", holds)
        enforcer.add_function("holdsAny", holds_any)
        self._enforcer = enforcer
        self._lock = threading.Lock()  # Casbin's role manager caches lookups as it goes

    def can_read(
        self,
        user_id: str | None,
        idp_groups: Iterable[str],
        *,
        source_id: str,
        read: Collection[str],
        deny: Collection[str],
    ) -> bool:
        resource = _Resource(SOURCE_PREFIX + source_id, tuple(read), tuple(deny))
        return self._enforce(user_id, idp_groups, resource, "read")

    def is_allowed(
        self, user_id: str | None, idp_groups: Iterable[str], obj: str, act: str
    ) -> bool:
        return self._enforce(user_id, idp_groups, _Resource(obj, (PUBLIC,), ()), act)

    def _enforce(
        self, user_id: str | None, idp_groups: Iterable[str], resource: _Resource, act: str
    ) -> bool:
        enforcer = self._enforcer
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
        with self._lock:
            return bool(enforcer.enforce(_Subject(tuple(refs)), resource, act))
