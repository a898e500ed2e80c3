"""What every command group of the `proofdesk` CLI shares: settings and logging, the consoles,
exit codes, option types, and the translation of library errors into one message line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape

from api.cli.console import console

if TYPE_CHECKING:  # start-up imports only what --help needs; each command imports the rest
    from api.settings import Settings

__all__ = [
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_NOT_FOUND",
    "EXIT_USAGE",
    "ApiKeyOption",
    "ConfigOption",
    "GroupsOption",
    "JsonOption",
    "ServerOption",
    "UserOption",
    "command_settings",
    "err",
    "error_message",
    "fail",
    "out",
    "parse_groups",
    "shown",
    "translated_errors",
]

err = console(stderr=True, soft_wrap=True)  # messages stay whole lines (greppable)
out = console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML settings file (also PROOFDESK_CONFIG)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
ServerOption = Annotated[
    str | None,
    typer.Option(
        envvar="PROOFDESK_SERVER",
        help="Base URL of a running `proofdesk serve`: run through it (it owns the index).",
    ),
]
ApiKeyOption = Annotated[
    str | None, typer.Option(envvar="PROOFDESK_API_KEY", help="Admin API key for --server.")
]
UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="User id to act as (omit: anonymous).")
]
GroupsOption = Annotated[
    str | None,
    typer.Option("--groups", "-g", help="Comma-separated groups from the identity provider."),
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_NOT_FOUND = 4


# C0/C1 controls and the bidirectional overrides: a file name holding them could recolour the
# terminal, forge report lines or reverse what follows.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown(text: object) -> str:
    """`text` for the terminal: control characters as escapes (`\\x1b`, `\\n`), Rich markup
    inert. For what comes from outside (file names, parser errors)."""
    return escape(
        _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), str(text))
    )


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")  # "[x]" in a message is no markup
    raise typer.Exit(code)


def parse_groups(raw: str | None) -> list[str]:
    """`--groups a, b` as a list, blanks dropped."""
    return [g.strip() for g in (raw or "").split(",") if g.strip()]


def error_message(response: Any, *, limit: int | None = 200) -> str:
    """The API's `{"error": {"message"}}`, or the start of the body (all of it: `limit=None`)."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(response.text[:limit])


def command_settings(config: Path | None) -> Settings:
    """The settings, and the command's logging: masked, on stderr (see api.logging_setup)."""
    from api.logging_setup import configure_logging, masking_guard
    from api.settings import ConfigFileError, load_settings

    try:
        settings = load_settings(config)
    except ConfigFileError as exc:
        fail(str(exc))
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        fail(f"invalid settings: {exc}")
    configure_logging(
        level=settings.log_level,
        settings=settings.logging,
        guard=lambda: masking_guard(settings.redaction),
    )
    for noisy in (
        "presidio-analyzer",
        "presidio-anonymizer",
        "httpx",
        "sentence_transformers",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


@contextmanager
def translated_errors() -> Iterator[None]:
    """Configuration mistakes and domain errors → one clear line and an exit code; nothing
    else is caught. Every configuration mistake (the sources file, the policy, the keys file,
    insecure production settings, the model files, …) is a `ConfigurationError`: exit 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from infra.errors import ConfigurationError
    from ingest.jobs import SourceBusyError
    from ingest.sources import UnknownSourceError
    from retrieval.store import StoreError, StoreLockedError

    try:
        yield
    except (ConfigurationError, UnknownSourceError) as exc:
        fail(str(exc))
    except StoreLockedError as exc:
        fail(str(exc), EXIT_BUSY)
    except SourceBusyError as exc:
        fail(str(exc), EXIT_BUSY)
    except StoreError as exc:
        fail(f"vector store: {exc}", EXIT_FAILED)
    except SQLAlchemyError as exc:  # the state, job or audit database (unreachable, refused)
        fail(f"database: {type(exc).__name__}: {exc.__cause__ or exc}", EXIT_FAILED)
