"""What a helpdesk-tool developer meets on the served app (`proofdesk serve`'s composition, over
HTTP): the OpenAI model list, act_as keys that must name their end user (header or the OpenAI
`user` field), one error code for an empty question, self-hosted docs pages, and an OpenAPI
document that says per operation what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fixtures.credentials import Keys, bearer, make_token
from tests.fixtures.served_lockers import Served, served_app

QUESTION = "Who issues keys for long-term lockers?"


@pytest.fixture(scope="module")
def served(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_app(keys, tmp_path_factory.mktemp("integrator")) as app:
        yield app


def _error(response: Any) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    return error


def test_models_are_listed_the_openai_way(served: Served, keys: Keys) -> None:
    r = served.get("/v1/models", headers=keys.auth("chat"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["proofdesk"]
    assert body["data"][0]["object"] == "model"
    assert served.get("/v1/models").status_code == 401
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=keys.chat, max_retries=0)
    assert [m.id for m in client.models.list()] == ["proofdesk"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat", {"question": QUESTION}),
        ("/v1/chat/stream", {"question": QUESTION}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": QUESTION}]}),
    ],
)
def test_an_act_as_key_without_an_end_user_is_a_400_naming_the_header(
    served: Served, keys: Keys, path: str, body: dict[str, Any]
) -> None:
    r = served.post(path, body, keys.auth("act_as"))
    assert r.status_code == 400, r.text
    error = _error(r)
    assert error["code"] == "end_user_required"
    assert "X-Proofdesk-User" in error["message"]
    only_groups = served.post(path, body, {**keys.auth("act_as"), "X-Proofdesk-Groups": "hr"})
    assert only_groups.status_code == 400 and _error(only_groups)["code"] == "end_user_required"


def test_the_openai_user_field_names_the_end_user_of_an_act_as_key(
    served: Served, keys: Keys
) -> None:
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=keys.act_as, max_retries=0)
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    as_bob = client.chat.completions.create(model="proofdesk", messages=messages, user="bob")
    bob = (as_bob.model_extra or {})["proofdesk"]
    assert bob["status"] == "answered" and bob["citations"][0]["source_id"] == "lockers-kb"
    as_judy = client.chat.completions.create(model="proofdesk", messages=messages, user="judy")
    assert (as_judy.model_extra or {})["proofdesk"]["status"] == "refused_no_evidence"
    # The header wins over the field.
    headed = client.with_options(default_headers={"X-Proofdesk-User": "judy"})
    both = headed.chat.completions.create(model="proofdesk", messages=messages, user="bob")
    assert (both.model_extra or {})["proofdesk"]["status"] == "refused_no_evidence"
    # A key without act_as cannot choose its user: the field is ignored (svc-widget: public).
    widget = openai.OpenAI(base_url=f"{served.url}/v1", api_key=keys.chat, max_retries=0)
    own = widget.chat.completions.create(model="proofdesk", messages=messages, user="bob")
    assert (own.model_extra or {})["proofdesk"]["status"] == "refused_no_evidence"


@pytest.mark.parametrize("question", ["", "   "])
def test_an_empty_question_has_one_error_code(served: Served, question: str) -> None:
    auth = bearer(make_token("bob"))
    for path, body in (
        ("/v1/chat", {"question": question}),
        ("/v1/chat/stream", {"question": question}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": question}]}),
    ):
        r = served.post(path, body, auth)
        assert r.status_code == 422, (path, r.text)
        assert _error(r)["code"] == "empty_question", (path, r.text)


def test_the_docs_pages_load_their_assets_from_the_app(served: Served) -> None:
    for page, assets in (
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ):
        r = served.get(page)
        assert r.status_code == 200, page
        assert "cdn." not in r.text and "fonts.googleapis" not in r.text, page
        for asset in assets:
            assert f'"/docs-assets/{asset}"' in r.text, (page, asset)
            loaded = served.get(f"/docs-assets/{asset}")
            assert loaded.status_code == 200 and len(loaded.content) > 10_000, asset


def test_each_operation_says_what_it_needs(served: Served) -> None:
    spec = served.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert list(schemes) == ["bearer"]
    assert "audit scope" not in schemes["bearer"]["description"]
    expected = {
        ("post", "/v1/chat"): "scope `chat`",
        ("get", "/v1/models"): "scope `chat`",
        ("post", "/v1/sources/{source_id}/sync"): "scope `admin`",
        ("get", "/v1/jobs"): "scope `audit`",
        ("get", "/v1/audit/queue"): "`role:auditor`",
    }
    for (method, path), text in expected.items():
        description = spec["paths"][path][method].get("description", "")
        assert "**Needs:**" in description and text in description, (method, path, description)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert "**Needs:**" in operation.get("description", ""), (method, path)
