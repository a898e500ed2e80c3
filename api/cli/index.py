"""`proofdesk sources|ingest|jobs|prune`: the approved sources, syncing them into the index,
the runs so far, and pruning what the state database keeps for chunks gone from the index."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.common import (
    EXIT_BUSY,
    EXIT_FAILED,
    ApiKeyOption,
    ConfigOption,
    JsonOption,
    ServerOption,
    command_settings,
    err,
    fail,
    out,
    shown,
    translated_errors,
)
from api.cli.console import CountColumn

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["ingest", "jobs", "prune", "sources"]


def sources(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the approved sources."""
    from api.bootstrap.components import Components

    settings = command_settings(config)
    with translated_errors():
        registry = Components(settings).registry
    rows = [
        {
            "id": s.id,
            "kind": s.kind,
            "enabled": s.enabled,
            "location": str(s.root) if s.root else ", ".join(s.seeds or [s.sitemap or ""]),
            "read": s.read,
            "schedule": s.schedule,
        }
        for s in registry
    ]
    if as_json:
        print(json.dumps({"sources": rows}, indent=2))
        return
    table = Table("id", "kind", "enabled", "location", "default readers", "schedule")
    for r in rows:
        table.add_row(
            r["id"],
            r["kind"],
            str(r["enabled"]),
            r["location"],
            ", ".join(r["read"]),
            r["schedule"] or "-",
        )
    out.print(table)


def ingest(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Source id (repeatable).")
    ] = None,
    allow_mass_delete: Annotated[
        bool,
        typer.Option(help="Delete even when a source suddenly lists far fewer documents."),
    ] = False,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sync approved sources into the index (all enabled ones by default).

    With the embedded index, a running server owns it: pass --server to sync through it.
    """
    from api.bootstrap.components import Components
    from api.bootstrap.index import build_ingest
    from retrieval.store import StoreLockedError

    settings = command_settings(config)
    with translated_errors(), Components(settings) as parts:
        registry = parts.registry
        ids = source or [s.id for s in registry.enabled()]
        for sid in ids:
            registry.get(sid)
        if server is not None:
            if allow_mass_delete:
                fail("--allow-mass-delete is not available through the server")
            reports = _ingest_via_server(server, api_key, ids)
            _finish_ingest(reports, as_json=as_json)
            return
        try:
            ctx = build_ingest(parts, registry=registry)
        except StoreLockedError as exc:
            fail(f"{exc}. To sync through the running server: proofdesk ingest --server URL", 3)
        try:
            reports = []
            for sid in ids:
                with _progress(sid, enabled=not as_json) as advance:
                    result = ctx.runner.run(
                        sid, trigger="cli", allow_mass_delete=allow_mass_delete, progress=advance
                    )
                reports.append({"job_id": result.job_id, **result.report.as_dict()})
        finally:
            ctx.close()
    _finish_ingest(reports, as_json=as_json)


def _finish_ingest(reports: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"sources": reports}, indent=2, default=str))
    else:
        _print_reports(reports)
    if any(r["status"] == "failed" for r in reports):
        raise typer.Exit(EXIT_FAILED)


def _ingest_via_server(
    server: str, api_key: str | None, source_ids: list[str], *, poll_seconds: float = 1.0
) -> list[dict[str, Any]]:
    """Start each sync on the server, wait for it to finish, return the reports."""
    import time

    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    reports: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=30) as client:
        for sid in source_ids:
            try:
                started = client.post(f"/v1/sources/{sid}/sync")
                if started.status_code != 202:
                    fail(
                        f"server refused the sync of {sid} ({started.status_code}): {started.text}",
                        EXIT_BUSY if started.status_code == 409 else 1,
                    )
                job = started.json()
                while job["status"] == "running":
                    time.sleep(poll_seconds)
                    job = client.get(f"/v1/jobs/{job['job_id']}").json()
            except httpx.HTTPError as exc:
                fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
            report = job.get("report") or {"source_id": sid, "status": job["status"]}
            reports.append({"job_id": job["job_id"], **_complete_report(report, job)})
    return reports


def _complete_report(report: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    from ingest.report import SourceReport

    blank = SourceReport(source_id=job["source_id"]).as_dict()
    merged = {**blank, **report}
    if job.get("error") and not merged.get("error"):
        merged["error"] = job["error"]
        merged["status"] = "failed"
    return merged


@contextmanager
def _progress(source_id: str, *, enabled: bool) -> Iterator[Callable[[str, int], None]]:
    if not enabled:
        yield lambda _event, _n: None
        return
    with Progress(
        TextColumn(f"[bold]{source_id}[/]"),
        TextColumn("{task.description}"),
        BarColumn(),
        CountColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        docs = bar.add_task("documents", total=None)
        chunks = bar.add_task("chunks written", total=None)

        def advance(event: str, n: int) -> None:
            bar.advance(docs if event == "document" else chunks, n)

        yield advance


def _print_reports(reports: list[dict[str, Any]]) -> None:
    table = Table(
        "source",
        "status",
        "new",
        "changed",
        "same",
        "deleted",
        "acl",
        "quar.",
        "failed",
        "embedded",
        "s",
    )
    for r in reports:
        table.add_row(
            r["source_id"],
            r["status"],
            *(
                str(r[k])
                for k in (
                    "added",
                    "updated",
                    "unchanged",
                    "deleted",
                    "acl_changed",
                    "quarantined",
                    "failed",
                    "chunks_embedded",
                    "duration_seconds",
                )
            ),
        )
    out.print(table)
    for r in reports:
        for f in r["failures"]:
            key, reason = shown(f["key"]), shown(f["reason"])
            out.print(f"  [yellow]{f['kind']}[/] {r['source_id']}:{key}: {reason}")
        if r["deletions_skipped"]:
            skipped = shown(r["deletions_skipped"])
            out.print(f"  [yellow]deletions skipped[/] {r['source_id']}: {skipped}")
        if r["error"]:
            out.print(f"  [red]error[/] {r['source_id']}: {shown(r['error'])}")


def jobs(
    source: Annotated[str | None, typer.Option("--source", "-s")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List recent ingest runs."""
    from api.bootstrap.components import Components
    from ingest.jobs import JobStore

    settings = command_settings(config)
    with Components(settings) as parts:
        store = JobStore(engine=parts.state_engine)
        store.abandon_stale()
        records = store.list(source_id=source, limit=limit)
    if as_json:
        print(json.dumps({"jobs": [r.as_dict() for r in records]}, indent=2))
        return
    table = Table("job", "source", "trigger", "status", "started", "finished", "summary")
    for r in records:
        summary = _job_summary(r.report) if r.report else (r.error or "")
        table.add_row(
            r.job_id[:8],
            r.source_id,
            r.trigger,
            r.status,
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.finished_at.strftime("%H:%M:%S") if r.finished_at else "-",
            shown(summary),
        )
    out.print(table)


def _job_summary(rep: dict[str, Any]) -> str:
    """`+added ~updated -deleted`, then whatever else the run changed or met: an access-only
    change is a change too."""
    parts = [f"+{rep.get('added', 0)} ~{rep.get('updated', 0)} -{rep.get('deleted', 0)}"]
    for key, label in (
        ("acl_changed", "access changed"),
        ("quarantined", "quarantined"),
        ("failed", "failed"),
    ):
        if rep.get(key):
            parts.append(f"{label} {rep[key]}")
    parts.append(f"embedded {rep.get('chunks_embedded', 0)}")
    return ", ".join(parts)


def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be removed; remove nothing.")
    ] = False,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove what the state database keeps for chunks no longer in the index.

    Cached embeddings, sentence vectors, injection-screen verdicts and PII findings are kept
    per chunk content and outlive edited or deleted documents; this deletes the rows no chunk
    in the index uses. It holds every source's lease, so it waits for no sync: exit 3 if one
    is running. With the embedded index, a running server owns it: pass --server, or let the
    server prune on ingest.prune_schedule.
    """
    if server is not None:
        report = _prune_via_server(server, api_key, dry_run=dry_run)
    else:
        report = _prune_here(command_settings(config), dry_run=dry_run)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    table = Table("table", "kept", verb)
    for name, count in report["tables"].items():
        table.add_row(name, str(count["kept"]), str(count["removed"]))
    out.print(table)
    out.print(
        f"{report['chunks']} chunks in the index; {report['removed']} rows {verb} "
        f"in {report['seconds']:.1f} s"
    )


def _prune_here(settings: Settings, *, dry_run: bool) -> dict[str, Any]:
    from api.bootstrap.components import Components
    from api.bootstrap.index import build_ingest
    from retrieval.store import StoreLockedError

    with translated_errors(), Components(settings) as parts:
        try:
            ctx = build_ingest(parts)
        except StoreLockedError as exc:
            fail(f"{exc}. To prune through the running server: proofdesk prune --server URL", 3)
        try:
            return ctx.pruner.prune(dry_run=dry_run).as_dict()
        finally:
            ctx.close()


def _prune_via_server(server: str, api_key: str | None, *, dry_run: bool) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=600) as client:
            response = client.post("/v1/state/prune", params={"dry_run": str(dry_run).lower()})
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        fail(
            f"server refused the prune ({response.status_code}): {response.text}",
            EXIT_BUSY if response.status_code == 409 else EXIT_FAILED,
        )
    report: dict[str, Any] = response.json()
    return report
