"""Access resolution: source default → folder ACL files → sidecar → front matter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from ingest.acl import (
    AccessResolutionError,
    AclRule,
    FolderAclResolver,
    apply_front_matter,
    parse_acl,
)
from ingest.documents import AccessList
from ingest.sources import FilesystemSource

DEFAULT = AccessList(read=("group:staff",), deny=("user:eve",))


def _resolver(
    root: Path, files: Mapping[str, str], default: AccessList = DEFAULT
) -> FolderAclResolver:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return FolderAclResolver(root=root, default=default, default_origin="source 'kb'")


RESOLVED_CASES: list[tuple[str, dict[str, str], str, AccessList]] = [
    ("no ACL files: the source default", {}, "a/b/doc.md", DEFAULT),
    (
        "root folder read replaces the default, deny adds",
        {".acl.yaml": "read: [group:support]\ndeny: [user:mallory]\n"},
        "doc.md",
        AccessList(read=("group:support",), deny=("user:eve", "user:mallory")),
    ),
    (
        "nested folders: nearest read wins, every deny accumulates",
        {
            ".acl.yaml": "read: [group:support]\ndeny: [user:x]\n",
            "hr/.acl.yaml": "read: [group:hr]\ndeny: [user:y]\n",
        },
        "hr/payroll/2024/doc.pdf",
        AccessList(read=("group:hr",), deny=("user:eve", "user:x", "user:y")),
    ),
    (
        "a folder with only deny keeps the inherited readers",
        {".acl.yaml": "read: [group:support]\n", "hr/.acl.yaml": "deny: [group:interns]\n"},
        "hr/doc.md",
        AccessList(read=("group:support",), deny=("user:eve", "group:interns")),
    ),
    (
        "rules of another branch do not apply",
        {"hr/.acl.yaml": "read: [group:hr]\n"},
        "sales/doc.md",
        DEFAULT,
    ),
    (
        "the sidecar overrides the folders",
        {"hr/.acl.yaml": "read: [group:hr]\n", "hr/guide.pdf.acl.yaml": "read: [user:alice]\n"},
        "hr/guide.pdf",
        AccessList(read=("user:alice",), deny=("user:eve",)),
    ),
    (
        "another document's sidecar does not apply",
        {"hr/other.pdf.acl.yaml": "read: [user:alice]\n"},
        "hr/guide.pdf",
        DEFAULT,
    ),
    (
        "principals are normalised and de-duplicated",
        {".acl.yaml": "read: [GROUP:hr, group:hr, Public]\ndeny: [user:eve]\n"},
        "doc.md",
        AccessList(read=("group:hr", "public"), deny=("user:eve",)),
    ),
    (
        "readers that are all denied still resolve (they admit nobody)",
        {".acl.yaml": "read: [user:eve]\n"},
        "doc.md",
        AccessList(read=("user:eve",), deny=("user:eve",)),
    ),
    (
        "an empty mapping changes nothing",
        {".acl.yaml": "{}\n"},
        "doc.md",
        DEFAULT,
    ),
]


@pytest.mark.parametrize(
    ("files", "key", "expected"),
    [case[1:] for case in RESOLVED_CASES],
    ids=[case[0] for case in RESOLVED_CASES],
)
def test_resolves_access(
    tmp_path: Path, files: dict[str, str], key: str, expected: AccessList
) -> None:
    assert _resolver(tmp_path, files).resolve(key) == expected


UNRESOLVABLE_CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("invalid YAML", {".acl.yaml": "read: [group:a\n"}, "doc.md", ".acl.yaml is not valid YAML"),
    ("unknown key", {"hr/.acl.yaml": "readers: [group:a]\n"}, "hr/doc.md", "unknown keys"),
    ("read is a string", {".acl.yaml": "read: group:a\n"}, "doc.md", "'read' must be a list"),
    ("deny is a mapping", {".acl.yaml": "deny: {a: b}\n"}, "doc.md", "'deny' must be a list"),
    ("read is null", {".acl.yaml": "read:\n"}, "doc.md", "got NoneType"),
    ("a principal is a number", {".acl.yaml": "read: [42]\n"}, "doc.md", "must be a string"),
    ("an invalid principal", {".acl.yaml": "read: [admins]\n"}, "doc.md", "invalid principal"),
    ("the file is a list", {".acl.yaml": "- group:a\n"}, "doc.md", "expected a mapping"),
    ("the file is empty", {".acl.yaml": ""}, "doc.md", "expected a mapping"),
    ("an empty read list", {".acl.yaml": "read: []\n"}, "doc.md", "'read' list is empty"),
    (
        "a broken folder breaks its subfolders",
        {"hr/.acl.yaml": "read: [\n", "hr/sub/.acl.yaml": "read: [group:hr]\n"},
        "hr/sub/doc.md",
        "hr/.acl.yaml",
    ),
    (
        "an invalid sidecar",
        {"guide.pdf.acl.yaml": "read: [nobody]\n"},
        "guide.pdf",
        "guide.pdf.acl.yaml",
    ),
    ("a key outside the root", {}, "../secret.md", "not a path inside the source root"),
    ("an absolute key", {}, "/etc/passwd", "not a path inside the source root"),
]


@pytest.mark.parametrize(
    ("files", "key", "message"),
    [case[1:] for case in UNRESOLVABLE_CASES],
    ids=[case[0] for case in UNRESOLVABLE_CASES],
)
def test_unresolvable_access(tmp_path: Path, files: dict[str, str], key: str, message: str) -> None:
    resolver = _resolver(tmp_path, files)
    with pytest.raises(AccessResolutionError, match=re.escape(message)):
        resolver.resolve(key)


def test_empty_source_default_names_the_source(tmp_path: Path) -> None:
    resolver = _resolver(tmp_path, {}, default=AccessList(read=()))
    with pytest.raises(AccessResolutionError, match=r"readers from source 'kb'"):
        resolver.resolve("doc.md")


def test_emptied_readers_name_the_file_that_emptied_them(tmp_path: Path) -> None:
    resolver = _resolver(tmp_path, {"hr/.acl.yaml": "read: []\n"})
    with pytest.raises(AccessResolutionError, match=r"readers from hr/\.acl\.yaml"):
        resolver.resolve("hr/doc.md")


def test_acl_file_symlinked_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("read: [public]\n", encoding="utf-8")
    root = tmp_path / "root"
    root.mkdir()
    (root / ".acl.yaml").symlink_to(outside)
    with pytest.raises(AccessResolutionError, match="symlink out of the source root"):
        _resolver(root, {}).resolve("doc.md")


def test_dangling_acl_symlink_is_unresolvable(tmp_path: Path) -> None:
    (tmp_path / ".acl.yaml").symlink_to(tmp_path / "missing.yaml")
    with pytest.raises(AccessResolutionError, match=r"cannot read ACL file \.acl\.yaml: No such"):
        _resolver(tmp_path, {}).resolve("doc.md")


def test_acl_path_that_is_a_folder_is_unresolvable(tmp_path: Path) -> None:
    (tmp_path / "guide.pdf.acl.yaml").mkdir()
    with pytest.raises(AccessResolutionError, match=r"guide\.pdf\.acl\.yaml is not a regular file"):
        _resolver(tmp_path, {}).resolve("guide.pdf")


def test_folder_rules_are_read_once_per_resolver(tmp_path: Path) -> None:
    resolver = _resolver(tmp_path, {"hr/.acl.yaml": "read: [group:hr]\n"})
    assert resolver.resolve("hr/a.md").read == ("group:hr",)
    (tmp_path / "hr/.acl.yaml").write_text("read: [group:changed]\n", encoding="utf-8")

    assert resolver.resolve("hr/b.md").read == ("group:hr",)  # cached for this listing
    assert _resolver(tmp_path, {}).resolve("hr/b.md").read == ("group:changed",)


def test_for_source_starts_from_the_source_default(tmp_path: Path) -> None:
    source = FilesystemSource(
        id="kb", kind="filesystem", root=tmp_path, read=["group:staff"], deny=["user:eve"]
    )
    assert FolderAclResolver.for_source(source).resolve("doc.md") == DEFAULT


def test_parse_acl_rejects_front_matter_style_extra_keys() -> None:
    assert parse_acl({"read": ["public"]}, origin="x") == AclRule(read=("public",))
    with pytest.raises(AccessResolutionError, match="unknown keys title"):
        parse_acl({"read": ["public"], "title": "Guide"}, origin="x")


FRONT_MATTER_CASES: list[tuple[str, dict[str, object], AccessList]] = [
    ("no access keys", {}, DEFAULT),
    ("other keys are not ours", {"title": "Guide", "tags": ["a"]}, DEFAULT),
    ("read replaces", {"read": ["user:alice"]}, AccessList(("user:alice",), ("user:eve",))),
    (
        "deny accumulates",
        {"deny": ["group:interns"]},
        AccessList(("group:staff",), ("user:eve", "group:interns")),
    ),
    (
        "both",
        {"read": ["public"], "deny": ["user:bob"]},
        AccessList(("public",), ("user:eve", "user:bob")),
    ),
]


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [case[1:] for case in FRONT_MATTER_CASES],
    ids=[case[0] for case in FRONT_MATTER_CASES],
)
def test_apply_front_matter(front_matter: dict[str, object], expected: AccessList) -> None:
    assert apply_front_matter(DEFAULT, front_matter) == expected


BAD_FRONT_MATTER: list[tuple[str, dict[str, object], str]] = [
    ("read is a string", {"read": "user:alice"}, "'read' must be a list"),
    ("read is null", {"read": None}, "'read' must be a list"),
    ("deny is a number", {"deny": 3}, "'deny' must be a list"),
    ("a principal is not a string", {"read": [["user:alice"]]}, "must be a string"),
    ("an invalid principal", {"deny": ["everyone"]}, "invalid principal"),
    ("an empty read list", {"read": []}, "'read' list is empty"),
    ("a misspelt key", {"Read": ["group:hr"]}, "unknown keys Read"),
    ("an unknown key", {"title": "x", "readers": ["group:hr"]}, "unknown keys readers"),
]


@pytest.mark.parametrize(
    ("front_matter", "message"),
    [case[1:] for case in BAD_FRONT_MATTER],
    ids=[case[0] for case in BAD_FRONT_MATTER],
)
def test_bad_front_matter_is_unresolvable(front_matter: dict[str, object], message: str) -> None:
    with pytest.raises(AccessResolutionError, match=rf"^front matter: .*{re.escape(message)}"):
        apply_front_matter(DEFAULT, front_matter)
