"""`proofdesk search|ask|demo`: what a user retrieves and what they are answered, over the local
index or through a running server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

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
    translated_errors,
)

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["DEMO_QUESTIONS", "ask", "demo", "search"]


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
        fail(f"unknown mode {mode!r}: use hybrid, dense or sparse")
    if server is not None:
        _check_types(doc_type or [])  # the server refuses an unknown source with the list
        body: dict[str, Any] = {"query": query}
        for name, value in (("top_k", top_k), ("mode", mode), ("source", source),
                            ("type", doc_type)):  # fmt: skip
            if value:
                body[name] = value
        found = _search_via_server(server, api_key, body, user, parse_groups(groups))
        hits: list[dict[str, Any]] = found["passages"]
        policy_version, holds = str(found["policy_version"]), None
    else:
        settings = command_settings(config)
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
    from api.bootstrap.components import Components
    from api.bootstrap.index import build_retrieval
    from policies.access.principal import InvalidPrincipalError
    from retrieval.records import SearchFilters
    from retrieval.service import RetrievalRequest
    from retrieval.store import StoreLockedError

    with translated_errors(), Components(settings) as parts:
        try:
            principal = parts.policy.principal_for(user, parse_groups(groups))
        except InvalidPrincipalError as exc:
            fail(str(exc))
        try:
            parts.store  # noqa: B018  (opened now: a held index fails here, with advice)
        except StoreLockedError as exc:
            fail(f"{exc}. To search through the running server: proofdesk search --server URL", 3)
        retrieval = build_retrieval(parts)
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


def _search_via_server(
    server: str, api_key: str | None, body: dict[str, Any], user: str | None, groups: list[str]
) -> dict[str, Any]:
    """POST /v1/search on a running server; the key's own user, or --user through `act_as`."""
    import httpx

    if not api_key:
        fail("--server needs an API key (--api-key or PROOFDESK_API_KEY)")
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/v1/search",
            json=body,
            headers=_server_headers(api_key, user, groups),
            timeout=120,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        fail(
            f"server refused the search ({response.status_code}): {error_message(response)}",
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
        fail(f"unknown --type {', '.join(bad)}: the types are {', '.join(known_types)}")


def _check_filters(settings: Settings, sources: list[str], doc_types: list[str]) -> None:
    """Unknown --source or --type values are refused (a filter on them would match nothing)."""
    from ingest.sources import load_sources

    _check_types(doc_types)
    if not sources:
        return
    with translated_errors():
        declared = load_sources(settings.ingest.sources_file).ids()
    if bad := [s for s in sources if s not in declared]:
        fail(f"unknown --source {', '.join(bad)}: the sources are {', '.join(declared)}")


@contextmanager
def _answering(settings: Settings) -> Iterator[tuple[Any, Any]]:
    """(policy engine, answer service) over the local index, closed afterwards."""
    from api.bootstrap.answering import build_answer_pipeline
    from api.bootstrap.components import Components
    from api.bootstrap.index import build_retrieval

    with Components(settings) as parts:
        policy = parts.policy
        parts.store  # noqa: B018  (opened before the pipeline: a held index fails fast)
        pipeline = build_answer_pipeline(parts, retrieval=build_retrieval(parts))
        try:
            yield policy, pipeline.service
        finally:
            pipeline.close()


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
        fail(str(exc))


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

    settings = command_settings(config)
    _check_question(settings, question, conversation)
    if server is not None:
        doc = _ask_via_server(server, api_key, question, user, parse_groups(groups), conversation)
    else:
        with translated_errors():
            try:
                with _answering(settings) as (policy, service):
                    try:
                        principal = policy.principal_for(user, parse_groups(groups))
                        answer = service.answer(
                            question, principal=principal, conversation_id=conversation
                        )
                    except (InvalidPrincipalError, InvalidQuestionError) as exc:
                        fail(str(exc))
            except StoreLockedError as exc:
                fail(f"{exc}. To ask through the running server: proofdesk ask --server URL", 3)
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
        fail("--server needs an API key (--api-key or PROOFDESK_API_KEY)")
    headers = _server_headers(api_key, user, groups)
    body: dict[str, str] = {"question": question}
    if conversation:
        body["conversation_id"] = conversation
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/v1/chat", json=body, headers=headers, timeout=120
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}", EXIT_FAILED)
    if response.status_code != 200:
        fail(
            f"server refused the question ({response.status_code}): {error_message(response)}",
            EXIT_FAILED,
        )
    doc: dict[str, Any] = response.json()
    return doc


DEMO_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("bob", "How do I reset my password?"),
    ("bob", "How many days of annual leave do I get?"),
    ("bob", "What are the salary bands for 2026?"),
    ("frank", "What are the salary bands for 2026?"),
    ("judy", "What is the per diem for a trip to London?"),
    ("alice", "My VPN keeps disconnecting, I want to talk to a human."),
)


def demo(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Ask the sample knowledge base a few questions as different personas."""
    from agent.serialize import answer_to_dict

    settings = command_settings(config)
    results = []
    with translated_errors(), _answering(settings) as (policy, service):
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
