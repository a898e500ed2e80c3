"""GET /v1/answers/{id} and POST /v1/answers/{id}/feedback on the served app: the asker, an
auditor, nobody else (what auditors and askers who lost access see: test_served_access.py).
Both read the audit record, the one store of answers; a server whose chat service keeps no
audit record (the stand-in app) keeps no answers, and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.credentials import Keys, bearer, make_token
from tests.fixtures.harness import build_harness, running
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.served_app import STAFF_QUESTION, ServedApp

CHAT = {"question": STAFF_QUESTION}


def _ask(http: httpx.Client, headers: dict[str, str]) -> Any:
    r = http.post("/v1/chat", json=CHAT, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_asker_reads_the_answer_back(served: ServedApp) -> None:
    bob = bearer(make_token("bob"))
    with served.client() as http:
        answer = _ask(http, bob)
        assert answer["status"] == "answered", answer
        r = http.get(f"/v1/answers/{answer['answer_id']}", headers=bob)
    assert r.status_code == 200
    stored = r.json()
    assert stored["question"] == CHAT["question"]
    assert stored["asked_at"]
    for key in ("answer_id", "status", "answer", "citations", "conversation_id", "trace_id"):
        assert stored[key] == answer[key], key


def test_others_get_404_and_auditors_get_the_answer(served: ServedApp) -> None:
    with served.client() as http:
        answer_id = _ask(http, bearer(make_token("bob")))["answer_id"]
        alice = bearer(make_token("alice"))
        not_found = http.get(f"/v1/answers/{answer_id}", headers=alice)
        missing = http.get("/v1/answers/does-not-exist", headers=alice)
        assert not_found.status_code == missing.status_code == 404
        assert not_found.json() == missing.json()  # existence is not revealed
        assert not_found.json()["error"]["code"] == "answer_not_found"
        url = f"/v1/answers/{answer_id}"
        assert http.get(url, headers=served.auth("widget_a")).status_code == 404
        assert http.get(url, headers=served.auth("audit_svc")).status_code == 404
        assert http.get(url, headers=served.auth("audit_oscar")).status_code == 200
        assert http.get(url, headers=bearer(make_token("oscar"))).status_code == 200
        assert http.get(url, headers=served.auth("ops")).status_code == 403


def test_an_api_key_owns_what_it_asks_for_itself(served: ServedApp) -> None:
    with served.client() as http:
        answer_id = _ask(http, served.auth("widget_a"))["answer_id"]
        url = f"/v1/answers/{answer_id}"
        assert http.get(url, headers=served.auth("widget_a")).status_code == 200
        assert http.get(url, headers=served.auth("widget_b")).status_code == 404


def test_feedback_by_the_asker(served: ServedApp) -> None:
    bob = bearer(make_token("bob"))
    with served.client() as http:
        answer_id = str(_ask(http, bob)["answer_id"])
        r = http.post(
            f"/v1/answers/{answer_id}/feedback",
            json={"rating": -1, "comment": "The locker list is outdated."},
            headers=bob,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["answer_id"] == answer_id and body["rating"] == -1
        assert body["comment"] == "The locker list is outdated."
        # Kept in the audit record, the one store of answers, under bob's pseudonym.
        assert served.services.guard is not None
        bob_pseudonym = served.services.guard.pseudonymize("bob")
        stored = served.audit.feedback_for(answer_id)
        assert [(f.rating, f.user_pseudonym, f.comment) for f in stored] == [
            (-1, bob_pseudonym, "The locker list is outdated.")
        ]
        r = http.post(f"/v1/answers/{answer_id}/feedback", json={"rating": 1}, headers=bob)
        assert r.status_code == 201 and r.json()["comment"] is None


def test_feedback_by_anyone_else_is_404(served: ServedApp) -> None:
    with served.client() as http:
        answer_id = _ask(http, bearer(make_token("bob")))["answer_id"]
        url = f"/v1/answers/{answer_id}/feedback"
        for headers in (bearer(make_token("alice")), served.auth("widget_a")):
            assert http.post(url, json={"rating": 1}, headers=headers).status_code == 404
        # An auditor reads it, but does not rate it.
        oscar = bearer(make_token("oscar"))
        assert http.post(url, json={"rating": 1}, headers=oscar).status_code == 404
        r = http.post(
            "/v1/answers/nope/feedback", json={"rating": 1}, headers=served.auth("widget_a")
        )
        assert r.status_code == 404


def test_invalid_feedback_is_422(served: ServedApp) -> None:
    bob = bearer(make_token("bob"))
    with served.client() as http:
        answer_id = _ask(http, bob)["answer_id"]
        for body in ({"rating": 0}, {"rating": 5}, {}, {"rating": 1, "comment": "x" * 2001}):
            r = http.post(f"/v1/answers/{answer_id}/feedback", json=body, headers=bob)
            assert r.status_code == 422, body
            assert r.json()["error"]["type"] == "invalid_request_error"
        assert http.get("/v1/answers/bad%20id", headers=bob).status_code == 422


def test_a_name_in_the_question_reads_back_masked(served: ServedApp) -> None:
    # One masking path: the request's guard masked what the audit record keeps.
    bob = bearer(make_token("bob"))
    question = "I am Priya Raman, how do I open a day locker?"
    with served.client() as http:
        answer = http.post("/v1/chat", json={"question": question}, headers=bob).json()
        stored = http.get(f"/v1/answers/{answer['answer_id']}", headers=bob).json()
    assert "Priya" not in stored["question"] and "Raman" not in stored["question"]
    assert stored["question"].endswith(", how do I open a day locker?")
    # The answer and its quotes are kept masked too (a capitalised word may read as a name to
    # the NER): the same answer, citation for citation, as far as the masking allows.
    assert (stored["answer_id"], stored["status"]) == (answer["answer_id"], answer["status"])
    assert [(c["marker"], c["chunk_id"], c["start"]) for c in stored["citations"]] == [
        (c["marker"], c["chunk_id"], c["start"]) for c in answer["citations"]
    ]


def test_a_server_that_keeps_no_audit_record_keeps_no_answers(
    kb_index: KbIndex, keys: Keys, tmp_path: Path
) -> None:
    h = build_harness(kb_index=kb_index, keys=keys, tmp_path=tmp_path)
    with running(h):
        asked = h.http.post("/v1/chat", json=CHAT, headers=keys.auth("chat"))
        assert asked.status_code == 200, asked.text
        url = f"/v1/answers/{asked.json()['answer_id']}"
        read = h.http.get(url, headers=keys.auth("chat"))
        rated = h.http.post(f"{url}/feedback", json={"rating": 1}, headers=keys.auth("chat"))
    for r in (read, rated):
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "answers_unavailable"
