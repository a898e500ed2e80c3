"""Request ids, the error body on every error, 500s, timeouts, CORS, and request ids in logs.

Request ids, error bodies and CORS run on the app as `proofdesk serve` builds it
(`tests/fixtures/served_app.py`, which allows one browser origin). The 500 and the 504 use the
stand-in app (`build_harness`): they need a chat service that raises or hangs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from agent.types import Answer
from policies.access.principal import Principal
from tests.fixtures.credentials import Keys, api_settings, bearer, make_token
from tests.fixtures.harness import BlockingChat, build_harness, running
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.served_app import CORS_ORIGIN, ServedApp

CHAT = {"question": "How do I set up the VPN client?"}


def _assert_error_shape(body: object) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "message"}
    assert all(isinstance(v, str) and v for v in body["error"].values())


def test_every_response_has_a_request_id_and_errors_have_one_body(
    client: httpx.Client, served: ServedApp
) -> None:
    responses = {
        "ok": client.get("/healthz"),
        "404 route": client.get("/v1/nothing-here"),
        "405": client.get("/v1/chat"),
        "401": client.post("/v1/chat", json=CHAT),
        "403": client.post("/v1/chat", json=CHAT, headers=served.auth("none")),
        "422": client.post("/v1/chat", json={}, headers=served.auth("chat")),
        "413": client.post(
            "/v1/chat",
            content=b"x" * 200_000,
            headers={**served.auth("chat"), "Content-Type": "application/json"},
        ),
        "404 answer": client.get("/v1/answers/nope", headers=served.auth("chat")),
    }
    ids = set()
    for name, r in responses.items():
        request_id = r.headers.get("X-Request-ID", "")
        assert len(request_id) == 32, name
        ids.add(request_id)
        if name != "ok":
            _assert_error_shape(r.json())
    assert len(ids) == len(responses)
    assert responses["404 route"].json()["error"]["code"] == "route_not_found"
    assert responses["405"].json()["error"]["code"] == "method_not_allowed"
    assert "POST" in responses["405"].headers["Allow"]


def test_a_callers_request_id_is_kept_when_it_is_safe(client: httpx.Client) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "helpdesk-7f3a9c21"})
    assert r.headers["X-Request-ID"] == "helpdesk-7f3a9c21"
    r = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert r.headers["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(r.headers["X-Request-ID"]) == 32


class ExplodingChat:
    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer:
        raise RuntimeError("boom: secret internal detail")


def test_an_unexpected_error_is_a_500_with_the_error_body_and_a_logged_request_id(
    kb_index: KbIndex, keys: Keys, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path, chat=ExplodingChat())
    with running(h), caplog.at_level(logging.INFO):
        r = h.http.post("/v1/chat", json=CHAT, headers=bearer(make_token("bob")))
    assert r.status_code == 500
    assert r.json() == {
        "error": {"type": "api_error", "code": "internal_error", "message": "internal server error"}
    }
    assert "secret internal detail" not in r.text
    request_id = r.headers["X-Request-ID"]
    logged = [rec for rec in caplog.records if getattr(rec, "request_id", None) == request_id]
    assert any(rec.levelno == logging.ERROR and rec.exc_info for rec in logged)
    assert any("/v1/chat" in rec.getMessage() and "500" in rec.getMessage() for rec in logged)


def test_a_request_that_takes_too_long_is_504(
    kb_index: KbIndex, keys: Keys, tmp_path: Path
) -> None:
    chat = BlockingChat()
    api = api_settings(keys, request_timeout_seconds=0.2)
    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path, api=api, chat=chat)
    try:
        with running(h):
            r = h.http.post("/v1/chat", json=CHAT, headers=keys.auth("chat"))
            assert r.status_code == 504
            assert r.json()["error"] | {"message": ""} == {
                "type": "timeout_error",
                "code": "request_timeout",
                "message": "",
            }
            assert chat.entered.is_set()  # it was the pipeline, still running, that timed out
            assert r.headers["X-Request-ID"]
    finally:
        chat.release.set()


def test_cors_allows_only_the_configured_origins(client: httpx.Client, served: ServedApp) -> None:
    assert served.settings.api.cors_origins == [CORS_ORIGIN]
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    r = client.options("/v1/chat", headers={"Origin": CORS_ORIGIN, **preflight})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert r.headers["X-Request-ID"]
    r = client.options("/v1/chat", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/healthz", headers={"Origin": CORS_ORIGIN})
    assert "X-Request-ID" in r.headers["access-control-expose-headers"]
