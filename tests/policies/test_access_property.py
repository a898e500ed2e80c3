"""The fast path and the Casbin model always agree (Hypothesis).

For random worlds (users, nested groups as DAGs and deep chains, roles, source rules, API rules,
identity-provider groups the policy may not define) and random documents, the access filter that
retrieval pushes into the vector search (`AccessFilter.admits`) and the per-chunk re-check
(`can_read`) give exactly the decision of the real Casbin enforcer running
`policies/access/casbin/model.conf` over every policy line (`reference_can_read`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.settings import PolicySettings

DOCUMENTS_PER_WORLD = 50
WORLDS = 200
MIN_CASES = 10_000

USERS = [f"u{i}" for i in range(5)]
SOURCES = ["s0", "s1", "s2"]
ROLES = ["role:r0", "role:r1"]
UNDEFINED = ["x0", "x1"]  # group names no policy line ever uses
ACTIONS = ["sync", "audit"]


@dataclass(frozen=True)
class Document:
    source_id: str
    read: tuple[str, ...]
    deny: tuple[str, ...]


@dataclass(frozen=True)
class World:
    lines: tuple[str, ...]
    user_id: str | None
    idp_groups: tuple[str, ...]
    documents: tuple[Document, ...]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n_groups = draw(st.integers(min_value=1, max_value=16))
    groups = [f"g{i}" for i in range(n_groups)]
    edges: set[tuple[int, int]] = set()
    if draw(st.booleans()):  # a deep chain: g0 → g1 → ... (deeper than Casbin's default 10)
        edges = {(i, i + 1) for i in range(n_groups - 1)}
    index = st.integers(min_value=0, max_value=n_groups - 1)
    extra = draw(st.sets(st.tuples(index, index), max_size=20))
    edges |= {(a, b) for a, b in extra if a < b}  # member index < parent index: acyclic
    lines = [f"g, group:g{a}, group:g{b}" for a, b in sorted(edges)]
    group_refs = [f"group:{g}" for g in groups]
    user_refs = [f"user:{u}" for u in USERS]
    for user, group in sorted(
        draw(
            st.sets(st.tuples(st.sampled_from(user_refs), st.sampled_from(group_refs)), max_size=10)
        )
    ):
        lines.append(f"g, {user}, {group}")
    members = st.sampled_from([*user_refs, *group_refs])
    for member, role in sorted(
        draw(st.sets(st.tuples(members, st.sampled_from(ROLES)), max_size=4))
    ):
        lines.append(f"g, {member}, {role}")
    if draw(st.booleans()):
        lines.append("g, role:r0, role:r1")

    subjects = st.sampled_from(["public", *user_refs, *group_refs, *ROLES])
    effects = st.sampled_from(["allow", "deny"])
    if draw(st.integers(0, 3)):  # usually every source is open; sometimes only allow-lists
        lines.append("p, public, source:*, read, allow")
    objects = st.sampled_from([f"source:{s}" for s in SOURCES] + ["source:*"])
    for subject, obj, effect in sorted(
        draw(st.sets(st.tuples(subjects, objects, effects), max_size=8))
    ):
        lines.append(f"p, {subject}, {obj}, read, {effect}")
    actions = st.sampled_from(ACTIONS)
    for subject, action, effect in sorted(
        draw(st.sets(st.tuples(subjects, actions, effects), max_size=5))
    ):
        lines.append(f"p, {subject}, api, {action}, {effect}")

    user_id = draw(st.sampled_from([*USERS, "stranger", None]))
    idp_groups = draw(st.lists(st.sampled_from([*groups, *UNDEFINED]), max_size=4, unique=True))
    refs = st.sampled_from(
        ["public", *user_refs, "user:stranger", *group_refs, *(f"group:{x}" for x in UNDEFINED)]
    )
    readers = st.one_of(st.just("public"), refs, refs)  # public often: both outcomes matter
    documents = draw(
        st.lists(
            st.builds(
                Document,
                source_id=st.sampled_from([*SOURCES, "s-unruled"]),
                read=st.lists(readers, max_size=3).map(tuple),
                deny=st.lists(refs, max_size=2).map(tuple),
            ),
            min_size=DOCUMENTS_PER_WORLD,
            max_size=DOCUMENTS_PER_WORLD,
        )
    )
    return World(tuple(lines), user_id, tuple(idp_groups), tuple(documents))


def _engine(directory: Path, world: World, serial: int) -> CasbinPolicyEngine:
    path = directory / f"policy-{serial}.csv"
    path.write_text("\n".join(world.lines) + "\n", encoding="utf-8")
    return CasbinPolicyEngine(settings=PolicySettings(policy_path=path))


PROPERTY = settings(
    max_examples=WORLDS,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


def test_access_filter_equals_the_casbin_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("property-policies")
    serial = itertools.count()
    outcomes = {True: 0, False: 0}

    @PROPERTY
    @given(world=worlds())
    def check(world: World) -> None:
        with _engine(directory, world, next(serial)) as engine:
            principal = engine.principal_for(world.user_id, world.idp_groups)
            access = engine.access_filter(principal)
            for doc in world.documents:
                expected = engine.reference_can_read(
                    world.user_id,
                    world.idp_groups,
                    source_id=doc.source_id,
                    read=doc.read,
                    deny=doc.deny,
                )
                fast = access.admits(source_id=doc.source_id, read=doc.read, deny=doc.deny)
                recheck = engine.can_read(
                    access, source_id=doc.source_id, read=doc.read, deny=doc.deny
                )
                assert fast == recheck == expected, (world.lines, world.user_id, doc)
                outcomes[expected] += 1

    check()
    assert sum(outcomes.values()) >= MIN_CASES
    # Both decisions must be well represented, or the agreement would prove little.
    assert min(outcomes.values()) >= MIN_CASES // 10, outcomes


def test_permissions_equal_the_casbin_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("property-permissions")
    serial = itertools.count()

    @settings(PROPERTY, max_examples=100)
    @given(world=worlds())
    def check(world: World) -> None:
        with _engine(directory, world, next(serial)) as engine:
            principal = engine.principal_for(world.user_id, world.idp_groups)
            for obj, act in [
                *(("api", a) for a in ACTIONS),
                *((f"source:{s}", "read") for s in [*SOURCES, "s-unruled"]),
            ]:
                expected = engine.reference_is_allowed(world.user_id, world.idp_groups, obj, act)
                assert engine.is_allowed(principal, obj, act) == expected, (world.lines, obj, act)

    check()


def test_anyone_not_allowed_is_never_admitted(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Whatever a document's read list says, a deny naming the principal (or public), or a source
    the Casbin model does not let the principal read at all, keeps the chunk out."""
    directory = tmp_path_factory.mktemp("property-never")
    serial = itertools.count()

    @settings(PROPERTY, max_examples=100)
    @given(world=worlds())
    def check(world: World) -> None:
        with _engine(directory, world, next(serial)) as engine:
            principal = engine.principal_for(world.user_id, world.idp_groups)
            access = engine.access_filter(principal)
            own = f"user:{world.user_id}" if world.user_id is not None else "public"
            for doc in world.documents:
                everyone = ("public", *doc.read)
                for read, deny in [(everyone, (*doc.deny, own)), (everyone, (*doc.deny, "public"))]:
                    assert not access.admits(source_id=doc.source_id, read=read, deny=deny)
                source_ok = engine.reference_is_allowed(
                    world.user_id, world.idp_groups, f"source:{doc.source_id}", "read"
                )
                if not source_ok:
                    assert not access.admits(source_id=doc.source_id, read=everyone, deny=())

    check()
