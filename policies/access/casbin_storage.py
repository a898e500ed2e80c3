"""Where the Casbin policy lines live: a `policy.csv` file or a database table, read through
Casbin's own adapters (the file adapter, the SQLAlchemy adapter).

Casbin silently skips lines whose type the model does not declare, so lines are read through a
`_Collector` that keeps every one of them; `CasbinPolicyEngine` validates them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import casbin_sqlalchemy_adapter
from casbin.persist.adapters import FileAdapter
from sqlalchemy import Integer, String, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from policies.access.engine import PolicyLoadError, PolicyStorageError
from policies.access.rules import Rule
from policies.access.settings import PolicySettings

__all__ = [
    "DatabaseStorage",
    "FileStorage",
    "PolicyLines",
    "PolicyStorage",
    "file_fingerprint",
    "open_storage",
]

PolicyLines = list[tuple[str, list[str]]]  # (ptype, fields) as the adapter read them


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


class _Sink:
    def __init__(self, lines: PolicyLines, ptype: str) -> None:
        self._lines, self._ptype = lines, ptype

    def append(self, fields: list[str]) -> None:
        self._lines.append((self._ptype, list(fields)))


class _Entry:
    def __init__(self, lines: PolicyLines, ptype: str) -> None:
        self.policy = _Sink(lines, ptype)


class _Section:
    def __init__(self, lines: PolicyLines) -> None:
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
        self.lines: PolicyLines = []
        self.model = self

    def keys(self) -> _Everything:
        return _Everything()

    def __getitem__(self, sec: str) -> _Section:
        return _Section(self.lines)


class PolicyStorage(Protocol):
    description: str

    def read(self) -> PolicyLines: ...
    def fingerprint(self) -> object: ...
    def add(self, rules: Sequence[Rule]) -> None: ...
    def remove(self, rules: Sequence[Rule]) -> None: ...
    def close(self) -> None: ...


def file_fingerprint(path: Path) -> object:
    """A cheap change marker of a file (mtime, size, inode); None when it cannot be read."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class FileStorage:
    """Casbin's file adapter over `policy.csv`; the file itself is edited, then reloaded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"policy file {path}"
        self._adapter = FileAdapter(str(path))

    def read(self) -> PolicyLines:
        if not self.path.is_file():
            raise PolicyLoadError(f"policy file not found: {self.path}")
        collector = _Collector()
        self._adapter.load_policy(collector)
        return collector.lines

    def fingerprint(self) -> object:
        return file_fingerprint(self.path)

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


class DatabaseStorage:
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

    def read(self) -> PolicyLines:
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


def open_storage(settings: PolicySettings) -> PolicyStorage:
    """The database table when `database_url` is set, else the policy file."""
    url = settings.database_url
    if url is not None:
        return DatabaseStorage(url.get_secret_value(), settings.table_name)
    return FileStorage(settings.policy_path)
