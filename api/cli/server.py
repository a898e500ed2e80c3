"""`proofdesk serve|api-key`: the HTTP API, and keys to call it with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import (
    ConfigOption,
    GroupsOption,
    command_settings,
    err,
    fail,
    parse_groups,
    translated_errors,
)

__all__ = ["api_key_new", "serve"]


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the HTTP API. This process owns the index and runs the scheduler."""
    import uvicorn

    from api.app import create_app
    from api.bootstrap.server import build_services
    from api.logging_setup import configure_logging, masking_guard

    settings = command_settings(config)
    # Log records wait for the services' redactor (spaCy loads once), or for a guard of their
    # own when the services cannot be built.
    masking = configure_logging(level=settings.log_level, settings=settings.logging, guard=None)
    try:
        services = build_services(settings, settings.api)
    except BaseException:
        masking.use(masking_guard(settings.redaction))  # the held log lines first
        with translated_errors():  # a ConfigurationError (keys, policy, production): one line
            raise
    masking.use(services.guard or masking_guard(settings.redaction))
    uvicorn.run(
        create_app(settings, services=services),
        host=host or settings.api.host,
        port=settings.api.port if port is None else port,
        log_config=None,  # the root logger's masked handler (api.logging_setup) writes
        access_log=False,  # the API's own access line (route template, no query) replaces it
        timeout_graceful_shutdown=30,
    )


def api_key_new(
    key_id: Annotated[str, typer.Option("--id", help="A name for the key, e.g. the tool.")],
    scopes: Annotated[
        str, typer.Option(help="Comma-separated: chat, act_as, admin, audit.")
    ] = "chat",
    user: Annotated[
        str | None, typer.Option(help="User id the key acts as when it names no end user.")
    ] = None,
    groups: GroupsOption = None,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            help="Append the entry to this API keys file (created if missing, mode 0600; "
            "a duplicate id is refused). Point api.api_keys_file at it.",
        ),
    ] = None,
) -> None:
    """Create an API key: prints the key once, and the entry for the API keys file (or, with
    --write FILE, adds the entry to that file)."""
    import yaml

    from api.auth import ApiKeysFileError
    from api.key_hashing import generate_api_key, hash_api_key
    from api.keys_file import append_key_entry

    known = {"chat", "act_as", "admin", "audit"}
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    if not wanted or any(s not in known for s in wanted):
        fail(f"scopes must be among {', '.join(sorted(known))}")
    key = generate_api_key()
    entry: dict[str, Any] = {"id": key_id, "hash": hash_api_key(key), "scopes": wanted}
    if user:
        entry["user_id"] = user
    if groups:
        entry["groups"] = parse_groups(groups)
    if write is not None:
        try:
            append_key_entry(write, entry)
        except ApiKeysFileError as exc:
            fail(str(exc))
        err.print(f"[bold]API key[/] {key_id!r} added to {write} (the key is shown once):")
        print(key)
        return
    err.print("[bold]API key[/] (shown once; store it in the calling tool):")
    print(key)
    err.print("Add this entry under `keys:` in the file named by api.api_keys_file:")
    err.print(yaml.safe_dump([entry], sort_keys=False).rstrip())
