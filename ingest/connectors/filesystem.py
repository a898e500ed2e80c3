"""Reads an approved folder tree, never outside its root, with access from its ACL files."""

from __future__ import annotations

import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Literal

from ingest.acl import AccessResolutionError, FolderAclResolver, is_acl_file
from ingest.connectors import SourceUnavailableError
from ingest.documents import AccessList, DocType, FetchedDocument, FetchFailure
from ingest.sources import FilesystemSource

__all__ = ["DOC_TYPES_BY_EXTENSION", "FilesystemConnector", "matches_glob"]

DOC_TYPES_BY_EXTENSION: dict[str, DocType] = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

Listing = Iterator[FetchedDocument | FetchFailure]
FailureKind = Literal["failed", "quarantined"]


def matches_glob(key: str, pattern: str) -> bool:
    """Whether a relative POSIX path matches a glob: `*`, `?`, `[...]` stay within one folder
    name, and a `**` segment matches any number of folders, none included (`**/*.md` matches
    `a.md`).

    Python 3.11 has no whole-path glob matcher (`PurePath.full_match` arrived in 3.13), so this
    matches segment by segment with `fnmatch`.
    """
    return _match_parts(PurePosixPath(key).parts, PurePosixPath(pattern).parts)


def _match_parts(parts: Sequence[str], patterns: Sequence[str]) -> bool:
    if not patterns:
        return not parts
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_match_parts(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _match_parts(parts[1:], rest)


class FilesystemConnector:
    """Lists the files of a filesystem source that match its `include` and not its `exclude`.

    Hidden files and folders (dot-prefixed) and ACL files are never documents. Symlinks are
    followed only while they stay inside the root; a document reached through one takes the
    access of the place it really is, so a link cannot widen who may read it.
    """

    def __init__(self, *, source: FilesystemSource) -> None:
        self._source = source
        self._root = source.root.absolute()

    def scan(self) -> Listing:
        """Yield the source's documents in sorted path order, reading each file as it goes.

        Raises `SourceUnavailableError` at once when the root is missing, not a folder or
        unreadable, and at the end when a folder below it could not be listed: the listing is
        incomplete, so nothing may be deleted.
        """
        real_root = self._check_root()
        acl = FolderAclResolver(
            root=real_root,
            default=AccessList(read=tuple(self._source.read), deny=tuple(self._source.deny)),
            default_origin=f"source {self._source.id!r}",
        )
        return self._listing(_Scan(real_root, acl))

    def _check_root(self) -> Path:
        try:
            real_root = self._root.resolve(strict=True)
            is_dir = real_root.is_dir()
            if is_dir:
                next(real_root.iterdir(), None)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
            raise SourceUnavailableError(
                f"source {self._source.id!r}: cannot read root {self._root}: {_reason(exc)}"
            ) from exc
        if not is_dir:
            raise SourceUnavailableError(
                f"source {self._source.id!r}: root {self._root} is not a folder"
            )
        return real_root

    def _listing(self, scan: _Scan) -> Listing:
        yield from self._walk(scan, PurePosixPath(), frozenset({scan.real_root}))
        if scan.unlisted:
            raise SourceUnavailableError(
                f"source {self._source.id!r}: the listing is incomplete, cannot list "
                + "; ".join(scan.unlisted)
            )

    def _walk(
        self,
        scan: _Scan,
        folder: PurePosixPath,
        ancestors: frozenset[Path],  # real folders above, so a symlink loop is not re-entered
    ) -> Listing:
        try:
            entries = sorted(p.name for p in (self._root / folder).iterdir())
        except OSError as exc:
            scan.unlisted.append(f"folder {folder.as_posix()}: {_reason(exc)}")
            return
        for name in entries:
            if name.startswith(".") or is_acl_file(name):
                continue
            key = (folder / name).as_posix()
            try:
                real = (self._root / key).resolve()
            except (OSError, RuntimeError) as exc:
                yield self._failure(key, f"cannot resolve path: {_reason(exc)}")
                continue
            if not real.is_relative_to(scan.real_root):
                if not self._excluded(key):
                    yield self._failure(key, "symlink escapes the source root", "quarantined")
            elif real.is_dir():
                if real not in ancestors:
                    yield from self._walk(scan, folder / name, ancestors | {real})
            elif self._wanted(key):
                yield self._read(key, real, scan)

    def _wanted(self, key: str) -> bool:
        included = any(matches_glob(key, p) for p in self._source.include)
        return included and not self._excluded(key)

    def _excluded(self, key: str) -> bool:
        return any(matches_glob(key, p) for p in self._source.exclude)

    def _read(self, key: str, real: Path, scan: _Scan) -> FetchedDocument | FetchFailure:
        doc_type = DOC_TYPES_BY_EXTENSION.get(real.suffix.lower())
        if doc_type is None:
            return self._failure(key, f"unsupported file type {real.suffix or '(none)'!r}")
        limit = self._source.max_bytes
        try:
            info = real.stat()
            if not stat.S_ISREG(info.st_mode):
                return self._failure(key, "not a regular file")
            if info.st_size > limit:
                return self._failure(key, _too_big(info.st_size, limit))
            with real.open("rb") as handle:
                data = handle.read(limit + 1)  # +1: a file that grew since stat is caught too
        except OSError as exc:
            return self._failure(key, f"cannot read file: {_reason(exc)}")
        if len(data) > limit:
            return self._failure(key, _too_big(len(data), limit))
        try:
            # By where the file really is: a symlink in a public folder must not widen access.
            access, access_error = scan.acl.resolve(real.relative_to(scan.real_root)), None
        except AccessResolutionError as exc:
            access, access_error = None, str(exc)
        return FetchedDocument(
            source_id=self._source.id,
            key=key,
            uri=(self._root / key).as_uri(),
            data=data,
            doc_type=doc_type,
            modified_at=datetime.fromtimestamp(info.st_mtime, tz=UTC),
            access=access,
            access_error=access_error,
        )

    def _failure(self, key: str, reason: str, kind: FailureKind = "failed") -> FetchFailure:
        return FetchFailure(source_id=self._source.id, key=key, reason=reason, kind=kind)


@dataclass
class _Scan:
    """The state of one listing."""

    real_root: Path
    acl: FolderAclResolver  # caches folder rules for this listing only
    unlisted: list[str] = field(default_factory=list)  # folders that could not be listed


def _too_big(size: int, limit: int) -> str:
    return f"file is {size} bytes, over the source limit of {limit}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
