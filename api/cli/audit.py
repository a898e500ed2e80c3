"""`proofdesk audit queue|pick|show|review|report`: citation audit reviews from a terminal.

Two ways to reach the reviews, one set of commands:

- **direct** (default): a `ReviewService` over the audit database and the index named by the
  settings, reviewing as the user given with `--as` (the policy must make them an auditor).
  Whoever can run this can read the database anyway; the policy still decides what each
  citation shows. With the embedded index a running server holds the index, so `show` and
  `review` then say so and point to `--server` (`queue`, `pick` and `report` never open it).
- **through a server** (`--server URL`, key in `PROOFDESK_API_KEY`): the `/v1/audit` API with an
  API key holding the `audit` scope (a key with `act_as` may name the auditor with `--as`).

Both print the same shapes: the API's response models, as tables or with `--json`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from rich.markup import escape
from rich.table import Column, Table
from typer.core import TyperGroup

from agent.review.report import ANSWER_VERDICTS, CITATION_VERDICTS
from agent.review.types import InvalidReviewError, NotAnAuditorError
from api.audit_schemas import ReportResponse, ReviewRequest
from api.cli.audit_backends import AuditCliError, Backend, CliDeps, State, open_backend
from api.cli.common import EXIT_BUSY, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE
from api.cli.console import console
from policies.access.engine import PolicyError
from retrieval.store import StoreError, StoreLockedError

__all__ = ["CliDeps", "app"]

VERDICT_KEYS = {str(i): v for i, v in enumerate(CITATION_VERDICTS, 1)} | {
    "s": "supports",
    "p": "partially_supports",
    "n": "does_not_support",
    "i": "irrelevant",
}
out = console()
err = console(stderr=True)

_SHARED_OPTIONS = frozenset({"--server", "--api-key", "--as", "--groups", "--config", "-c"})


class _SharedOptionsGroup(TyperGroup):
    """Takes the group's options (--as, --server, ...) after the subcommand too, as in
    `proofdesk audit queue --as oscar`: they are moved in front of it before parsing."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored click.Context
        return super().parse_args(ctx, _hoist_shared_options(args, set(self.commands)))


def _hoist_shared_options(args: list[str], commands: set[str]) -> list[str]:
    i = 0
    while i < len(args) and args[i] not in commands:
        i += 2 if args[i] in _SHARED_OPTIONS else 1  # skip an option's value
    if i >= len(args):
        return args
    head, tail, moved = args[: i + 1], [], []
    rest = iter(args[i + 1 :])
    for arg in rest:
        if arg == "--":
            tail += [arg, *rest]
        elif arg.split("=", 1)[0] in _SHARED_OPTIONS:
            moved.append(arg)
            if "=" not in arg:
                moved.extend(list(itertools.islice(rest, 1)))
        else:
            tail.append(arg)
    return [*head[:-1], *moved, head[-1], *tail]


app = typer.Typer(
    name="audit",
    cls=_SharedOptionsGroup,
    help="Review whether answers' citations support them (auditors).",
    no_args_is_help=True,
)


@app.callback()
def _main(
    ctx: typer.Context,
    server: Annotated[
        str | None, typer.Option(envvar="PROOFDESK_SERVER", help="Base URL of a running server.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="PROOFDESK_API_KEY", help="API key (with --server).")
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--as", envvar="PROOFDESK_AUDITOR", help="The auditor's user id."),
    ] = None,
    groups: Annotated[
        str | None, typer.Option(help="Comma-separated identity-provider groups of --as.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML settings file (direct mode).")
    ] = None,
) -> None:
    from api.logging_setup import LoggingSettings, configure_logging, masking_guard
    from policies.pii.settings import RedactionSettings

    # Masked logs from the start, warnings only as before (direct mode configures them again
    # with the settings' format and redaction).
    configure_logging(
        level="WARNING",
        settings=LoggingSettings(),
        guard=lambda: masking_guard(RedactionSettings()),
    )
    deps = ctx.obj if isinstance(ctx.obj, CliDeps) else CliDeps()
    names = [g.strip() for g in (groups or "").split(",") if g.strip()]
    state = State(deps, server, api_key, user, names, config)
    ctx.obj = state
    ctx.call_on_close(lambda: [close() for close in reversed(state.closers)])


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def _backend(ctx: typer.Context) -> Iterator[Backend]:
    """The backend for this invocation, with domain errors turned into messages."""
    from sqlalchemy.exc import SQLAlchemyError

    from agent.audit.store import UnknownAnswerError

    state: State = ctx.obj
    try:
        yield open_backend(state)
    except AuditCliError as exc:
        _fail(str(exc), exc.code)
    except NotAnAuditorError as exc:
        _fail(f"{exc} (check --as)", EXIT_FAILED)
    except UnknownAnswerError as exc:
        _fail(str(exc), EXIT_NOT_FOUND)
    except InvalidReviewError as exc:
        _fail(f"review not recorded: {exc}", EXIT_USAGE)
    except StoreLockedError as exc:
        _fail(f"{exc}; or run this through the server with --server", EXIT_BUSY)
    except StoreError as exc:
        _fail(f"vector store: {exc}", EXIT_FAILED)
    except PolicyError as exc:
        _fail(f"policy: {exc}", EXIT_FAILED)
    except SQLAlchemyError as exc:
        _fail(f"audit database: {type(exc).__name__}: {exc.__cause__ or exc}", EXIT_FAILED)


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
AnswerArg = Annotated[str, typer.Argument(help="The answer id.")]


def _print_json(model: BaseModel | dict[str, Any]) -> None:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    print(json.dumps(data, indent=2, ensure_ascii=False))


@app.command()
def queue(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonOption = False,
) -> None:
    """What to review next: picked, rated down, weakly supported, sampled answers."""
    with _backend(ctx) as backend:
        found = backend.queue(limit)
    if as_json:
        _print_json(found)
        return
    if not found.items:
        out.print("Nothing to review.")
        return
    answer = Column("answer", no_wrap=True)
    table = Table(answer, "why", "cites", "weakest", "reviews", "given", "question")
    for i in found.items:
        weakest = f"{i.min_support:.2f}" if i.min_support is not None else "-"
        table.add_row(
            i.answer_id,
            ", ".join(i.reasons),
            str(i.citation_count),
            weakest,
            f"{i.reviewers}/{i.wanted_reviewers}",
            i.created_at.strftime("%Y-%m-%d %H:%M"),
            escape(i.question[:80]),
        )
    out.print(table)


@app.command()
def pick(ctx: typer.Context, answer_id: AnswerArg) -> None:
    """Put an answer in the review queue."""
    with _backend(ctx) as backend:
        picked = backend.pick(answer_id)
    out.print(f"picked {picked.answer_id} at {picked.picked_at.isoformat()}")


@app.command()
def show(ctx: typer.Context, answer_id: AnswerArg, as_json: JsonOption = False) -> None:
    """An answer to review: masked question and answer, each cited span in its context."""
    with _backend(ctx) as backend:
        item = backend.item(answer_id)
    if as_json:
        _print_json(item)
        return
    out.print(f"[bold]answer {item.answer_id}[/] · {item.status} · {escape(item.composer)}")
    out.print(f"[bold]Q:[/] {escape(item.question)}")
    out.print(f"[bold]A:[/] {escape(item.answer)}")
    if item.all_restricted:
        out.print(
            "[yellow]every citation is restricted for you:[/] nothing to judge; "
            f"proofdesk audit skip {item.answer_id} --reason TEXT passes it on"
        )
    for c in item.citations:
        head = f"\n[bold][{c.marker}][/] {c.source_id} · support {c.support:.2f}"
        state = "" if c.state == "current" else f" · [yellow]document {c.state}[/]"
        if c.restricted:
            out.print(f"{head} · [red]restricted[/]{state}")
            continue
        out.print(f"{head} · {escape(c.title)} <{escape(c.uri)}>{state}")
        quote = f"[reverse]{escape(c.quote)}[/reverse]"
        out.print(f"  {escape(c.before or '')}{quote}{escape(c.after or '')}")
    if item.mine is not None:
        out.print(
            f"\nyour latest review: {item.mine.answer_verdict}, {item.mine.created_at:%Y-%m-%d}"
        )


@app.command()
def review(
    ctx: typer.Context,
    answer_id: AnswerArg,
    answer: Annotated[str, typer.Option("--answer", help=" | ".join(ANSWER_VERDICTS))],
    every: Annotated[
        str | None,
        typer.Option("--all", help="One verdict for every citation you may read (e.g. supports)."),
    ] = None,
    verdict: Annotated[
        list[str] | None,
        typer.Option(
            "--verdict",
            "-v",
            help="MARKER=VERDICT, repeatable; VERDICT is a name, 1-4 or s/p/n/i (as on the page).",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note (masked before it is stored).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a review: a verdict per citation, an answer verdict, an optional note."""
    verdicts: dict[int, str] = {}
    with _backend(ctx) as backend:
        if every is not None:
            markers = backend.item(answer_id).reviewable_markers
            verdicts = dict.fromkeys(markers, _verdict(every))
        for given in verdict or []:
            marker, _, value = given.partition("=")
            if not marker.strip().isdigit() or not value:
                _fail(f"--verdict takes MARKER=VERDICT, not {given!r}")
            verdicts[int(marker)] = _verdict(value)
        try:
            request = ReviewRequest.model_validate(
                {"citation_verdicts": verdicts, "answer_verdict": answer, "note": note}
            )
        except ValidationError as exc:
            _fail(f"invalid review: {exc.errors()[0]['msg']}")
        stored = backend.review(answer_id, request)
    if as_json:
        _print_json(stored)
        return
    out.print(f"review {stored.review_id} of {stored.answer_id} recorded: {stored.answer_verdict}")


@app.command()
def skip(
    ctx: typer.Context,
    answer_id: AnswerArg,
    reason: Annotated[str, typer.Option(help="Why (masked before it is stored).")],
) -> None:
    """Pass an answer on with a reason, e.g. when every citation is restricted for you: it
    leaves your queue and goes to an auditor who may read it."""
    with _backend(ctx) as backend:
        skipped = backend.skip(answer_id, reason)
    out.print(f"skipped {skipped.answer_id}: {escape(skipped.reason)}")


def _verdict(value: str) -> str:
    value = value.strip()
    return VERDICT_KEYS.get(value, value)


@app.command()
def report(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option(help="Answers given from (YYYY-MM-DD, UTC).")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Answers given before.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="table | json | csv")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Citation precision by source, week, model and prompt; agreement; worst sources."""
    if output_format not in ("table", "json", "csv"):
        _fail("--format is table, json or csv")
    start, end = _utc(since), _utc(until)
    with _backend(ctx) as backend:
        if output_format == "csv":
            text = backend.report_csv(start, end)
        else:
            built = backend.report(start, end)
            text = json.dumps(built.model_dump(mode="json"), indent=2) + "\n"
    if output is not None:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    elif output_format != "table":
        print(text, end="")
    else:
        _print_report(built)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _print_report(built: ReportResponse) -> None:
    o, a = built.overall, built.agreement
    pct = _pct
    out.print(
        f"[bold]citation precision {pct(o.precision)}[/] (strict {pct(o.strict_precision)}) · "
        f"{built.reviews} reviews · {o.citations} citations · {built.reviewers} reviewers"
    )
    kappa = f"{a.citation_kappa:.2f}" if a.citation_kappa is not None else "-"
    out.print(f"agreement: {pct(a.citation_percent)} over {a.citation_pairs} pairs, kappa {kappa}")
    for title, rows in (
        ("worst sources", built.worst_sources),
        ("by source", built.by_source),
        ("by week", built.by_week),
        ("by model | prompt", built.by_model_prompt),
    ):
        table = Table(title, "precision", "strict", "citations", "s", "p", "n", "i", title=title)
        for r in rows:
            table.add_row(
                escape(r.key),
                pct(r.precision),
                pct(r.strict_precision),
                str(r.citations),
                str(r.supports),
                str(r.partially_supports),
                str(r.does_not_support),
                str(r.irrelevant),
            )
        out.print(table)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
