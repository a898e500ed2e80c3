"""`proofdesk policy show|reload`: check the access policy, and make a running server reload it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import (
    EXIT_FAILED,
    ConfigOption,
    GroupsOption,
    JsonOption,
    UserOption,
    command_settings,
    error_message,
    fail,
    out,
    parse_groups,
)

__all__ = ["app"]

app = typer.Typer(help="Inspect and reload the access policy.", no_args_is_help=True)


@app.command("show")
def policy_show(
    user: UserOption = None,
    groups: GroupsOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate the policy and print its version (and what a user holds, with --user)."""
    from api.bootstrap.components import Components
    from policies.access.engine import PolicyError

    settings = command_settings(config)
    try:
        engine = Components(settings).policy
    except PolicyError as exc:
        fail(f"policy: {exc}", EXIT_FAILED)
    status = engine.status
    doc: dict[str, Any] = {"version": status.version, "rules": status.rules}
    if user is not None or groups:
        access = engine.access_filter(engine.principal_for(user, parse_groups(groups)))
        doc["holds"] = sorted(access.holds)
        doc["denied_sources"] = sorted(access.denied_sources)
    engine.close()
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        for key, value in doc.items():
            out.print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


@app.command("reload")
def policy_reload(
    server: Annotated[
        str | None, typer.Option(help="Base URL of a running `proofdesk serve` to reload.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="PROOFDESK_API_KEY", help="Admin API key.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check the policy on disk; with --server, make a running server reload its policy now.

    The server checks what it reads itself: an invalid policy is refused with the reason, and
    the server keeps serving the last good one. Servers also reload by themselves: a changed
    policy file before the next request, a changed policy database within
    `policy.reload_interval_seconds`.
    """
    if server is None:
        _check_policy(config)
        return
    import httpx

    try:
        response = httpx.post(
            f"{server.rstrip('/')}/v1/admin/policy/reload",
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        reason = error_message(response, limit=None)
        fail(f"server refused the reload ({response.status_code}): {reason}", EXIT_FAILED)
    body = response.json()
    what = "loaded" if body.get("changed") else "unchanged"
    out.print(f"server policy {what}: version {body.get('version')}, {body.get('rules')} rules")


def _check_policy(config: Path | None) -> None:
    from api.bootstrap.components import Components
    from policies.access.engine import PolicyError

    settings = command_settings(config)
    try:
        engine = Components(settings).policy
    except PolicyError as exc:
        fail(f"policy is invalid: {exc}", EXIT_FAILED)
    out.print(f"policy on disk is valid: version {engine.version}, {engine.status.rules} rules")
    engine.close()
