"""GET /v1/answers/{id} and POST /v1/answers/{id}/feedback: the asker, an auditor, nobody else."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Harness, Keys, bearer, make_token

CHAT = {"question": "How do I book a meeting room?"}


def _ask(client: TestClient, headers: dict[str, str]) -> dict[str, object]:
    r = client.post("/v1/chat", json=CHAT, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_the_asker_reads_the_answer_back(client: TestClient) -> None:
    bob = bearer(make_token("bob"))
    answer = _ask(client, bob)
    r = client.get(f"/v1/answers/{answer['answer_id']}", headers=bob)
    assert r.status_code == 200
    stored = r.json()
    assert stored["question"] == CHAT["question"]
    assert stored["asked_at"]
    for key in ("answer_id", "status", "answer", "citations", "conversation_id", "trace_id"):
        assert stored[key] == answer[key], key


def test_others_get_404_and_auditors_get_the_answer(client: TestClient, keys: Keys) -> None:
    answer_id = _ask(client, bearer(make_token("bob")))["answer_id"]
    not_found = client.get(f"/v1/answers/{answer_id}", headers=bearer(make_token("alice")))
    missing = client.get("/v1/answers/does-not-exist", headers=bearer(make_token("alice")))
    assert not_found.status_code == missing.status_code == 404
    assert not_found.json() == missing.json()  # existence is not revealed
    assert not_found.json()["error"]["code"] == "answer_not_found"
    assert client.get(f"/v1/answers/{answer_id}", headers=keys.auth("chat")).status_code == 404
    assert client.get(f"/v1/answers/{answer_id}", headers=keys.auth("audit")).status_code == 200
    assert client.get(f"/v1/answers/{answer_id}", headers=keys.auth("admin")).status_code == 403


def test_an_api_key_owns_what_it_asks_for_itself(client: TestClient, keys: Keys) -> None:
    answer_id = _ask(client, keys.auth("chat"))["answer_id"]
    assert client.get(f"/v1/answers/{answer_id}", headers=keys.auth("chat")).status_code == 200
    assert client.get(f"/v1/answers/{answer_id}", headers=keys.auth("act_as")).status_code == 404


def test_feedback_by_the_asker(harness: Harness) -> None:
    client = harness.http
    bob = bearer(make_token("bob"))
    answer_id = str(_ask(client, bob)["answer_id"])
    r = client.post(
        f"/v1/answers/{answer_id}/feedback",
        json={"rating": -1, "comment": "The room list is outdated."},
        headers=bob,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["answer_id"] == answer_id and body["rating"] == -1
    assert body["comment"] == "The room list is outdated."
    stored = harness.answers.for_answer(answer_id)
    assert [(f.rating, f.asker) for f in stored] == [(-1, "user:bob")]
    r = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": 1}, headers=bob)
    assert r.status_code == 201 and r.json()["comment"] is None


def test_feedback_by_anyone_else_is_404(client: TestClient, keys: Keys) -> None:
    answer_id = _ask(client, bearer(make_token("bob")))["answer_id"]
    for headers in (bearer(make_token("alice")), keys.auth("chat")):
        r = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": 1}, headers=headers)
        assert r.status_code == 404
    r = client.post("/v1/answers/nope/feedback", json={"rating": 1}, headers=keys.auth("chat"))
    assert r.status_code == 404


def test_invalid_feedback_is_422(client: TestClient) -> None:
    bob = bearer(make_token("bob"))
    answer_id = _ask(client, bob)["answer_id"]
    for body in ({"rating": 0}, {"rating": 5}, {}, {"rating": 1, "comment": "x" * 2001}):
        r = client.post(f"/v1/answers/{answer_id}/feedback", json=body, headers=bob)
        assert r.status_code == 422, body
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert client.get("/v1/answers/bad%20id", headers=bob).status_code == 422
