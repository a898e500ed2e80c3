"""The approved-source registry: only sources declared in the sources file are ever read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from infra.cron import CronExpression
from infra.errors import ConfigurationError
from policies.access.principal import InvalidPrincipalError, parse_principal_ref
from policies.access.rules import SOURCE_ID_PATTERN

__all__ = [
    "DEFAULT_INCLUDE",
    "SOURCE_ID_PATTERN",
    "FilesystemSource",
    "SourceConfig",
    "SourceId",
    "SourceRegistry",
    "SourcesFileError",
    "UnknownSourceError",
    "UrlAccessRule",
    "WebSource",
    "load_sources",
]

DEFAULT_INCLUDE = ["**/*.md", "**/*.txt", "**/*.html", "**/*.htm", "**/*.pdf", "**/*.docx"]
SourceKind = Literal["filesystem", "web"]
_KINDS: tuple[str, ...] = ("filesystem", "web")
SourceId = Annotated[str, Field(pattern=SOURCE_ID_PATTERN)]


class SourcesFileError(ConfigurationError, ValueError):
    """The sources file is missing, unreadable or invalid."""


class UnknownSourceError(KeyError):
    """A source id that the sources file does not declare: it is not approved, so it is not read."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown source"


def _principals(values: list[str]) -> list[str]:
    try:
        return [parse_principal_ref(v) for v in values]
    except InvalidPrincipalError as exc:
        raise ValueError(str(exc)) from exc


class UrlAccessRule(BaseModel):
    """Access for web pages whose path starts with `prefix` (the longest matching prefix wins)."""

    model_config = ConfigDict(extra="forbid")
    prefix: str
    read: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)

    _check_read = field_validator("read", "deny")(classmethod(lambda cls, v: _principals(v)))


class _SourceBase(BaseModel):
    """What every approved source declares, whatever its kind."""

    model_config = ConfigDict(extra="forbid")

    id: SourceId
    description: str = ""
    enabled: bool = True
    read: list[str] = Field(default_factory=list, description="default readers of its documents")
    deny: list[str] = Field(default_factory=list, description="principals never allowed")
    schedule: CronExpression | None = Field(
        default=None, description="cron expression for the scheduler"
    )
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    min_keep_ratio: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="wipe guard: if fewer than this share of indexed documents are still listed, "
        "nothing is deleted without --allow-mass-delete",
    )

    _check_principals = field_validator("read", "deny")(classmethod(lambda cls, v: _principals(v)))


class FilesystemSource(_SourceBase):
    """Files under `root` (relative to the sources file's folder)."""

    kind: Literal["filesystem"]
    root: Path
    include: list[str] = Field(default_factory=lambda: list(DEFAULT_INCLUDE))
    exclude: list[str] = Field(default_factory=list)

    @property
    def source_kind(self) -> SourceKind:
        return "filesystem"


class WebSource(_SourceBase):
    """Pages crawled from `seeds` and/or a `sitemap`, on `allowed_hosts` only."""

    kind: Literal["web"]
    seeds: list[str] = Field(default_factory=list)
    sitemap: str | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_path_prefixes: list[str] = Field(default_factory=lambda: ["/"])
    max_pages: int = Field(default=200, ge=1)
    max_depth: int = Field(default=5, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    user_agent: str = "ProofdeskBot/0.1"
    max_crawl_delay_seconds: float = Field(
        default=30.0,
        ge=0,
        description="the longest wait between two requests to a host that its robots.txt "
        "Crawl-delay may ask for; a longer one is capped (and logged)",
    )
    access_rules: list[UrlAccessRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reachable(self) -> WebSource:
        if not self.seeds and not self.sitemap:
            raise ValueError("a web source needs 'seeds' or 'sitemap'")
        if not self.allowed_hosts:
            raise ValueError("a web source needs 'allowed_hosts'")
        return self

    @property
    def source_kind(self) -> SourceKind:
        return "web"


def _known_kind(value: object) -> object:
    """An unknown `kind` named with the kinds there are (before the union picks a model)."""
    kind = value.get("kind") if isinstance(value, dict) else None
    if isinstance(kind, str) and kind not in _KINDS:
        raise ValueError(f"unknown source kind {kind!r} (expected one of: {', '.join(_KINDS)})")
    return value


# One approved source: its `kind` decides which fields it has (a web source's `seeds` on a
# filesystem source is an error, not silently ignored).
SourceConfig = Annotated[
    Annotated[FilesystemSource | WebSource, Field(discriminator="kind")],
    BeforeValidator(_known_kind),
]


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[SourceConfig]


class SourceRegistry:
    """The approved sources, by id, with filesystem roots resolved against the file's folder."""

    def __init__(self, sources: list[SourceConfig], *, path: Path | None = None) -> None:
        ids = [s.id for s in sources]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise SourcesFileError(f"duplicate source ids: {', '.join(duplicates)}")
        self.path = path
        self._sources = {s.id: s for s in sources}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def ids(self) -> list[str]:
        return list(self._sources)

    def get(self, source_id: str) -> SourceConfig:
        try:
            return self._sources[source_id]
        except KeyError:
            approved = ", ".join(self._sources) or "none"
            raise UnknownSourceError(
                f"source {source_id!r} is not declared in the sources file, so it is not "
                f"approved and will not be read (approved: {approved})"
            ) from None

    def enabled(self) -> list[SourceConfig]:
        return [s for s in self._sources.values() if s.enabled]


def _where(loc: tuple[int | str, ...], raw: dict[str, object]) -> str:
    """An error's location with the source named by its id, not its list position:
    `sources[it-kb].kind` rather than `sources.0.kind`."""
    listed = raw.get("sources")
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        entry = listed[loc[1]] if isinstance(listed, list) and loc[1] < len(listed) else None
        sid = entry.get("id") if isinstance(entry, dict) else None
        name = f"sources[{sid}]" if isinstance(sid, str) and sid else f"sources[#{loc[1] + 1}]"
        return ".".join([name, *(str(p) for p in loc[2:])])
    return ".".join(str(p) for p in loc)


def _problem(error: ErrorDetails, raw: dict[str, object]) -> str:
    """One validation error, located by source id; the kind's tag is left out of the place
    (`sources[wiki].root`, not `sources[wiki].filesystem.root`), and a missing field says
    which kind of source needs it."""
    loc = tuple(error["loc"])
    tag = loc[2] if len(loc) > 2 and loc[2] in _KINDS else None
    if tag is not None:
        loc = loc[:2] + loc[3:]
        if error["type"] == "missing" and len(loc) == 3:
            return f"{_where(loc[:2], raw)}: a {tag} source needs {loc[2]!r}"
    return f"{_where(loc, raw)}: {error['msg']}"


def load_sources(path: Path) -> SourceRegistry:
    """Read and validate a sources file; every error names the file and what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesFileError(f"sources file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourcesFileError(f"cannot read sources file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise SourcesFileError(f"{path}: expected a mapping with a 'sources' list")
    try:
        parsed = _SourcesFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_problem(err, raw) for err in exc.errors())
        raise SourcesFileError(f"{path}: {problems}") from exc
    base = path.parent.resolve()
    resolved: list[SourceConfig] = [
        s.model_copy(update={"root": (base / s.root).resolve()})
        if isinstance(s, FilesystemSource)
        else s
        for s in parsed.sources
    ]
    return SourceRegistry(resolved, path=path)
