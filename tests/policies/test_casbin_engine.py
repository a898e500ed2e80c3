"""Every access rule of the Casbin model, table-driven, through the real engine and real Casbin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest
import yaml

from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.engine import PolicyEngine, PolicyLoadError, PolicyStorageError
from policies.access.filters import AccessFilter
from policies.access.principal import InvalidPrincipalError, Principal
from policies.access.settings import DEFAULT_MODEL_PATH, PolicySettings

REPO = Path(__file__).resolve().parents[2]

POLICY = """\
# sources: three open to everyone, one closed except to hr (an allow-list)
p, public, source:it-kb, read, allow
p, public, source:hr-kb, read, allow
p, public, source:finance-kb, read, allow
p, group:hr, source:hr-restricted, read, allow
p, group:contractors, source:finance-kb, read, deny
p, user:mallory, source:it-kb, read, deny

p, role:admin, api, sync, allow
p, role:admin, api, manage, allow
p, role:auditor, api, audit, allow
p, group:contractors, api, audit, deny
g, group:admins, role:admin
g, group:auditors, role:auditor

g, user:alice, group:it-admins
g, group:it-admins, group:it-staff
g, group:it-staff, group:all-staff
g, user:bob, group:hr-managers
g, group:hr-managers, group:hr
g, group:hr, group:all-staff
g, user:carol, group:finance
g, group:finance, group:all-staff
g, user:dave, group:contractors
g, user:dave, group:all-staff
g, user:erin, group:auditors
g, user:frank, group:admins
g, user:gina, group:auditors
g, user:gina, group:contractors
g, user:mallory, group:it-staff
"""

Writer = Callable[..., PolicySettings]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """Write a policy (and optionally a model) to files; return the settings that point at them."""

    def _write(policy: str = POLICY, model: str | None = None) -> PolicySettings:
        policy_path = tmp_path / "policy.csv"
        policy_path.write_text(policy, encoding="utf-8")
        model_path = DEFAULT_MODEL_PATH
        if model is not None:
            model_path = tmp_path / "model.conf"
            model_path.write_text(model, encoding="utf-8")
        return PolicySettings(model_path=model_path, policy_path=policy_path)

    return _write


@pytest.fixture
def engine(write: Writer) -> Iterator[CasbinPolicyEngine]:
    with CasbinPolicyEngine(settings=write()) as built:
        yield built


def test_the_engine_is_a_policy_engine(engine: CasbinPolicyEngine) -> None:
    port: PolicyEngine = engine
    assert port.version == engine.status.version


# --- principals ---------------------------------------------------------------------------------

PRINCIPALS = [
    ("user in a group", "carol", [], {"finance", "all-staff"}),
    ("nested groups, 3 deep", "alice", [], {"it-admins", "it-staff", "all-staff"}),
    ("unknown user, no groups: public only", "zed", [], set()),
    (
        "IdP group the policy defines is kept and expanded",
        "zed",
        ["finance"],
        {"finance", "all-staff"},
    ),
    ("IdP group given as a reference", "zed", ["group:hr"], {"hr", "all-staff"}),
    ("IdP group the policy does not define is dropped", "zed", ["legal"], set()),
    (
        "IdP groups merge with the policy's",
        "carol",
        ["hr", "legal"],
        {"finance", "hr", "all-staff"},
    ),
    ("malformed IdP group is dropped", "zed", ["not a group", ""], set()),
    ("anonymous: IdP groups are ignored", None, ["finance"], set()),
    ("groups in roles stay groups", "frank", [], {"admins"}),
]


@pytest.mark.parametrize(
    ("user_id", "idp_groups", "groups"),
    [case[1:] for case in PRINCIPALS],
    ids=[case[0] for case in PRINCIPALS],
)
def test_principal_for(
    engine: CasbinPolicyEngine, user_id: str | None, idp_groups: list[str], groups: set[str]
) -> None:
    principal = engine.principal_for(user_id, idp_groups)
    assert principal == Principal(user_id=user_id, groups=frozenset(groups))


def test_unknown_user_holds_public_and_itself(engine: CasbinPolicyEngine) -> None:
    access = engine.access_filter(engine.principal_for("zed", ["legal"]))
    assert access.holds == {"public", "user:zed"}
    assert access.policy_version == engine.version


def test_anonymous_holds_public_only(engine: CasbinPolicyEngine) -> None:
    assert engine.access_filter(engine.principal_for(None)).holds == {"public"}


def test_malformed_identity_is_refused(engine: CasbinPolicyEngine) -> None:
    with pytest.raises(InvalidPrincipalError):
        engine.principal_for("alice smith")
    with pytest.raises(TypeError, match="not a string"):
        engine.principal_for("alice", "finance")


def test_access_filter_of_a_bare_principal_adds_the_policy_groups(
    engine: CasbinPolicyEngine,
) -> None:
    bare = engine.access_filter(Principal(user_id="alice"))
    assert bare == engine.access_filter(engine.principal_for("alice"))
    assert "group:all-staff" in bare.holds


# --- chunks ---------------------------------------------------------------------------------------

CHUNKS = [
    # (case, user, idp groups, source, read, deny, readable)
    ("user in group", "carol", [], "finance-kb", ["group:finance"], [], True),
    ("user not in group", "alice", [], "finance-kb", ["group:finance"], [], False),
    ("nested groups 3 deep", "alice", [], "it-kb", ["group:all-staff"], [], True),
    ("document names the user", "alice", [], "it-kb", ["user:alice"], [], True),
    ("document names another user", "alice", [], "it-kb", ["user:bob"], [], False),
    ("public document", "zed", [], "it-kb", ["public"], [], True),
    ("unknown user: public only", "zed", [], "it-kb", ["group:all-staff"], [], False),
    ("unknown user named by the document", "zed", [], "it-kb", ["user:zed"], [], True),
    ("anonymous reads public", None, [], "it-kb", ["public"], [], True),
    ("anonymous reads no group", None, [], "it-kb", ["group:all-staff"], [], False),
    ("IdP group defined", "zed", ["finance"], "finance-kb", ["group:finance"], [], True),
    ("IdP group undefined: dropped", "zed", ["legal"], "it-kb", ["group:legal"], [], False),
    (
        "deny on document beats read",
        "alice",
        [],
        "it-kb",
        ["group:all-staff"],
        ["user:alice"],
        False,
    ),
    (
        "deny on a group of the user",
        "alice",
        [],
        "it-kb",
        ["group:all-staff"],
        ["group:it-staff"],
        False,
    ),
    ("deny on public denies everyone", "alice", [], "it-kb", ["user:alice"], ["public"], False),
    ("deny on someone else", "alice", [], "it-kb", ["group:all-staff"], ["group:hr"], True),
    ("empty read list", "alice", [], "it-kb", [], [], False),
    ("source deny for a group", "dave", [], "finance-kb", ["public"], [], False),
    ("source deny leaves other sources", "dave", [], "it-kb", ["public"], [], True),
    ("source deny for a user", "mallory", [], "it-kb", ["public"], [], False),
    ("source deny via IdP group", "zed", ["contractors"], "finance-kb", ["public"], [], False),
    ("source allow-list admits its group", "bob", [], "hr-restricted", ["public"], [], True),
    (
        "source allow-list admits nested members",
        "zed",
        ["hr-managers"],
        "hr-restricted",
        ["public"],
        [],
        True,
    ),
    ("source allow-list refuses others", "alice", [], "hr-restricted", ["public"], [], False),
    (
        "allow-listed source still applies the ACL",
        "bob",
        [],
        "hr-restricted",
        ["group:finance"],
        [],
        False,
    ),
    ("source without any allow rule", "alice", [], "unknown-kb", ["public"], [], False),
]


@pytest.mark.parametrize(
    ("user_id", "idp_groups", "source_id", "read", "deny", "readable"),
    [case[1:] for case in CHUNKS],
    ids=[case[0] for case in CHUNKS],
)
def test_can_read(
    engine: CasbinPolicyEngine,
    user_id: str | None,
    idp_groups: list[str],
    source_id: str,
    read: list[str],
    deny: list[str],
    readable: bool,
) -> None:
    principal = engine.principal_for(user_id, idp_groups)
    access = engine.access_filter(principal)
    assert access.admits(source_id=source_id, read=read, deny=deny) is readable
    assert engine.can_read(access, source_id=source_id, read=read, deny=deny) is readable
    assert engine.can_read(principal, source_id=source_id, read=read, deny=deny) is readable
    reference = engine.reference_can_read(
        user_id, idp_groups, source_id=source_id, read=read, deny=deny
    )
    assert reference is readable


def test_source_rules_compile_into_the_filter(engine: CasbinPolicyEngine) -> None:
    dave = engine.access_filter(engine.principal_for("dave"))
    assert dave.denied_sources == {"finance-kb"}
    assert dave.allowed_sources == frozenset({"it-kb", "hr-kb", "finance-kb"})
    bob = engine.access_filter(engine.principal_for("bob"))
    assert bob.allowed_sources == frozenset({"it-kb", "hr-kb", "finance-kb", "hr-restricted"})


def test_wildcard_source_rules(write: Writer) -> None:
    policy = (
        "p, public, source:*, read, allow\n"
        "p, group:contractors, source:*, read, deny\n"
        "g, user:dave, group:contractors\n"
    )
    with CasbinPolicyEngine(settings=write(policy)) as engine:
        alice = engine.access_filter(engine.principal_for("alice"))
        dave = engine.access_filter(engine.principal_for("dave"))
        assert alice.allowed_sources is None
        assert alice.admits(source_id="anything", read=["public"], deny=[])
        assert dave.allowed_sources == frozenset()
        assert not dave.admits(source_id="anything", read=["public"], deny=[])
        assert not engine.reference_can_read("dave", source_id="x", read=["public"], deny=[])


# --- roles ---------------------------------------------------------------------------------------

ACTIONS = [
    ("admin may sync", "frank", [], "api", "sync", True),
    ("admin may manage", "frank", [], "api", "manage", True),
    ("admin may not audit", "frank", [], "api", "audit", False),
    ("auditor may audit", "erin", [], "api", "audit", True),
    ("auditor may not sync", "erin", [], "api", "sync", False),
    ("auditor by IdP group", "zed", ["auditors"], "api", "audit", True),
    ("deny beats the auditor role", "gina", [], "api", "audit", False),
    ("staff may not audit", "alice", [], "api", "audit", False),
    ("anonymous may not sync", None, [], "api", "sync", False),
    ("unknown action", "frank", [], "api", "delete", False),
    ("source-level read", "alice", [], "source:it-kb", "read", True),
    ("source-level read denied", "dave", [], "source:finance-kb", "read", False),
]


@pytest.mark.parametrize(
    ("user_id", "idp_groups", "obj", "act", "allowed"),
    [case[1:] for case in ACTIONS],
    ids=[case[0] for case in ACTIONS],
)
def test_is_allowed(
    engine: CasbinPolicyEngine,
    user_id: str | None,
    idp_groups: list[str],
    obj: str,
    act: str,
    allowed: bool,
) -> None:
    assert engine.is_allowed(engine.principal_for(user_id, idp_groups), obj, act) is allowed
    assert engine.reference_is_allowed(user_id, idp_groups, obj, act) is allowed


def test_the_default_policy_grants_roles_through_groups() -> None:
    with CasbinPolicyEngine(settings=PolicySettings()) as engine:
        admin = engine.principal_for("ops", ["admins"])
        auditor = engine.principal_for("rev", ["auditors"])
        assert engine.is_allowed(admin, "api", "sync")
        assert engine.is_allowed(auditor, "api", "audit")
        assert not engine.is_allowed(auditor, "api", "sync")
        assert engine.can_read(
            engine.principal_for(None), source_id="any", read=["public"], deny=[]
        )


def _closure(group: str, parents: dict[str, list[str]]) -> set[str]:
    found = {group}
    for parent in parents.get(group, []):
        found |= _closure(parent, parents)
    return found


def test_the_bundled_knowledge_base_policy_matches_its_identities() -> None:
    identities = yaml.safe_load((REPO / "kb" / "identities.yaml").read_text(encoding="utf-8"))
    nesting: dict[str, list[str]] = identities["groups"]
    settings = PolicySettings(policy_path=REPO / "kb" / "policy.csv")
    with CasbinPolicyEngine(settings=settings) as engine:
        everyone = engine.principal_for("x", list(nesting))
        assert everyone.groups == set(nesting), "every group of identities.yaml is defined"
        for user, identity in identities["users"].items():
            expected: set[str] = set()
            for group in identity["groups"]:
                expected |= _closure(group, nesting)
            assert engine.principal_for(user, identity["groups"]).groups == expected, user
            assert engine.principal_for(user).groups == expected, f"{user} in kb/policy.csv"
        judy = engine.principal_for("judy", ["contractors"])
        assert not engine.can_read(judy, source_id="finance-kb", read=["public"], deny=[])
        assert engine.is_allowed(engine.principal_for("trent"), "api", "sync")
        assert engine.is_allowed(engine.principal_for("oscar"), "api", "audit")
        assert not engine.is_allowed(engine.principal_for("oscar"), "api", "sync")


# --- errors --------------------------------------------------------------------------------------

MODEL = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")

BAD_MODELS = [
    ("not a model", "this is not a casbin model = ?", "invalid Casbin model"),
    ("no matchers", MODEL.split("[matchers]")[0], "defines no 'm'"),
    (
        "another matcher",
        MODEL.replace('p.eft == "deny" ||', 'p.eft == "allow" ||'),
        "differs from the packaged model.conf in m",
    ),
    (
        "another effect",
        MODEL.replace(
            "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
            "e = some(where (p.eft == allow))",
        ),
        "differs from the packaged model.conf in e",
    ),
]


@pytest.mark.parametrize(
    ("model", "message"), [c[1:] for c in BAD_MODELS], ids=[c[0] for c in BAD_MODELS]
)
def test_invalid_model_refuses_to_start(write: Writer, model: str, message: str) -> None:
    with pytest.raises(PolicyLoadError, match=message):
        CasbinPolicyEngine(settings=write(model=model))


def test_a_reformatted_model_is_accepted(write: Writer) -> None:
    reformatted = "\n".join(
        line
        for line in MODEL.replace(" \\\n    &&", " &&").splitlines()
        if not line.startswith("#")
    )
    with CasbinPolicyEngine(settings=write(model=reformatted)) as engine:
        assert engine.status.rules > 0


def test_missing_files_refuse_to_start(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="Casbin model not found"):
        CasbinPolicyEngine(settings=PolicySettings(model_path=tmp_path / "nope.conf"))
    with pytest.raises(PolicyLoadError, match="policy file not found"):
        CasbinPolicyEngine(settings=PolicySettings(policy_path=tmp_path / "nope.csv"))


BAD_LINES = [
    ("malformed principal", "g, user:alice, group:it staff", "invalid principal"),
    ("principal without a kind", "g, alice, group:hr", "invalid principal"),
    ("not the canonical spelling", "g, Group:hr, group:all-staff", "as 'group:hr'"),
    ("a user as a parent", "g, user:alice, user:bob", "parent 'user:bob' must be one of"),
    ("public as a member", "g, public, group:hr", "member 'public' must be one of"),
    ("a role in a group", "g, role:admin, group:hr", "a role can only inherit other roles"),
    ("a member of itself", "g, group:hr, group:hr", "member of itself"),
    ("a g line with 3 fields", "g, user:a, group:hr, extra", "a g line has 2 fields"),
    ("a p line with 3 fields", "p, group:hr, source:hr-kb, read", "a p line has 4 fields"),
    ("unknown line type", "pp, group:contractors, source:finance-kb, read, deny", "unknown line"),
    ("unknown effect", "p, group:hr, source:hr-kb, read, permit", "'allow' or 'deny'"),
    ("write on a source", "p, group:hr, source:hr-kb, write, allow", "only action on a source"),
    ("unknown object", "p, group:hr, files, read, allow", "invalid object"),
    ("invalid source id", "p, group:hr, source:HR KB, read, allow", "invalid source"),
    ("invalid api action", "p, group:hr, api, Sync!, allow", "invalid action"),
    ("trailing comment", "p, group:hr, source:hr-kb, read, deny # later", "'allow' or 'deny'"),
]


@pytest.mark.parametrize(
    ("line", "message"), [c[1:] for c in BAD_LINES], ids=[c[0] for c in BAD_LINES]
)
def test_invalid_policy_line_refuses_to_start(write: Writer, line: str, message: str) -> None:
    with pytest.raises(PolicyLoadError, match=message) as caught:
        CasbinPolicyEngine(settings=write(POLICY + line + "\n"))
    assert "policy file" in str(caught.value)
    assert line.split(",", maxsplit=1)[0] in str(caught.value)


def test_group_cycle_refuses_to_start(write: Writer) -> None:
    cycle = "g, group:a, group:b\ng, group:b, group:c\ng, group:c, group:a\n"
    with pytest.raises(PolicyLoadError, match="cycle in the g lines: group:a → group:b"):
        CasbinPolicyEngine(settings=write(POLICY + cycle))


def test_empty_policy_starts_and_denies_everything(write: Writer) -> None:
    with CasbinPolicyEngine(settings=write("# nothing yet\n")) as engine:
        principal = engine.principal_for("alice", ["admins"])
        assert not engine.can_read(principal, source_id="it-kb", read=["public"], deny=[])
        assert not engine.is_allowed(principal, "api", "sync")


def test_reload_keeps_the_last_good_policy_on_a_broken_edit(write: Writer) -> None:
    settings = write()
    with CasbinPolicyEngine(settings=settings) as engine:
        good = engine.version
        assert engine.reload() is False  # nothing changed
        settings.policy_path.write_text(POLICY + "g, user:alice, group:bad name\n")
        with pytest.raises(PolicyLoadError, match="group:bad name"):
            engine.reload()
        assert engine.version == good
        assert engine.status.last_error is not None
        assert "group:bad name" in engine.status.last_error
        carol = engine.principal_for("carol")
        assert engine.can_read(carol, source_id="finance-kb", read=["group:finance"], deny=[])

        settings.policy_path.write_text(POLICY + "g, user:alice, group:finance\n")
        assert engine.reload() is True
        assert engine.version != good
        assert engine.status.last_error is None
        assert "finance" in engine.principal_for("alice").groups


def test_policy_version_is_stable(write: Writer, tmp_path: Path) -> None:
    with CasbinPolicyEngine(settings=write()) as engine:
        version = engine.version
    shuffled = "\n".join(["# reordered, with a duplicate", *reversed(POLICY.splitlines())])
    with CasbinPolicyEngine(
        settings=write(shuffled + "\ng, user:alice, group:it-admins\n")
    ) as same:
        assert same.version == version
    with CasbinPolicyEngine(settings=write(POLICY + "g, user:zed, group:hr\n")) as other:
        assert other.version != version


def test_a_filter_of_another_policy_version_is_refused(engine: CasbinPolicyEngine) -> None:
    fresh = engine.access_filter(engine.principal_for("alice"))
    stale = AccessFilter(holds=fresh.holds, policy_version="0000000000000000")
    assert engine.can_read(fresh, source_id="it-kb", read=["public"], deny=[])
    assert not engine.can_read(stale, source_id="it-kb", read=["public"], deny=[])


def test_an_error_while_deciding_denies(engine: CasbinPolicyEngine) -> None:
    access = engine.access_filter(engine.principal_for("alice"))
    unhashable = cast(list[str], [["group:all-staff"]])
    assert not engine.can_read(access, source_id="it-kb", read=unhashable, deny=[])
    broken = Principal(user_id="not valid")
    denied = engine.access_filter(broken)
    assert denied.holds == frozenset()
    assert not denied.admits(source_id="it-kb", read=["public"], deny=[])
    assert not engine.can_read(broken, source_id="it-kb", read=["public"], deny=[])
    assert not engine.is_allowed(broken, "api", "sync")


def test_a_file_policy_is_not_edited_through_the_engine(engine: CasbinPolicyEngine) -> None:
    with pytest.raises(PolicyStorageError, match="edited as a file"):
        engine.add_rules(["g, user:zed, group:hr"])
    with pytest.raises(PolicyLoadError, match="invalid principal"):
        engine.add_rules(["g, zed, group:hr"])
