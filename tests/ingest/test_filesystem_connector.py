"""The filesystem connector on real folder trees in a temporary directory."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.connectors import SourceUnavailableError
from ingest.connectors.filesystem import FilesystemConnector, matches_glob
from ingest.documents import AccessList, FetchedDocument, FetchFailure
from ingest.sources import FilesystemSource

Result = FetchedDocument | FetchFailure


def _source(root: Path, **overrides: object) -> FilesystemSource:
    fields: dict[str, object] = {
        "id": "kb",
        "kind": "filesystem",
        "root": root,
        "read": ["group:staff"],
        "deny": ["user:eve"],
    }
    fields.update(overrides)
    return FilesystemSource.model_validate(fields)


def _write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _scan(root: Path, **overrides: object) -> list[Result]:
    return list(FilesystemConnector(source=_source(root, **overrides)).scan())


def _by_key(results: list[Result]) -> dict[str, Result]:
    return {r.key: r for r in results}


def _document(results: list[Result], key: str) -> FetchedDocument:
    found = _by_key(results)[key]
    assert isinstance(found, FetchedDocument), found
    return found


def _failure(results: list[Result], key: str) -> FetchFailure:
    found = _by_key(results)[key]
    assert isinstance(found, FetchFailure), found
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "kb"
    path.mkdir()
    return path


GLOB_CASES = [
    ("a.md", "**/*.md", True),
    ("x/y/a.md", "**/*.md", True),
    ("a.md", "*.md", True),
    ("x/a.md", "*.md", False),
    ("drafts/a.md", "drafts/**", True),
    ("drafts/x/y.md", "drafts/**", True),
    ("other/drafts/a.md", "drafts/**", False),
    ("a/b/c.md", "a/**/c.md", True),
    ("a/c.md", "a/**/c.md", True),
    ("a/b.txt", "a/[ab].txt", True),
    ("a/c.txt", "a/[ab].txt", False),
    ("a.MD", "**/*.md", False),
]


@pytest.mark.parametrize(("key", "pattern", "expected"), GLOB_CASES)
def test_matches_glob(key: str, pattern: str, expected: bool) -> None:
    assert matches_glob(key, pattern) is expected


def test_include_and_exclude(root: Path) -> None:
    _write(
        root,
        {
            "guide.md": "# Guide",
            "docs/a.txt": "a",
            "docs/deep/b.html": "<p>b</p>",
            "docs/notes.rst": "not included",
            "drafts/c.md": "excluded",
            "docs/drafts/d.md": "kept: only the top drafts folder is excluded",
        },
    )
    results = _scan(root, include=["**/*.md", "**/*.txt", "**/*.html"], exclude=["drafts/**"])

    assert [r.key for r in results] == [
        "docs/a.txt",
        "docs/deep/b.html",
        "docs/drafts/d.md",
        "guide.md",
    ]
    assert all(isinstance(r, FetchedDocument) for r in results)


def test_document_fields(root: Path) -> None:
    _write(root, {"docs/guide.md": "# Reset your password\n"})
    os.utime(root / "docs/guide.md", (1_700_000_000, 1_700_000_000))

    [result] = _scan(root)

    assert result == FetchedDocument(
        source_id="kb",
        key="docs/guide.md",
        uri=(root / "docs/guide.md").as_uri(),
        data=b"# Reset your password\n",
        doc_type="md",
        modified_at=datetime.fromtimestamp(1_700_000_000, tz=UTC),
        access=AccessList(read=("group:staff",), deny=("user:eve",)),
    )
    assert result.modified_at is not None
    assert result.modified_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("name", "doc_type"),
    [
        ("a.md", "md"),
        ("a.markdown", "md"),
        ("A.MD", "md"),
        ("a.txt", "txt"),
        ("a.html", "html"),
        ("a.htm", "html"),
        ("a.pdf", "pdf"),
        ("a.docx", "docx"),
    ],
)
def test_doc_type_from_the_extension(root: Path, name: str, doc_type: str) -> None:
    _write(root, {name: "x"})
    assert _document(_scan(root, include=["**/*"]), name).doc_type == doc_type


def test_included_file_of_unknown_type_is_a_failure(root: Path) -> None:
    _write(root, {"notes.rst": "x"})
    assert (
        "unsupported file type '.rst'"
        in _failure(_scan(root, include=["**/*"]), "notes.rst").reason
    )


def test_hidden_and_acl_files_are_never_documents(root: Path) -> None:
    _write(
        root,
        {
            ".hidden.md": "x",
            ".git/HEAD.md": "x",
            "docs/.drafts/a.md": "x",
            ".acl.yaml": "read: [public]\n",
            "docs/.acl.yaml": "read: [public]\n",
            "docs/guide.md.acl.yaml": "read: [public]\n",
            "docs/guide.md": "# Guide",
        },
    )
    assert [r.key for r in _scan(root, include=["**/*"])] == ["docs/guide.md"]


def test_nested_folder_acls_and_sidecar(root: Path) -> None:
    _write(
        root,
        {
            ".acl.yaml": "read: [group:support]\ndeny: [user:x]\n",
            "hr/.acl.yaml": "read: [group:hr]\ndeny: [user:y]\n",
            "hr/payroll/2024.md": "pay",
            "hr/payroll/guide.pdf": b"%PDF-1.4",
            "hr/payroll/guide.pdf.acl.yaml": "read: [user:alice]\ndeny: [user:z]\n",
            "sales/deals.md": "deals",
        },
    )
    results = _scan(root)

    assert _document(results, "sales/deals.md").access == AccessList(
        read=("group:support",), deny=("user:eve", "user:x")
    )
    assert _document(results, "hr/payroll/2024.md").access == AccessList(
        read=("group:hr",), deny=("user:eve", "user:x", "user:y")
    )
    assert _document(results, "hr/payroll/guide.pdf").access == AccessList(
        read=("user:alice",), deny=("user:eve", "user:x", "user:y", "user:z")
    )


def test_invalid_acl_file_makes_access_unresolvable(root: Path) -> None:
    _write(
        root,
        {
            "hr/.acl.yaml": "read: group:hr\n",
            "hr/a.md": "a",
            "hr/sub/b.md": "b",
            "open/c.md": "c",
            "open/d.md": "d",
            "open/d.md.acl.yaml": "owner: someone\n",
        },
    )
    results = _scan(root)

    for key, file in [("hr/a.md", "hr/.acl.yaml"), ("hr/sub/b.md", "hr/.acl.yaml")]:
        document = _document(results, key)
        assert document.access is None
        assert document.access_error is not None
        assert file in document.access_error
        assert "'read' must be a list" in document.access_error
    quarantined = _document(results, "open/d.md")
    assert quarantined.access is None
    assert quarantined.access_error is not None
    assert "open/d.md.acl.yaml: unknown keys owner" in quarantined.access_error
    assert _document(results, "open/c.md").access is not None


def test_no_readers_is_unresolvable(root: Path) -> None:
    _write(root, {"a.md": "a"})
    [document] = _scan(root, read=[])
    assert isinstance(document, FetchedDocument)
    assert document.access is None
    assert document.access_error == (
        "a.md (readers from source 'kb'): the 'read' list is empty, so nobody may read it"
    )


def test_symlinks_escaping_the_root_are_quarantined(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "outside"
    _write(outside, {"secret.md": "TOP SECRET", "more/secret2.md": "TOP SECRET"})
    _write(root, {"guide.md": "# Guide"})
    (root / "leak.md").symlink_to(outside / "secret.md")
    (root / "shared").symlink_to(outside, target_is_directory=True)
    (root / "relative.md").symlink_to("../outside/secret.md")

    results = _scan(root)

    assert [r.key for r in results] == ["guide.md", "leak.md", "relative.md", "shared"]
    for key in ("leak.md", "relative.md", "shared"):
        failure = _failure(results, key)
        assert failure.reason == "symlink escapes the source root"
        assert failure.kind == "quarantined"
    assert not any(isinstance(r, FetchedDocument) and b"SECRET" in r.data for r in results)


def test_symlink_inside_the_root_takes_the_access_of_its_target(root: Path) -> None:
    _write(
        root,
        {
            ".acl.yaml": "read: [public]\n",
            "hr/.acl.yaml": "read: [group:hr]\n",
            "hr/payroll/pay.md": "salaries",
            "public/readme.md": "hello",
        },
    )
    (root / "public/payroll").symlink_to("../hr/payroll", target_is_directory=True)
    (root / "public/pay-link.md").symlink_to("../hr/payroll/pay.md")

    results = _scan(root)

    hr_access = AccessList(read=("group:hr",), deny=("user:eve",))
    assert _document(results, "hr/payroll/pay.md").access == hr_access
    assert _document(results, "public/payroll/pay.md").access == hr_access
    assert _document(results, "public/pay-link.md").access == hr_access
    assert _document(results, "public/readme.md").access == AccessList(("public",), ("user:eve",))


def test_symlink_loop_is_not_followed_forever(root: Path) -> None:
    _write(root, {"docs/a.md": "a"})
    (root / "docs/loop").symlink_to("..", target_is_directory=True)
    (root / "docs/self").symlink_to(".", target_is_directory=True)
    assert [r.key for r in _scan(root)] == ["docs/a.md"]


def test_size_limit(root: Path) -> None:
    _write(root, {"big.md": "x" * 11, "fits.md": "x" * 10})
    results = _scan(root, max_bytes=10)
    assert _failure(results, "big.md").reason == "file is 11 bytes, over the source limit of 10"
    assert _document(results, "fits.md").data == b"x" * 10


def test_binary_content_is_fetched_as_is(root: Path) -> None:
    payload = bytes(range(256)) * 4
    _write(root, {"blob.md": payload})
    assert _document(_scan(root), "blob.md").data == payload


def test_unreadable_entries_are_failures_with_the_os_reason(root: Path) -> None:
    _write(root, {"ok.md": "ok"})
    (root / "dangling.md").symlink_to(root / "missing.md")
    os.mkfifo(root / "pipe.md")

    results = _scan(root)

    assert _failure(results, "dangling.md").reason == "cannot read file: No such file or directory"
    assert _failure(results, "pipe.md").reason == "not a regular file"
    assert isinstance(_by_key(results)["ok.md"], FetchedDocument)


def test_order_is_deterministic(root: Path) -> None:
    names = ["b.md", "a/z.md", "a.md", "c/b/a.md", "c/a.md", "B.md", "a/y.txt"]
    _write(root, dict.fromkeys(names, "x"))
    first = [r.key for r in _scan(root)]
    assert first == ["B.md", "a/y.txt", "a/z.md", "a.md", "b.md", "c/a.md", "c/b/a.md"]
    assert [r.key for r in _scan(root)] == first


def test_missing_root_is_unavailable(tmp_path: Path) -> None:
    connector = FilesystemConnector(source=_source(tmp_path / "gone"))
    with pytest.raises(SourceUnavailableError, match=r"cannot read root .*gone"):
        connector.scan()


def test_root_that_is_a_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(SourceUnavailableError, match="is not a folder"):
        list(FilesystemConnector(source=_source(tmp_path / "file")).scan())


def test_scan_reads_lazily(root: Path) -> None:
    _write(root, {"a.md": "first", "b.md": "second"})
    listing = FilesystemConnector(source=_source(root)).scan()
    first = next(listing)
    (root / "b.md").write_text("changed after the first document", encoding="utf-8")
    second = next(listing)
    assert isinstance(first, FetchedDocument)
    assert isinstance(second, FetchedDocument)
    assert second.data == b"changed after the first document"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Remove every permission bit from `path` meanwhile."""
    mode = stat.S_IMODE(path.stat().st_mode)
    path.chmod(0)
    try:
        yield
    finally:
        path.chmod(mode)


@contextmanager
def _unprivileged() -> Iterator[None]:
    """Permission bits do not bind root: run as `nobody` meanwhile when the tests run as root."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(pwd.getpwnam("nobody").pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A root `nobody` can reach (pytest's tmp_path is private to the user running the tests)."""
    base = Path(tempfile.mkdtemp())
    base.chmod(0o755)
    root = base / "kb"
    root.mkdir()
    try:
        yield root
    finally:
        shutil.rmtree(base)


def test_unreadable_file_is_a_failure_with_the_os_reason(shared_root: Path) -> None:
    _write(shared_root, {"a.md": "a", "b.md": "b"})
    with _locked(shared_root / "a.md"), _unprivileged():
        results = _scan(shared_root)
    assert _failure(results, "a.md").reason == "cannot read file: Permission denied"
    assert _document(results, "b.md").data == b"b"


def test_unreadable_acl_file_makes_access_unresolvable(shared_root: Path) -> None:
    _write(shared_root, {"hr/.acl.yaml": "read: [group:hr]\n", "hr/pay.md": "pay", "a.md": "a"})
    with _locked(shared_root / "hr/.acl.yaml"), _unprivileged():
        results = _scan(shared_root)
    locked = _document(results, "hr/pay.md")
    assert locked.access is None
    assert locked.access_error == "cannot read ACL file hr/.acl.yaml: Permission denied"
    assert _document(results, "a.md").access is not None


def test_unlistable_folder_makes_the_listing_incomplete(shared_root: Path) -> None:
    _write(shared_root, {"a.md": "a", "locked/b.md": "b", "z.md": "z"})
    listed: list[Result] = []
    with (
        _locked(shared_root / "locked"),
        _unprivileged(),
        pytest.raises(SourceUnavailableError, match="cannot list folder locked: Permission denied"),
    ):
        listed.extend(FilesystemConnector(source=_source(shared_root)).scan())
    assert [r.key for r in listed] == ["a.md", "z.md"]  # the rest is still listed first


def test_unreadable_root_is_unavailable(shared_root: Path) -> None:
    with (
        _locked(shared_root),
        _unprivileged(),
        pytest.raises(SourceUnavailableError, match=r"cannot read root .*: Permission denied"),
    ):
        FilesystemConnector(source=_source(shared_root)).scan()
