"""Policy lines as typed rules, their validation, and their compilation into lookup tables.

Pure Python, no Casbin: `CompiledPolicy` is the fast path of the access model defined in
`policies/access/casbin/model.conf`. It is built once per policy version; a request then costs
a few set unions (principal expansion, access filter compilation), never a scan of the policy
lines.
`tests/policies/test_access_property.py` proves that its decisions equal those of the Casbin
enforcer running the model itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

from policies.access.engine import PolicyLoadError
from policies.access.filters import AccessFilter
from policies.access.principal import PUBLIC, InvalidPrincipalError, Principal, parse_principal_ref

__all__ = [
    "ALL_SOURCES",
    "API_OBJECT",
    "SOURCE_ID_PATTERN",
    "CompiledPolicy",
    "Effect",
    "GroupingRule",
    "PermissionRule",
    "Rule",
    "parse_rule",
    "parse_rule_text",
    "policy_version",
    "rule_text",
]

Effect = Literal["allow", "deny"]
SOURCE_PREFIX = "source:"
ALL_SOURCES = "source:*"
API_OBJECT = "api"
_GROUP = "group:"
_ROLE_PREFIX = "role:"
_ROLE = re.compile(r"^role:[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
# An approved source's id: the one pattern, used by the sources file (`ingest.sources.SourceId`),
# the API's paths and filters, the metrics' labels and `source:<id>` here.
SOURCE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_SOURCE_ID = re.compile(SOURCE_ID_PATTERN)
_ACTION = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_EMPTY: frozenset[str] = frozenset()
_K = TypeVar("_K")


@dataclass(frozen=True, order=True)
class GroupingRule:
    """`g, <member>, <parent>`: the member (user, group or role) inherits the parent."""

    member: str
    parent: str
    ptype: ClassVar[str] = "g"

    def fields(self) -> tuple[str, ...]:
        return (self.member, self.parent)


@dataclass(frozen=True, order=True)
class PermissionRule:
    """`p, <subject>, <object>, <action>, allow|deny`."""

    subject: str
    obj: str
    action: str
    effect: Effect
    ptype: ClassVar[str] = "p"

    def fields(self) -> tuple[str, ...]:
        return (self.subject, self.obj, self.action, self.effect)


Rule = GroupingRule | PermissionRule


def rule_text(rule: Rule) -> str:
    """The rule as a policy line, e.g. `g, user:alice, group:it-staff`."""
    return ", ".join((rule.ptype, *rule.fields()))


def _kind(ref: str) -> str:
    return PUBLIC if ref == PUBLIC else ref.partition(":")[0]


def _reference(raw: str, *, kinds: frozenset[str], role: str) -> str:
    """Validate one principal of a policy line, in its canonical spelling only."""
    if raw.startswith(_ROLE_PREFIX):
        if not _ROLE.match(raw):
            raise ValueError(f"invalid role {raw!r}: expected 'role:<name>'")
        canonical = raw
    else:
        try:
            canonical = parse_principal_ref(raw)
        except InvalidPrincipalError as exc:
            raise ValueError(f"{exc} (or 'role:<name>')") from None
        if canonical != raw:
            # The Casbin model compares strings: a second spelling would be a second principal.
            raise ValueError(f"write the {role} {raw!r} as {canonical!r}")
    if _kind(canonical) not in kinds:
        allowed = ", ".join(sorted(kinds))
        raise ValueError(f"the {role} {raw!r} must be one of: {allowed}")
    return canonical


_MEMBER_KINDS = frozenset({"user", "group", "role"})
_PARENT_KINDS = frozenset({"group", "role"})
_SUBJECT_KINDS = frozenset({"user", "group", "role", PUBLIC})


def parse_rule(ptype: str, fields: Sequence[str]) -> Rule:
    """Validate one policy line given as its type and fields; raise `PolicyLoadError` if invalid."""
    line = ", ".join((ptype, *fields))
    try:
        return _parse(ptype, [f.strip() for f in fields])
    except ValueError as exc:
        raise PolicyLoadError(f"invalid policy line {line!r}: {exc}") from None


def parse_rule_text(line: str) -> Rule:
    """Validate one policy line written as text, e.g. `p, group:hr, source:hr-kb, read, allow`."""
    ptype, *fields = (part.strip() for part in line.split(","))
    return parse_rule(ptype, fields)


def _parse(ptype: str, fields: list[str]) -> Rule:
    if ptype == "g":
        return _parse_grouping(fields)
    if ptype == "p":
        return _parse_permission(fields)
    raise ValueError(f"unknown line type {ptype!r}: expected 'p' or 'g'")


def _parse_grouping(fields: list[str]) -> GroupingRule:
    if len(fields) != 2:
        raise ValueError(f"a g line has 2 fields (member, group or role), got {len(fields)}")
    member = _reference(fields[0], kinds=_MEMBER_KINDS, role="member")
    parent = _reference(fields[1], kinds=_PARENT_KINDS, role="parent")
    if member == parent:
        raise ValueError("a principal cannot be a member of itself")
    if _kind(member) == "role" and _kind(parent) != "role":
        raise ValueError("a role can only inherit other roles")
    return GroupingRule(member=member, parent=parent)


def _parse_permission(fields: list[str]) -> PermissionRule:
    if len(fields) != 4:
        raise ValueError(
            f"a p line has 4 fields (subject, object, action, allow|deny), got {len(fields)}"
        )
    subject = _reference(fields[0], kinds=_SUBJECT_KINDS, role="subject")
    obj, action, effect = fields[1], fields[2], fields[3]
    if obj.startswith(SOURCE_PREFIX):
        if obj != ALL_SOURCES and not _SOURCE_ID.match(obj[len(SOURCE_PREFIX) :]):
            raise ValueError(f"invalid source {obj!r}: expected 'source:<id>' or 'source:*'")
        if action != "read":
            raise ValueError(f"the only action on a source is 'read', got {action!r}")
    elif obj == API_OBJECT:
        if not _ACTION.match(action):
            raise ValueError(f"invalid action {action!r}: expected a lowercase word")
    else:
        raise ValueError(f"invalid object {obj!r}: expected 'source:<id>', 'source:*' or 'api'")
    if effect not in ("allow", "deny"):
        raise ValueError(f"the effect must be 'allow' or 'deny', got {effect!r}")
    return PermissionRule(
        subject=subject, obj=obj, action=action, effect="allow" if effect == "allow" else "deny"
    )


def policy_version(model_text: str, rules: Iterable[Rule]) -> str:
    """A stable hash of the model text and the sorted, de-duplicated policy lines."""
    digest = hashlib.sha256(model_text.encode("utf-8"))
    for line in sorted({rule_text(r) for r in rules}):
        digest.update(b"\n")
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()[:16]


def _closures(parents: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """node → the node and everything it inherits; refuses cycles. Iterative: chains may be deep."""
    done: dict[str, frozenset[str]] = {}
    on_path: dict[str, int] = {}
    for root in sorted(parents):
        if root in done:
            continue
        path = [root]
        on_path[root] = 0
        stack = [iter(sorted(parents.get(root, _EMPTY)))]
        while stack:
            parent = next(stack[-1], None)
            if parent is None:
                node = path.pop()
                del on_path[node]
                stack.pop()
                acc = {node}
                for p in parents.get(node, _EMPTY):
                    acc.update(done[p])
                done[node] = frozenset(acc)
            elif parent in on_path:
                cycle = [*path[on_path[parent] :], parent]
                raise PolicyLoadError(f"cycle in the g lines: {' → '.join(cycle)}")
            elif parent not in done:
                on_path[parent] = len(path)
                path.append(parent)
                stack.append(iter(sorted(parents.get(parent, _EMPTY))))
    return done


def _index(pairs: Iterable[tuple[_K, str]]) -> dict[_K, frozenset[str]]:
    table: dict[_K, set[str]] = {}
    for key, value in pairs:
        table.setdefault(key, set()).add(value)
    return {k: frozenset(v) for k, v in table.items()}


class CompiledPolicy:
    """One policy version, compiled into the lookup tables that decide requests in microseconds.

    - `_up`: every principal named in a g line → itself and everything it inherits (transitively).
    - `defined`: the groups and roles the policy names anywhere (g lines and p subjects).
      An identity provider's group outside this set is dropped: it matches nobody.
    - source rules by subject, and every p line by (object, action) for `is_allowed`.
    """

    def __init__(self, rules: Sequence[Rule], *, version: str) -> None:
        self.version = version
        self.rule_count = len(set(rules))
        grouping = [r for r in rules if isinstance(r, GroupingRule)]
        permissions = [r for r in rules if isinstance(r, PermissionRule)]
        self._up = _closures(_index((g.member, g.parent) for g in grouping))
        named = {g.member for g in grouping} | {g.parent for g in grouping}
        named |= {p.subject for p in permissions}
        self.defined: frozenset[str] = frozenset(
            ref for ref in named if ref.startswith((_GROUP, _ROLE_PREFIX))
        )
        on_sources = [p for p in permissions if p.obj.startswith(SOURCE_PREFIX)]
        by_source = [p for p in on_sources if p.obj != ALL_SOURCES]
        self._source_allow = _index(
            (p.subject, p.obj[len(SOURCE_PREFIX) :]) for p in by_source if p.effect == "allow"
        )
        self._source_deny = _index(
            (p.subject, p.obj[len(SOURCE_PREFIX) :]) for p in by_source if p.effect == "deny"
        )
        everywhere = [p for p in on_sources if p.obj == ALL_SOURCES]
        self._all_sources_allow = frozenset(p.subject for p in everywhere if p.effect == "allow")
        self._all_sources_deny = frozenset(p.subject for p in everywhere if p.effect == "deny")
        allow = _index(((p.obj, p.action), p.subject) for p in permissions if p.effect == "allow")
        deny = _index(((p.obj, p.action), p.subject) for p in permissions if p.effect == "deny")
        self._actions = {
            key: (allow.get(key, _EMPTY), deny.get(key, _EMPTY)) for key in allow.keys() | deny
        }

    def expand(self, user_id: str | None, groups: Iterable[str]) -> frozenset[str]:
        """Every reference an identity holds: public, its user, its groups and roles, transitively.

        `groups` are group names (`hr`, or `group:hr`) asserted by the identity provider; those the
        policy does not define are dropped. An anonymous identity (no user id) holds `public` only.
        Raises `InvalidPrincipalError` for a malformed user id.
        """
        refs = {PUBLIC}
        if user_id is None:
            return frozenset(refs)
        user = parse_principal_ref(f"user:{user_id}")
        refs.update(self._up.get(user, (user,)))
        for name in groups:
            ref = name if name.startswith(_GROUP) else _GROUP + name
            if ref in self.defined:  # defined groups were validated when the policy was loaded
                refs.update(self._up.get(ref, (ref,)))
        return frozenset(refs)

    def principal(self, user_id: str | None, groups: Iterable[str]) -> Principal:
        refs = self.expand(user_id, groups)
        return Principal(
            user_id=user_id,
            groups=frozenset(r[len(_GROUP) :] for r in refs if r.startswith(_GROUP)),
        )

    def access_filter(self, principal: Principal) -> AccessFilter:
        refs = self.expand(principal.user_id, principal.groups)
        denied: set[str] = set()
        for ref in refs:
            denied.update(self._source_deny.get(ref, _EMPTY))
        allowed: frozenset[str] | None
        if not self._all_sources_deny.isdisjoint(refs):
            allowed = _EMPTY
        elif not self._all_sources_allow.isdisjoint(refs):
            allowed = None
        else:
            readable: set[str] = set()
            for ref in refs:
                readable.update(self._source_allow.get(ref, _EMPTY))
            allowed = frozenset(readable)
        return AccessFilter(
            holds=refs,
            denied_sources=frozenset(denied),
            allowed_sources=allowed,
            policy_version=self.version,
        )

    def is_allowed(self, principal: Principal, obj: str, act: str) -> bool:
        refs = self.expand(principal.user_id, principal.groups)
        keys = [(obj, act)]
        if obj.startswith(SOURCE_PREFIX):
            keys.append((ALL_SOURCES, act))  # what keyMatch(obj, "source:*") means
        allowed = denied = False
        for key in keys:
            allow_subjects, deny_subjects = self._actions.get(key, (_EMPTY, _EMPTY))
            allowed = allowed or not allow_subjects.isdisjoint(refs)
            denied = denied or not deny_subjects.isdisjoint(refs)
        return allowed and not denied
