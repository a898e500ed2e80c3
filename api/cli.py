"""The `proofdesk` command line. Library errors are translated into messages only here."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api import audit_cli
from api.cli_console import CountColumn, console

if TYPE_CHECKING:  # start-up imports only what --help needs; each command imports the rest
    from agent.audit.store import AuditStore
    from api.answer_store import SqlAnswerStore
    from api.settings import Settings
    from ingest.jobs import JobStore

app = typer.Typer(
    name="proofdesk",
    help="Proofdesk: answers from approved, permission-checked sources, with cited evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3


# C0/C1 controls and the bidirectional overrides: a file name holding them could recolour the
# terminal, forge report lines or reverse what follows.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(text: object) -> str:
    """`text` for the terminal: control characters as escapes (`\\x1b`, `\\n`), Rich markup
    inert. For what comes from outside (file names, parser errors)."""
    return escape(
        _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), str(text))
    )


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")  # "[x]" in a message is no markup
    raise typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    """The settings, and the command's logging: masked, on stderr (see api.logging_setup)."""
    from api.logging_setup import configure_logging, masking_guard
    from api.settings import ConfigFileError, load_settings

    try:
        settings = load_settings(config)
    except ConfigFileError as exc:
        _fail(str(exc))
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        _fail(f"invalid settings: {exc}")
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
def _translated_errors() -> Iterator[None]:
    """Domain errors → one clear line and an exit code; nothing else is caught."""
    from sqlalchemy.exc import SQLAlchemyError

    from ingest.jobs import SourceBusyError
    from ingest.sources import SourcesFileError, UnknownSourceError
    from retrieval.embedding.onnx_backend import OnnxExportError
    from retrieval.reading import ReaderModelError
    from retrieval.store import StoreError, StoreLockedError

    try:
        yield
    except (SourcesFileError, UnknownSourceError, OnnxExportError, ReaderModelError) as exc:
        _fail(str(exc))
    except StoreLockedError as exc:
        _fail(str(exc), EXIT_BUSY)
    except SourceBusyError as exc:
        _fail(str(exc), EXIT_BUSY)
    except StoreError as exc:
        _fail(f"vector store: {exc}", EXIT_FAILED)
    except SQLAlchemyError as exc:  # the state, job or audit database (unreachable, refused)
        _fail(f"database: {type(exc).__name__}: {exc.__cause__ or exc}", EXIT_FAILED)


@app.command()
def sources(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the approved sources."""
    from api.wiring import build_registry

    settings = _settings(config)
    with _translated_errors():
        registry = build_registry(settings)
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


@app.command()
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
    from api.wiring import build_ingest, build_registry
    from retrieval.store import StoreLockedError

    settings = _settings(config)
    with _translated_errors():
        registry = build_registry(settings)
        ids = source or [s.id for s in registry.enabled()]
        for sid in ids:
            registry.get(sid)
        if server is not None:
            if allow_mass_delete:
                _fail("--allow-mass-delete is not available through the server")
            reports = _ingest_via_server(server, api_key, ids)
            _finish_ingest(reports, as_json=as_json)
            return
        try:
            ctx = build_ingest(settings, registry=registry)
        except StoreLockedError as exc:
            _fail(f"{exc}. To sync through the running server: proofdesk ingest --server URL", 3)
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
                    _fail(
                        f"server refused the sync of {sid} ({started.status_code}): {started.text}",
                        EXIT_BUSY if started.status_code == 409 else 1,
                    )
                job = started.json()
                while job["status"] == "running":
                    time.sleep(poll_seconds)
                    job = client.get(f"/v1/jobs/{job['job_id']}").json()
            except httpx.HTTPError as exc:
                _fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
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
            key, reason = _shown(f["key"]), _shown(f["reason"])
            out.print(f"  [yellow]{f['kind']}[/] {r['source_id']}:{key}: {reason}")
        if r["deletions_skipped"]:
            skipped = _shown(r["deletions_skipped"])
            out.print(f"  [yellow]deletions skipped[/] {r['source_id']}: {skipped}")
        if r["error"]:
            out.print(f"  [red]error[/] {r['source_id']}: {_shown(r['error'])}")


@app.command()
def migrate(
    check: Annotated[
        bool, typer.Option("--check", help="only report; exit 1 when a database is behind")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring the state and audit databases to this version's schema (Alembic; the server and
    every command also do it when they open a database)."""
    from sqlalchemy import create_engine

    from agent.audit.migrations import audit_head_revision, audit_revision, upgrade_audit_db
    from infra.state_migrations import state_head_revision, state_revision, upgrade_state_db
    from ingest.state import create_state_engine

    settings = _settings(config)
    state_engine = create_state_engine(settings.ingest.state_url)
    if settings.audit.url.startswith("sqlite:///"):  # as the audit store does: a new file
        Path(settings.audit.url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    audit_engine = create_engine(settings.audit.url)
    try:
        with _translated_errors():
            before = {
                "state": state_revision(state_engine),
                "audit": audit_revision(audit_engine, schema=settings.audit.db_schema),
            }
            head = {"state": state_head_revision(), "audit": audit_head_revision()}
            if not check:
                upgrade_state_db(state_engine)
                upgrade_audit_db(settings.audit.url, schema=settings.audit.db_schema)
            after = {
                "state": state_revision(state_engine),
                "audit": audit_revision(audit_engine, schema=settings.audit.db_schema),
            }
    finally:
        state_engine.dispose()
        audit_engine.dispose()
    behind = [name for name in head if after[name] != head[name]]
    if as_json:
        print(
            json.dumps(
                {
                    "databases": {
                        name: {"before": before[name], "now": after[name], "head": head[name]}
                        for name in head
                    },
                    "behind": behind,
                },
                indent=2,
            )
        )
    else:
        for name, newest in head.items():
            moved = "" if before[name] == after[name] else f" (was {before[name] or 'empty'})"
            state = "up to date" if after[name] == newest else f"behind {newest}"
            out.print(f"{name}: {after[name] or 'empty'}{moved}, {state}")
    if behind:
        raise typer.Exit(1)


@app.command()
def jobs(
    source: Annotated[str | None, typer.Option("--source", "-s")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List recent ingest runs."""
    from ingest.jobs import JobStore
    from ingest.state import create_state_engine

    settings = _settings(config)
    store = JobStore(engine=create_state_engine(settings.ingest.state_url))
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
            _shown(summary),
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


@app.command()
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
        report = _prune_here(_settings(config), dry_run=dry_run)
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
    from api.wiring import build_ingest
    from retrieval.store import StoreLockedError

    with _translated_errors():
        try:
            ctx = build_ingest(settings)
        except StoreLockedError as exc:
            _fail(f"{exc}. To prune through the running server: proofdesk prune --server URL", 3)
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
        _fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        _fail(
            f"server refused the prune ({response.status_code}): {response.text}",
            EXIT_BUSY if response.status_code == 409 else EXIT_FAILED,
        )
    report: dict[str, Any] = response.json()
    return report


@app.command()
def retention(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days (default: audit.retention_days)."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete recorded answers older than the retention period.

    The audit record (answers, citations, feedback, citation reviews) and the API's answer
    store alike; the scheduler also runs this on audit.retention_schedule.
    """
    from api.retention import run_retention

    settings = _settings(config)
    keep = days or settings.audit.retention_days
    with _translated_errors(), _retention_stores(settings) as (audit, answers, jobs):
        report = run_retention(keep, audit=audit, answers=answers, jobs=jobs)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return
    done = report.audit
    deleted = (
        f"{done.answers} audit answers ({done.citations} citations, {done.feedback} "
        f"feedback entries, {done.reviews} review rows) from before {done.cutoff:%Y-%m-%d %H:%M}"
        if done is not None
        else "no audit record"
    )
    out.print(
        f"retention {keep} days: deleted {deleted}; {report.api_answers} API answers and "
        f"{report.api_feedback} API feedback entries"
    )


@contextmanager
def _retention_stores(
    settings: Settings,
) -> Iterator[tuple[AuditStore, SqlAnswerStore, JobStore]]:
    """The audit store and the API's answer store, opened to delete (nothing is masked: a
    patterns-only guard saves loading spaCy), and the job store holding the task's lease."""
    from agent.audit.store import AuditStore
    from api.answer_store import SqlAnswerStore
    from ingest.jobs import JobStore
    from ingest.state import create_state_engine
    from policies.pii.guard import PiiGuard
    from policies.pii.redaction import PresidioRedactor

    redactor = PresidioRedactor(
        settings=settings.redaction.model_copy(
            update={"engine": "patterns", "analysis_processes": 0}
        )
    )
    audit = AuditStore.from_settings(settings.audit, guard=PiiGuard(redactor=redactor))
    engine = create_state_engine(settings.ingest.state_url)
    try:
        jobs = JobStore(engine=engine, lease_seconds=settings.ingest.lease_seconds)
        yield audit, SqlAnswerStore(engine=engine), jobs
    finally:
        audit.close()
        engine.dispose()
        redactor.close()


@app.command()
def scheduler(
    once: Annotated[bool, typer.Option(help="Run what is due now, then exit.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run every source on its cron schedule, the state prune on ingest.prune_schedule and the
    retention job on audit.retention_schedule (this process owns the index while it runs).

    With --once: run what is due now (and every source never run before), say what ran or that
    nothing was due, and exit; for a system cron job or CI.
    """
    from api.wiring import build_ingest, maintenance_tasks, retention_tasks
    from ingest.scheduler import Scheduler

    settings = _settings(config)
    with _translated_errors():
        ctx = build_ingest(settings)
    try:
        with _retention_stores(settings) as (audit, answers, jobs):
            sched = Scheduler(
                registry=ctx.runner.service.registry,
                run_source=lambda sid: ctx.runner.run(sid, trigger="schedule"),
                last_run=ctx.runner.jobs.last_started,
                tasks=[
                    *maintenance_tasks(settings, ctx),
                    *retention_tasks(settings, audit=audit, answers=answers, jobs=jobs),
                ],
            )
            for name, when in sorted(sched.next_runs().items()):
                err.print(f"{name}: next run {when.isoformat()}")
            if once:
                ran = sched.tick()
                if ran:
                    err.print(f"ran: {', '.join(ran)}")
                else:
                    upcoming = min(sched.next_runs().items(), key=lambda kv: kv[1], default=None)
                    after = (
                        f"; next: {upcoming[0]} at {upcoming[1].isoformat()}" if upcoming else ""
                    )
                    err.print(f"nothing is due now{after}")
                return
            stop = threading.Event()
            try:
                sched.run_until(stop)
            except KeyboardInterrupt:
                stop.set()
    finally:
        ctx.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the HTTP API. This process owns the index and runs the scheduler."""
    import uvicorn

    from api.api_settings import InsecureSettingsError
    from api.app import create_app
    from api.auth import ApiKeysFileError
    from api.logging_setup import configure_logging, masking_guard
    from api.services import build_services, default_chat_factory
    from policies.access.engine import PolicyLoadError

    settings = _settings(config)
    # Log records wait for the services' redactor (spaCy loads once), or for a guard of their
    # own when the services cannot be built.
    masking = configure_logging(level=settings.log_level, settings=settings.logging, guard=None)
    try:
        with _translated_errors():
            services = build_services(settings, settings.api, chat_factory=default_chat_factory)
    except BaseException as exc:
        masking.use(masking_guard(settings.redaction))
        if isinstance(exc, InsecureSettingsError | ApiKeysFileError | PolicyLoadError):
            _fail(str(exc))
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


UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="User id to act as (omit: anonymous).")
]
GroupsOption = Annotated[
    str | None,
    typer.Option("--groups", "-g", help="Comma-separated groups from the identity provider."),
]


def _groups(raw: str | None) -> list[str]:
    return [g.strip() for g in (raw or "").split(",") if g.strip()]


UserServerOption = Annotated[
    str | None,
    typer.Option(
        envvar="PROOFDESK_SERVER",
        help="Base URL of a running `proofdesk serve`: go through its API (it owns the index). "
        "--user needs a key with the act_as scope.",
    ),
]
UserKeyOption = Annotated[
    str | None, typer.Option(envvar="PROOFDESK_API_KEY", help="API key for --server.")
]


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    user: UserOption = None,
    groups: GroupsOption = None,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", min=1, max=100)] = None,
    mode: Annotated[str | None, typer.Option(help="hybrid | dense | sparse")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", "-s")] = None,
    doc_type: Annotated[list[str] | None, typer.Option("--type", "-t")] = None,
    server: UserServerOption = None,
    api_key: UserKeyOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what a user would retrieve, with scores and why each hit was allowed.

    With the embedded index, a running server owns it: pass --server to search through it.
    """
    if mode is not None and mode not in ("hybrid", "dense", "sparse"):
        _fail(f"unknown mode {mode!r}: use hybrid, dense or sparse")
    if server is not None:
        _check_types(doc_type or [])  # the server refuses an unknown source with the list
        body: dict[str, Any] = {"query": query}
        for name, value in (("top_k", top_k), ("mode", mode), ("source", source),
                            ("type", doc_type)):  # fmt: skip
            if value:
                body[name] = value
        found = _search_via_server(server, api_key, body, user, _groups(groups))
        hits: list[dict[str, Any]] = found["passages"]
        policy_version, holds = str(found["policy_version"]), None
    else:
        settings = _settings(config)
        _check_filters(settings, source or [], doc_type or [])
        result = _search_locally(settings, query, user, groups, top_k, mode, source, doc_type)
        hits = [
            {
                "rank": c.rank,
                "score": round(c.hit.score, 6),
                "document_id": c.hit.chunk.document_id,
                "title": c.hit.chunk.title,
                "heading_path": list(c.hit.chunk.heading_path),
                "uri": c.hit.chunk.uri,
                "chunk_id": c.hit.chunk.chunk_id,
                "allowed_by": list(c.allowed_by),
                "text": c.hit.chunk.text,
            }
            for c in result.chunks
        ]
        policy_version, holds = result.policy_version, sorted(result.access.holds)
    if as_json:
        doc: dict[str, Any] = {"query": query, "user": user}
        if holds is not None:
            doc["holds"] = holds
        print(json.dumps({**doc, "policy_version": policy_version, "hits": hits}, indent=2))
        return
    held = f"holds {', '.join(holds)}; " if holds is not None else f"through {server}; "
    out.print(
        f"[bold]{len(hits)} hits[/] for {user or 'anonymous'} ({held}policy {policy_version})"
    )
    for h in hits:
        where = " › ".join([h["title"], *h["heading_path"]])
        out.print(f"[bold]{h['rank']:>2}.[/] {h['score']:.4f}  {where}  [dim]{h['document_id']}[/]")
        out.print(f"     allowed by {', '.join(h['allowed_by'])}")
        snippet = " ".join(h["text"].split())
        out.print(f"     [dim]{snippet[:200]}{'…' if len(snippet) > 200 else ''}[/]")


def _search_locally(
    settings: Settings,
    query: str,
    user: str | None,
    groups: str | None,
    top_k: int | None,
    mode: str | None,
    source: list[str] | None,
    doc_type: list[str] | None,
) -> Any:
    """Retrieval over the local index (a `RetrievalResult`), closed afterwards."""
    from api.wiring import build_embedder, build_policy, build_retrieval
    from policies.access.principal import InvalidPrincipalError
    from retrieval.records import SearchFilters
    from retrieval.service import RetrievalRequest
    from retrieval.store import StoreLockedError
    from retrieval.store_factory import open_store

    with _translated_errors():
        policy = build_policy(settings)
        try:
            principal = policy.principal_for(user, _groups(groups))
        except InvalidPrincipalError as exc:
            _fail(str(exc))
        embedder = build_embedder(settings)
        try:
            store = open_store(settings.store, dimension=embedder.dimension)
        except StoreLockedError as exc:
            _fail(f"{exc}. To search through the running server: proofdesk search --server URL", 3)
        try:
            retrieval = build_retrieval(settings, store=store, embedder=embedder, policy=policy)
            filters = SearchFilters(
                source_ids=frozenset(source) if source else None,
                doc_types=frozenset(doc_type) if doc_type else None,
            )
            return retrieval.retrieve(
                RetrievalRequest(
                    query=query,
                    principal=principal,
                    top_k=top_k,
                    mode=mode,  # type: ignore[arg-type]
                    filters=filters,
                )
            )
        finally:
            store.close()


def _search_via_server(
    server: str, api_key: str | None, body: dict[str, Any], user: str | None, groups: list[str]
) -> dict[str, Any]:
    """POST /v1/search on a running server; the key's own user, or --user through `act_as`."""
    import httpx

    if not api_key:
        _fail("--server needs an API key (--api-key or PROOFDESK_API_KEY)")
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/v1/search",
            json=body,
            headers=_server_headers(api_key, user, groups),
            timeout=120,
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        _fail(
            f"server refused the search ({response.status_code}): {_error_message(response)}",
            EXIT_FAILED,
        )
    found: dict[str, Any] = response.json()
    return found


def _server_headers(api_key: str, user: str | None, groups: list[str]) -> dict[str, str]:
    """Bearer auth, and with --user the end user an `act_as` key acts for."""
    headers = {"Authorization": f"Bearer {api_key}"}
    if user:
        headers["X-Proofdesk-User"] = user
        if groups:
            headers["X-Proofdesk-Groups"] = ",".join(groups)
    return headers


def _check_types(doc_types: list[str]) -> None:
    """Unknown --type values are refused (a filter on them would match nothing)."""
    from typing import get_args

    from ingest.documents import DocType

    known_types = get_args(DocType)
    if bad := [t for t in doc_types if t not in known_types]:
        _fail(f"unknown --type {', '.join(bad)}: the types are {', '.join(known_types)}")


def _check_filters(settings: Settings, sources: list[str], doc_types: list[str]) -> None:
    """Unknown --source or --type values are refused (a filter on them would match nothing)."""
    from ingest.sources import load_sources

    _check_types(doc_types)
    if not sources:
        return
    with _translated_errors():
        declared = load_sources(settings.ingest.sources_file).ids()
    if bad := [s for s in sources if s not in declared]:
        _fail(f"unknown --source {', '.join(bad)}: the sources are {', '.join(declared)}")


@contextmanager
def _answering(settings: Settings) -> Iterator[tuple[Any, Any]]:
    """(policy engine, answer service) over the local index, closed afterwards."""
    from api.wiring import (
        build_answer_service,
        build_embedder,
        build_policy,
        build_retrieval,
    )
    from ingest.state import StateStore, create_state_engine
    from retrieval.store_factory import open_store

    policy = build_policy(settings)
    embedder = build_embedder(settings)
    store = open_store(settings.store, dimension=embedder.dimension)
    state = StateStore(engine=create_state_engine(settings.ingest.state_url))
    service = None
    try:
        retrieval = build_retrieval(settings, store=store, embedder=embedder, policy=policy)
        service = build_answer_service(
            settings,
            retrieval=retrieval,
            policy=policy,
            embedder=embedder,
            index_version=state.index_version,
        )
        yield policy, service
    finally:
        if service is not None:
            service.close()
        store.close()
        policy.close()


def _print_answer(doc: dict[str, Any], *, who: str) -> None:
    colour = {"answered": "green", "escalated": "yellow"}.get(str(doc["status"]), "red")
    out.print(f"[bold]{who}[/] → [{colour}]{doc['status']}[/]")
    out.print(str(doc["answer"]))
    for c in doc["citations"]:
        out.print(
            f"  [dim][{c['marker']}] {c['title']} — {c['uri']} (support {c['support']:.2f})[/]"
        )
    if doc.get("handoff_summary"):
        out.print(f"  [yellow]hand-off:[/] {doc['handoff_summary']}")


def _check_question(settings: Settings, question: str, conversation: str | None) -> None:
    """Refuse an empty or too long question before any model is loaded (the pipeline checks
    again, with the same screen)."""
    from agent.screening import InvalidQuestionError, QuestionScreen, check_conversation_id

    screen = QuestionScreen(
        max_chars=settings.agent.max_question_chars,
        escalation_phrases=settings.agent.escalation_phrases,
    )
    try:
        screen.screen(question)
        if conversation is not None:
            check_conversation_id(conversation)
    except InvalidQuestionError as exc:
        _fail(str(exc))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    user: UserOption = None,
    groups: GroupsOption = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Conversation id, for follow-ups.")
    ] = None,
    server: UserServerOption = None,
    api_key: UserKeyOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question as a user: cited sentences, or a refusal (same JSON as the API).

    With the embedded index, a running server owns it: pass --server to ask through it.
    """
    from agent.screening import InvalidQuestionError
    from agent.serialize import answer_to_dict
    from policies.access.principal import InvalidPrincipalError
    from retrieval.store import StoreLockedError

    settings = _settings(config)
    _check_question(settings, question, conversation)
    if server is not None:
        doc = _ask_via_server(server, api_key, question, user, _groups(groups), conversation)
    else:
        with _translated_errors():
            try:
                with _answering(settings) as (policy, service):
                    try:
                        principal = policy.principal_for(user, _groups(groups))
                        answer = service.answer(
                            question, principal=principal, conversation_id=conversation
                        )
                    except (InvalidPrincipalError, InvalidQuestionError) as exc:
                        _fail(str(exc))
            except StoreLockedError as exc:
                _fail(f"{exc}. To ask through the running server: proofdesk ask --server URL", 3)
        doc = answer_to_dict(answer)
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        _print_answer(doc, who=user or "anonymous")


def _ask_via_server(
    server: str,
    api_key: str | None,
    question: str,
    user: str | None,
    groups: list[str],
    conversation: str | None,
) -> dict[str, Any]:
    """POST /v1/chat on a running server; the key's own user, or --user through `act_as`."""
    import httpx

    if not api_key:
        _fail("--server needs an API key (--api-key or PROOFDESK_API_KEY)")
    headers = _server_headers(api_key, user, groups)
    body: dict[str, str] = {"question": question}
    if conversation:
        body["conversation_id"] = conversation
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/v1/chat", json=body, headers=headers, timeout=120
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        _fail(
            f"server refused the question ({response.status_code}): {_error_message(response)}",
            EXIT_FAILED,
        )
    doc: dict[str, Any] = response.json()
    return doc


def _error_message(response: Any) -> str:
    """The API's `{"error": {"message"}}`, or the start of the body."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(response.text[:200])


DEMO_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("bob", "How do I reset my password?"),
    ("bob", "How many days of annual leave do I get?"),
    ("bob", "What are the salary bands for 2026?"),
    ("frank", "What are the salary bands for 2026?"),
    ("judy", "What is the per diem for a trip to London?"),
    ("alice", "My VPN keeps disconnecting, I want to talk to a human."),
)


@app.command()
def demo(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Ask the sample knowledge base a few questions as different personas."""
    from agent.serialize import answer_to_dict

    settings = _settings(config)
    results = []
    with _translated_errors(), _answering(settings) as (policy, service):
        for user, question in DEMO_QUESTIONS:
            answer = service.answer(question, principal=policy.principal_for(user))
            results.append({"user": user, "question": question, **answer_to_dict(answer)})
    if as_json:
        print(json.dumps({"answers": results}, indent=2))
        return
    for doc in results:
        title = f"{doc['user']}: {doc['question']}"
        if out.is_terminal:
            out.rule(title)
        else:
            out.print(f"\n== {title}")
        _print_answer(doc, who=str(doc["user"]))


@app.command("api-key")
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
        _fail(f"scopes must be among {', '.join(sorted(known))}")
    key = generate_api_key()
    entry: dict[str, Any] = {"id": key_id, "hash": hash_api_key(key), "scopes": wanted}
    if user:
        entry["user_id"] = user
    if groups:
        entry["groups"] = _groups(groups)
    if write is not None:
        try:
            append_key_entry(write, entry)
        except ApiKeysFileError as exc:
            _fail(str(exc))
        err.print(f"[bold]API key[/] {key_id!r} added to {write} (the key is shown once):")
        print(key)
        return
    err.print("[bold]API key[/] (shown once; store it in the calling tool):")
    print(key)
    err.print("Add this entry under `keys:` in the file named by api.api_keys_file:")
    err.print(yaml.safe_dump([entry], sort_keys=False).rstrip())


policy_app = typer.Typer(help="Inspect and reload the access policy.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("show")
def policy_show(
    user: UserOption = None,
    groups: GroupsOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate the policy and print its version (and what a user holds, with --user)."""
    from api.wiring import build_policy
    from policies.access.engine import PolicyError

    settings = _settings(config)
    try:
        engine = build_policy(settings)
    except PolicyError as exc:
        _fail(f"policy: {exc}", EXIT_FAILED)
    status = engine.status
    doc: dict[str, Any] = {"version": status.version, "rules": status.rules}
    if user is not None or groups:
        access = engine.access_filter(engine.principal_for(user, _groups(groups)))
        doc["holds"] = sorted(access.holds)
        doc["denied_sources"] = sorted(access.denied_sources)
    engine.close()
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        for key, value in doc.items():
            out.print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


@policy_app.command("reload")
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
        _fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        _fail(
            f"server refused the reload ({response.status_code}): {_reason(response)}", EXIT_FAILED
        )
    body = response.json()
    what = "loaded" if body.get("changed") else "unchanged"
    out.print(f"server policy {what}: version {body.get('version')}, {body.get('rules')} rules")


def _check_policy(config: Path | None) -> None:
    from api.wiring import build_policy
    from policies.access.engine import PolicyError

    settings = _settings(config)
    try:
        engine = build_policy(settings)
    except PolicyError as exc:
        _fail(f"policy is invalid: {exc}", EXIT_FAILED)
    out.print(f"policy on disk is valid: version {engine.version}, {engine.status.rules} rules")
    engine.close()


def _reason(response: Any) -> str:
    """The message of an API error body, else the raw text."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(response.text)


app.add_typer(audit_cli.app, name="audit")

PLUGIN_GROUP = "proofdesk.commands"


def add_plugin_commands() -> None:
    """Command groups registered under the `proofdesk.commands` entry-point group become
    subcommands. This is how `proofdesk eval` arrives: `evals` sits above `api` in the layering,
    so the CLI finds it by entry point (declared in pyproject.toml) rather than importing it."""
    from importlib.metadata import entry_points

    known = {group.name for group in app.registered_groups}
    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name in known:
            continue
        command = entry.load()
        if not isinstance(command, typer.Typer):
            _fail(f"entry point {entry.name} = {entry.value} is not a Typer app", EXIT_USAGE)
        app.add_typer(command, name=entry.name)
        known.add(entry.name)


def main() -> None:
    add_plugin_commands()
    app()


if __name__ == "__main__":
    main()
