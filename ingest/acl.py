"""Document access: source default → folder `.acl.yaml` files → sidecar → Markdown front matter.

Every level may set `read` (it replaces the inherited readers) and `deny` (it adds to the
inherited denials). Anything unexpected makes the document's access unresolvable, and a
document whose access is unresolvable is not indexed: we fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

import yaml

from ingest.documents import AccessList
from ingest.sources import FilesystemSource
from policies.access.principal import InvalidPrincipalError, parse_principal_ref

__all__ = [
    "ACL_SUFFIX",
    "FOLDER_ACL_NAME",
    "FRONT_MATTER_KEYS",
    "MAX_ACL_FILE_BYTES",
    "AccessResolutionError",
    "AclRule",
    "FolderAclResolver",
    "apply_front_matter",
    "is_acl_file",
    "parse_acl",
    "require_readers",
]

FOLDER_ACL_NAME = ".acl.yaml"  # a folder's rules, for everything below it
ACL_SUFFIX = ".acl.yaml"  # `guide.pdf.acl.yaml` holds the rules of `guide.pdf`
MAX_ACL_FILE_BYTES = 64 * 1024
_ACL_KEYS = frozenset({"read", "deny"})
# Front matter may describe a document besides its access; any other key is refused, so a
# misspelt `Read:` never silently leaves the inherited (broader) readers in force.
FRONT_MATTER_KEYS = _ACL_KEYS | frozenset(
    {
        "title",
        "description",
        "summary",
        "tags",
        "classification",
        "author",
        "owner",
        "date",
        "updated",
        "lang",
    }
)
_ROOT = PurePosixPath(".")


class AccessResolutionError(ValueError):
    """A document's access cannot be resolved, so the document must not be indexed."""


@dataclass(frozen=True)
class AclRule:
    """One level of rules: `read` replaces the inherited readers when set; `deny` adds to them."""

    read: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()

    def apply(self, access: AccessList) -> AccessList:
        read = access.read if self.read is None else self.read
        deny = tuple(dict.fromkeys((*access.deny, *self.deny)))
        return AccessList(read=read, deny=deny)


def is_acl_file(name: str) -> bool:
    """Whether a file name is a folder ACL or a sidecar ACL (never a document itself)."""
    return name.endswith(ACL_SUFFIX)


def parse_acl(raw: object, *, origin: str) -> AclRule:
    """Validate the content of an ACL file: a mapping with only `read` and/or `deny` lists."""
    if not isinstance(raw, Mapping):
        raise AccessResolutionError(
            f"{origin}: expected a mapping with 'read' and/or 'deny', got {type(raw).__name__}"
        )
    unknown = sorted(str(k) for k in raw if k not in _ACL_KEYS)
    if unknown:
        raise AccessResolutionError(
            f"{origin}: unknown keys {', '.join(unknown)} (only 'read' and 'deny' are allowed)"
        )
    return _rule_from(raw, origin=origin)


def require_readers(access: AccessList, *, origin: str) -> AccessList:
    """Refuse an access list that admits nobody: an empty `read` list is unresolvable."""
    if not access.read:
        raise AccessResolutionError(f"{origin}: the 'read' list is empty, so nobody may read it")
    return access


def apply_front_matter(access: AccessList, front_matter: Mapping[str, object]) -> AccessList:
    """Apply a Markdown document's front matter `read`/`deny`; the other known keys
    (`FRONT_MATTER_KEYS`) describe the document and are not ours.

    Raises `AccessResolutionError` on an unknown key, when `read`/`deny` are not lists of
    principals, or when they leave no reader.
    """
    unknown = sorted(str(k) for k in front_matter if k not in FRONT_MATTER_KEYS)
    if unknown:
        raise AccessResolutionError(
            f"front matter: unknown keys {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(FRONT_MATTER_KEYS))})"
        )
    rule = _rule_from(front_matter, origin="front matter")
    return require_readers(rule.apply(access), origin="front matter")


@dataclass(frozen=True)
class _Level:
    access: AccessList
    read_from: str  # which level set the readers, to name it when they are empty

    def then(self, rule: AclRule, origin: str) -> _Level:
        read_from = self.read_from if rule.read is None else origin
        return _Level(rule.apply(self.access), read_from)


class FolderAclResolver:
    """Resolves the access of documents under one root, reading each folder's ACL file once.

    Build one per listing: folder rules are cached for its lifetime, so edits made meanwhile
    are seen by the next listing.
    """

    def __init__(self, *, root: Path, default: AccessList, default_origin: str = "source") -> None:
        self._root = root.resolve()
        self._default = _Level(default, default_origin)
        self._folders: dict[PurePosixPath, _Level | str] = {}  # str: why it is unresolvable

    @classmethod
    def for_source(cls, source: FilesystemSource) -> FolderAclResolver:
        default = AccessList(read=tuple(source.read), deny=tuple(source.deny))
        return cls(root=source.root, default=default, default_origin=f"source {source.id!r}")

    def resolve(self, key: str | PurePath) -> AccessList:
        """The access of the document at `key` (a POSIX path relative to the root)."""
        path = _relative(key)
        level = self._folder(path.parent)
        sidecar = path.parent / f"{path.name}{ACL_SUFFIX}"
        rule = self._load(sidecar)
        if rule is not None:
            level = level.then(rule, sidecar.as_posix())
        return require_readers(
            level.access, origin=f"{path.as_posix()} (readers from {level.read_from})"
        )

    def _folder(self, folder: PurePosixPath) -> _Level:
        cached = self._folders.get(folder)
        if cached is None:
            try:
                cached = self._resolve_folder(folder)
            except AccessResolutionError as exc:
                cached = str(exc)
            self._folders[folder] = cached
        if isinstance(cached, str):
            raise AccessResolutionError(cached)
        return cached

    def _resolve_folder(self, folder: PurePosixPath) -> _Level:
        inherited = self._default if folder == _ROOT else self._folder(folder.parent)
        acl_file = folder / FOLDER_ACL_NAME
        rule = self._load(acl_file)
        return inherited if rule is None else inherited.then(rule, acl_file.as_posix())

    def _load(self, relative: PurePosixPath) -> AclRule | None:
        """Read one ACL file, or None when there is none. It must stay inside the root."""
        name = relative.as_posix()
        path = self._root / relative
        try:
            path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:  # it may exist: unresolvable, never "no rules"
            raise AccessResolutionError(f"cannot read ACL file {name}: {exc.strerror}") from exc
        try:
            real = path.resolve(strict=True)
            if not real.is_relative_to(self._root):
                raise AccessResolutionError(f"ACL file {name} is a symlink out of the source root")
            if not real.is_file():
                raise AccessResolutionError(f"ACL file {name} is not a regular file")
            if real.stat().st_size > MAX_ACL_FILE_BYTES:
                raise AccessResolutionError(f"ACL file {name} is over {MAX_ACL_FILE_BYTES} bytes")
            raw = yaml.safe_load(real.read_text(encoding="utf-8"))
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise AccessResolutionError(f"cannot read ACL file {name}: {reason}") from exc
        except UnicodeDecodeError as exc:
            raise AccessResolutionError(f"ACL file {name} is not UTF-8 text") from exc
        except yaml.YAMLError as exc:
            raise AccessResolutionError(
                f"ACL file {name} is not valid YAML: {_yaml_problem(exc)}"
            ) from exc
        return parse_acl(raw, origin=f"ACL file {name}")


def _rule_from(values: Mapping[str, object], *, origin: str) -> AclRule:
    read = _principals(values["read"], key="read", origin=origin) if "read" in values else None
    deny = _principals(values.get("deny", []), key="deny", origin=origin)
    return AclRule(read=read, deny=deny)


def _principals(value: object, *, key: str, origin: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise AccessResolutionError(
            f"{origin}: '{key}' must be a list of principals, got {type(value).__name__}"
        )
    try:
        return tuple(dict.fromkeys(parse_principal_ref(item) for item in value))
    except InvalidPrincipalError as exc:
        raise AccessResolutionError(f"{origin}: '{key}': {exc}") from exc


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def _relative(key: str | PurePath) -> PurePosixPath:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or path == _ROOT:
        raise AccessResolutionError(f"{str(key)!r} is not a path inside the source root")
    return path
