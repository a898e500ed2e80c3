"""`POST /v1/search` and `proofdesk search --server`, over HTTP on the app as `proofdesk serve`
builds it (issue 18: while `serve` owns the embedded index, `search` goes through it).

The app is the served composition of `tests/fixtures/served_app.py` (staff-kb readable by all staff,
hr-kb by group hr) with one more key: an `act_as` integration, `search-bot`."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from api import cli
from api.app import create_app
from api.auth import generate_api_key, hash_api_key
from api.bootstrap.components import Components
from api.bootstrap.index import build_ingest
from api.bootstrap.server import build_services
from api.runtime import ServiceRuntime
from api.settings import Settings
from retrieval.embedding.embedder import Embedder
from tests.fixtures.credentials import bearer, make_token
from tests.fixtures.live_server import serve, stop
from tests.fixtures.served_app import ServedApp, served_settings

HR_QUERY = "When are salary bands reviewed?"
STAFF_QUERY = "How do I open a day locker?"
HR_WORDS = "compensation committee"  # words of the hr-only document
DAVE_IN_HR = "g, user:dave, group:hr\n"


def _ingest(settings: Settings, embedder: Embedder) -> None:
    with Components(settings, embedder=embedder) as parts:
        ctx = build_ingest(parts)
        for source in ctx.runner.service.registry.enabled():
            assert ctx.runner.run(source.id, trigger="cli").report.status == "succeeded"
        ctx.store.optimize()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[ServedApp]:
    """The served app, with an `act_as` key (`search_bot`) added to its keys file."""
    root = tmp_path_factory.mktemp("served-search")
    settings, keys = served_settings(root)
    keys_file = settings.api.api_keys_file
    assert keys_file is not None
    keys["search_bot"] = generate_api_key()
    entries = yaml.safe_load(keys_file.read_text(encoding="utf-8"))
    entries["keys"].append(
        {
            "id": "search-bot",
            "hash": hash_api_key(keys["search_bot"]),
            "scopes": ["chat", "act_as"],
            "user_id": "svc-search-bot",
        }
    )
    keys_file.write_text(yaml.safe_dump(entries), encoding="utf-8")
    _ingest(settings, embedder)
    services = build_services(settings, settings.api)
    live = serve(create_app(settings, services=services))
    try:
        runtime = services.readiness
        assert isinstance(runtime, ServiceRuntime)
        assert runtime.wait_ready(300), runtime.readiness()
        yield ServedApp(root=root, settings=settings, services=services, live=live, keys=keys)
    finally:
        stop(live)


def _search(http: httpx.Client, headers: dict[str, str], query: str, **extra: Any) -> Any:
    r = http.post("/v1/search", json={"query": query, **extra}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _sources(body: dict[str, Any]) -> set[str]:
    return {p["source_id"] for p in body["passages"]}


def _acting(app: ServedApp, user: str) -> dict[str, str]:
    return {**app.auth("search_bot"), "X-Proofdesk-User": user}


def test_search_returns_only_passages_the_asker_may_read(app: ServedApp) -> None:
    bob, dave = bearer(make_token("bob")), bearer(make_token("dave"))
    with app.client() as http:
        for who in (bob, _acting(app, "bob")):
            hr = _search(http, who, HR_QUERY, top_k=10)
            assert "hr-kb" not in _sources(hr), hr
            assert HR_WORDS not in json.dumps(hr)
            staff = _search(http, who, STAFF_QUERY)
            assert staff["passages"][0]["source_id"] == "staff-kb", staff
        for who in (dave, _acting(app, "dave")):
            found = _search(http, who, HR_QUERY, top_k=10)
            first = found["passages"][0]
            assert first["source_id"] == "hr-kb" and HR_WORDS in first["text"], found
        assert found["policy_version"]
        assert first["rank"] == 1 and first["score"] > 0 and first["chunk_id"]
        assert first["title"] and first["uri"] and first["document_id"].startswith("hr-kb")
        assert first["allowed_by"] == ["group:hr"]
        # Filters narrow within what the asker may read; never widen it.
        only_staff = _search(http, dave, HR_QUERY, source=["staff-kb"])
        assert _sources(only_staff) == {"staff-kb"}
        assert _search(http, bob, HR_QUERY, source=["hr-kb"])["passages"] == []
        assert _search(http, dave, HR_QUERY, type=["pdf"])["passages"] == []
        assert len(_search(http, dave, STAFF_QUERY, top_k=1)["passages"]) == 1


def test_a_policy_edit_reaches_the_very_next_search(app: ServedApp) -> None:
    dave = bearer(make_token("dave"))
    with app.client() as http:
        assert "hr-kb" in _sources(_search(http, dave, HR_QUERY))
        with app.policy_edited(lambda p: p.replace(DAVE_IN_HR, "")):
            after = _search(http, dave, HR_QUERY, top_k=10)  # the very next request
            assert "hr-kb" not in _sources(after) and HR_WORDS not in json.dumps(after)
        assert "hr-kb" in _sources(_search(http, dave, HR_QUERY))


def _error(r: httpx.Response) -> tuple[int, str, str]:
    body = r.json()["error"]
    return r.status_code, body["code"], body["message"]


def test_search_refuses_what_chat_refuses(app: ServedApp) -> None:
    bob = bearer(make_token("bob"))
    with app.client() as http:
        r = http.post("/v1/search", json={"query": STAFF_QUERY})
        assert r.status_code == 401
        r = http.post("/v1/search", json={"query": STAFF_QUERY}, headers=app.auth("search_bot"))
        status, code, message = _error(r)
        assert (status, code) == (400, "end_user_required") and "X-Proofdesk-User" in message
        r = http.post("/v1/search", json={"query": STAFF_QUERY}, headers=app.auth("ops"))
        assert _error(r)[:2] == (403, "missing_scope")
        for blank in ("", "   \n"):
            r = http.post("/v1/search", json={"query": blank}, headers=bob)
            assert _error(r)[:2] == (422, "empty_query"), r.text
        r = http.post("/v1/search", json={"query": "x", "source": ["nope"]}, headers=bob)
        status, code, message = _error(r)
        assert (status, code) == (422, "unknown_source") and "hr-kb, staff-kb" in message
        r = http.post("/v1/search", json={"query": "x", "type": ["exe"]}, headers=bob)
        assert r.status_code == 422
        r = http.post("/v1/search", json={"query": "x", "top_k": 0}, headers=bob)
        assert r.status_code == 422


def test_the_openapi_document_says_what_search_needs(app: ServedApp) -> None:
    with app.client() as http:
        operation = http.get("/openapi.json").json()["paths"]["/v1/search"]["post"]
    assert "**Needs:** an API key with scope `chat`, or any valid JWT" in operation["description"]
    assert "X-Proofdesk-User" in operation["description"]
    assert {"200", "400", "401", "403", "422"} <= set(operation["responses"])


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, ["search", *args])
    # JSON from stdout alone: the served app runs in this process and may log to the captured
    # stderr meanwhile, which `output` interleaves.
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_the_cli_searches_through_a_running_server(app: ServedApp) -> None:
    key = app.keys["search_bot"]
    code, output = _cli(HR_QUERY, "--server", app.url, "--api-key", key, "-u", "bob", "--json")
    assert code == 0, output
    bob = json.loads(output)
    assert bob["hits"] and "hr-kb" not in {h["source_id"] for h in bob["hits"]}, bob
    code, output = _cli(HR_QUERY, "--server", app.url, "--api-key", key, "-u", "dave", "--json")
    assert code == 0, output
    assert json.loads(output)["hits"][0]["source_id"] == "hr-kb"
    code, output = _cli(STAFF_QUERY, "--server", app.url, "--api-key", key, "-u", "bob")
    assert code == 0 and "hits[/]" not in output and "staff-kb" in output, output
    code, output = _cli(STAFF_QUERY, "--server", app.url)
    assert code == 2 and "--server needs an API key" in output, output
    code, output = _cli(STAFF_QUERY, "--server", app.url, "--api-key", app.keys["ops"])
    assert code == 1 and "server refused the search (403)" in output, output
    assert "needs the 'chat' scope" in output
    code, output = _cli(STAFF_QUERY, "--server", app.url, "--api-key", key)
    assert code == 1 and "(400)" in output and "X-Proofdesk-User" in output, output
    code, output = _cli(STAFF_QUERY, "--server", app.url, "--api-key", key, "--type", "exe")
    assert code == 2 and "unknown --type exe" in output, output
    code, output = _cli(STAFF_QUERY, "--server", app.url, "--api-key", key, "-u", "bob",
                        "--source", "nope")  # fmt: skip
    assert code == 1 and "unknown source nope" in output, output
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    code, output = _cli(STAFF_QUERY, "--server", nowhere, "--api-key", key)
    assert code == 1 and f"cannot reach {nowhere}" in output, output
