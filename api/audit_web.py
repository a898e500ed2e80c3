"""`/audit`: the citation audit as a small server-rendered page for auditors.

Jinja2 templates (`api/templates/audit/`), plain HTML forms that work without JavaScript,
and a few lines of vanilla JavaScript inlined in the page (no build, no CDN) for the keys:
`j`/`k` move between citations, `1`–`4` set the focused citation's verdict (`1`–`3` the
answer's) and move on, `a` marks every open citation "supports" and the answer "correct",
`s` submits, `n` skips to the next answer, `e` edits the note, `?` lists the keys. A review of
an answer whose citations all hold is two key presses (`a`, `s`); one with a single bad
citation is three interactions (`a`, a click on that citation's verdict, `s`).

Signing in: the auditor pastes their API key or token once and gets a server-side session
(`api.audit_sessions`): the HttpOnly, SameSite=Strict cookie scoped to `/audit` (`Secure` over
HTTPS) holds only a signed random id, valid for an hour; the credential stays in the server and
is checked on every request exactly like a bearer one (the `audit` scope, then the policy's
auditor role in the service). Sign-in attempts are rate-limited per client address
(`api.rate_limits.login`; 429 with Retry-After). Every form carries the session's CSRF token.
Pages carry a nonce-based Content Security Policy and `Cache-Control: no-store`: auditors see
masked content only, and none of it stays in caches.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from agent.review.report import report_to_csv, report_to_dict
from agent.review.service import (
    ANSWER_VERDICTS,
    CITATION_VERDICTS,
    InvalidReviewError,
    NotAnAuditorError,
    ReviewItem,
)
from api.audit_api import AuditApp, audit_state, csv_response
from api.audit_schemas import ANSWER_ID_PATTERN
from api.auth import Identity
from api.errors import MAPPED_ERRORS, describe

__all__ = ["COOKIE", "router"]

COOKIE = "proofdesk_audit"
_TEMPLATES = Path(__file__).resolve().parent / "templates" / "audit"
CITATION_LABELS = {
    "supports": "Supports",
    "partially_supports": "Partially supports",
    "does_not_support": "Does not support",
    "irrelevant": "Irrelevant",
}
ANSWER_LABELS = {
    "correct": "Correct",
    "partially_correct": "Partially correct",
    "incorrect": "Incorrect",
}
# Warnings the answer carries (agent.pipeline's flags), in the auditor's words.
FLAG_LABELS = {
    "evidence_injection_suspected": "evidence held instructions (to an assistant or the reader)",
    "question_injection_suspected": "the question looked like a prompt injection",
}
REASON_LABELS = {
    "picked": "picked",
    "negative_feedback": "rated down",
    "low_support": "weak support",
    "sampled": "sample",
}

# Where the page says it in its own words; otherwise the message of `api.errors`' table.
_PAGE_MESSAGES = {"answer_not_found": "There is no recorded answer with this id."}

router = APIRouter(prefix="/audit", include_in_schema=False)


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class _Session:
    audit: AuditApp
    identity: Identity
    csrf: str


def _csrf(credential: str) -> str:
    return hashlib.sha256(f"proofdesk-audit-csrf:{credential}".encode()).hexdigest()[:32]


def _credential(request: Request, audit: AuditApp) -> tuple[str, str] | None:
    """(credential, CSRF token) from a bearer header or from the session the cookie names."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        credential = header[7:].strip()
        return (credential, _csrf(credential)) if credential else None
    session = audit.sessions.get(request.cookies.get(COOKIE, ""))
    return (session.credential, session.csrf) if session is not None else None


def _session(request: Request) -> _Session | Response:
    """The signed-in auditor, or the response to send instead (sign-in page, 403 page)."""
    audit = audit_state(request)
    found = _credential(request, audit)
    if found is None:
        return _to_login(request, expired=COOKIE in request.cookies)
    credential, csrf = found
    try:
        identity = audit.require_auditor(audit.authenticator.authenticate(credential))
    except MAPPED_ERRORS as exc:
        if describe(exc).status == 401:
            return _to_login(request, expired=True)
        return _error_page(request, exc)
    if not audit.review.is_auditor(identity.principal):
        return _error_page(request, NotAnAuditorError("you do not hold the auditor role"))
    return _Session(audit, identity, csrf)


def _to_login(request: Request, *, expired: bool = False) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    suffix = "&expired=1" if expired else ""
    return RedirectResponse(f"/audit/login?next={quote(target, safe='')}{suffix}", 303)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = (
        _environment().get_template(template).render(nonce=nonce, path=request.url.path, **context)
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _error_page(request: Request, exc: Exception, csrf: str = "") -> HTMLResponse:
    """The status of `api.errors`' table, as a page (in the page's words where it has its own)."""
    info = describe(exc)
    message = _PAGE_MESSAGES.get(info.code, info.message)
    return _page(
        request, "error.html", info.status, message=message, csrf=csrf, signed_in=bool(csrf)
    )


def _forbidden(request: Request, session: _Session) -> HTMLResponse:
    return _page(
        request,
        "error.html",
        403,
        message="Invalid form token: reload the page.",
        csrf=session.csrf,
        signed_in=True,
    )


def _check_csrf(session: _Session, form: Mapping[str, Any]) -> bool:
    return hmac.compare_digest(str(form.get("csrf", "")), session.csrf)


# --- signing in and out ------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/audit") and "//" not in target else "/audit"


@router.get("/login")
def login_page(
    request: Request,
    target: Annotated[str | None, Query(alias="next")] = None,
    expired: bool = False,
) -> Response:
    message = "Your sign-in has expired or is no longer valid." if expired else None
    return _page(request, "login.html", message=message, next=_safe_next(target), csrf="")


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    credential = str(form.get("credential", "")).strip()
    target = _safe_next(str(form.get("next", "")))
    audit = audit_state(request)
    try:
        if audit.rate_limiter is not None:
            client = request.client.host if request.client is not None else "unknown"
            audit.rate_limiter.hit_login(client_address=client)
        identity = audit.require_auditor(audit.authenticator.authenticate(credential))
        allowed = await run_in_threadpool(audit.review.is_auditor, identity.principal)
    except MAPPED_ERRORS as exc:
        info = describe(exc)
        page = _page(request, "login.html", info.status, message=info.message, next=target, csrf="")
        page.headers.update(info.headers)  # Retry-After on 429
        return page
    if not allowed:
        return _page(
            request,
            "login.html",
            403,
            message="You do not hold the auditor role.",
            next=target,
            csrf="",
        )
    cookie, _opened = audit.sessions.open(credential)
    response = RedirectResponse(target, 303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(audit.sessions.ttl_seconds),
        path="/audit",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = _session(request)
    form = await request.form()
    if isinstance(session, _Session) and not _check_csrf(session, form):
        return _forbidden(request, session)
    audit_state(request).sessions.close(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/audit/login", 303)
    response.delete_cookie(COOKIE, path="/audit")
    return response


# --- the queue ---------------------------------------------------------------------------------


@router.get("")
def queue_page(request: Request, saved: str | None = None, empty: bool = False) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    try:
        items = session.audit.review.queue(session.identity.principal, limit=100)
    except MAPPED_ERRORS as exc:
        return _error_page(request, exc, session.csrf)
    return _page(
        request,
        "queue.html",
        items=items,
        saved=saved,
        empty=empty,
        csrf=session.csrf,
        reasons=REASON_LABELS,
        message=None,
    )


@router.get("/next")
def next_answer(request: Request, after: str | None = None, saved: str | None = None) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    try:
        following = session.audit.review.next_answer(session.identity.principal, after=after)
    except MAPPED_ERRORS as exc:
        return _error_page(request, exc, session.csrf)
    flash = f"?saved={quote(saved, safe='')}" if saved else ""
    if following is None:
        return RedirectResponse(f"/audit?empty=1{'&' + flash[1:] if flash else ''}", 303)
    return RedirectResponse(f"/audit/answers/{quote(following, safe='')}{flash}", 303)


@router.post("/picks")
async def pick(request: Request) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    form = await request.form()
    answer_id = str(form.get("answer_id", "")).strip()
    if not _check_csrf(session, form):
        return _forbidden(request, session)
    try:
        await run_in_threadpool(session.audit.review.pick, answer_id, session.identity.principal)
    except MAPPED_ERRORS as exc:
        return _error_page(request, exc, session.csrf)
    return RedirectResponse(f"/audit/answers/{quote(answer_id, safe='')}", 303)


# --- one answer --------------------------------------------------------------------------------


@router.get("/answers/{answer_id}")
def review_page(request: Request, answer_id: str, saved: str | None = None) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    try:
        item = session.audit.review.item(answer_id, session.identity.principal)
    except MAPPED_ERRORS as exc:
        return _error_page(request, exc, session.csrf)
    return _review(request, session, item, saved=saved)


@router.post("/answers/{answer_id}/review")
async def submit_review(request: Request, answer_id: str) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    form = await request.form()
    if not _check_csrf(session, form):
        return _forbidden(request, session)
    verdicts = {
        int(key[1:]): str(value)
        for key, value in form.items()
        if key.startswith("v") and key[1:].isdigit()
    }
    answer_verdict, note = str(form.get("answer_verdict", "")), str(form.get("note", ""))
    review = session.audit.review
    try:
        await run_in_threadpool(
            lambda: review.review(
                answer_id,
                session.identity.principal,
                citation_verdicts=verdicts,
                answer_verdict=answer_verdict,
                note=note,
            )
        )
    except InvalidReviewError as exc:
        item = await run_in_threadpool(review.item, answer_id, session.identity.principal)
        return _review(
            request,
            session,
            item,
            status=422,
            message=str(exc),
            chosen=verdicts,
            answer_verdict=answer_verdict,
            note=note,
        )
    except MAPPED_ERRORS as exc:
        return _error_page(request, exc, session.csrf)
    target = quote(answer_id, safe="")
    return RedirectResponse(f"/audit/next?after={target}&saved={target}", 303)


@router.post("/answers/{answer_id}/skip")
async def submit_skip(request: Request, answer_id: str) -> Response:
    """Pass an answer on with a reason (all its citations are restricted for this auditor)."""
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    form = await request.form()
    if not _check_csrf(session, form):
        return _forbidden(request, session)
    review, principal = session.audit.review, session.identity.principal
    reason = str(form.get("reason", ""))
    try:
        await run_in_threadpool(lambda: review.skip(answer_id, principal, reason=reason))
    except InvalidReviewError as exc:
        item = await run_in_threadpool(review.item, answer_id, principal)
        return _review(request, session, item, status=422, message=str(exc))
    except MAPPED_ERRORS as exc:
        return _error_page(request, exc, session.csrf)
    target = quote(answer_id, safe="")
    return RedirectResponse(f"/audit/next?after={target}&saved={target}", 303)


def _review(
    request: Request,
    session: _Session,
    item: ReviewItem,
    *,
    status: int = 200,
    saved: str | None = None,
    message: str | None = None,
    chosen: Mapping[int, str] | None = None,
    answer_verdict: str | None = None,
    note: str | None = None,
) -> HTMLResponse:
    mine = item.mine
    if chosen is None and mine is not None:  # revising: start from your latest review
        chosen, answer_verdict, note = mine.citation_verdicts, mine.answer_verdict, mine.note
    return _page(
        request,
        "review.html",
        status,
        item=item,
        csrf=session.csrf,
        saved=saved,
        message=message,
        chosen=dict(chosen or {}),
        answer_verdict=answer_verdict or "",
        note=note or "",
        citation_verdicts=[(v, CITATION_LABELS[v]) for v in CITATION_VERDICTS],
        answer_verdicts=[(v, ANSWER_LABELS[v]) for v in ANSWER_VERDICTS],
        reasons=REASON_LABELS,
        flag_labels=FLAG_LABELS,
        id_pattern=ANSWER_ID_PATTERN,
    )


# --- the report --------------------------------------------------------------------------------

DateQuery = Annotated[date | None, Query()]


def _bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    def at(day: date | None) -> datetime | None:
        return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)

    return at(since), at(until)


@router.get("/report")
def report_page(request: Request, since: DateQuery = None, until: DateQuery = None) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    start, end = _bounds(since, until)
    try:
        report = session.audit.review.report(session.identity.principal, since=start, until=end)
    except MAPPED_ERRORS as exc:
        return _error_page(request, exc, session.csrf)
    query = "&".join(f"{k}={v}" for k, v in (("since", since), ("until", until)) if v)
    return _page(
        request,
        "report.html",
        report=report,
        csrf=session.csrf,
        since=since or "",
        until=until or "",
        query=query,
    )


@router.get("/report.csv")
def report_csv(request: Request, since: DateQuery = None, until: DateQuery = None) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    start, end = _bounds(since, until)
    report = session.audit.review.report(session.identity.principal, since=start, until=end)
    return csv_response(report_to_csv(report))


@router.get("/report.json")
def report_json(request: Request, since: DateQuery = None, until: DateQuery = None) -> Response:
    session = _session(request)
    if not isinstance(session, _Session):
        return session
    start, end = _bounds(since, until)
    report = session.audit.review.report(session.identity.principal, since=start, until=end)
    return JSONResponse(
        report_to_dict(report),
        headers={"Content-Disposition": 'attachment; filename="citation-audit-report.json"'},
    )
