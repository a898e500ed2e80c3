"""`/v1/audit/...` over HTTP: who may, the whole review flow, errors with the stable body."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.audit_app import AuditKeys, audit_app, make_authenticator, token
from tests.fixtures.audit_reviews import AuditWorld, build_world
from tests.fixtures.kb_index import KbIndex


@pytest.fixture
def world(tmp_path: Path, kb_index: KbIndex) -> Iterator[AuditWorld]:
    built = build_world(tmp_path, kb_index)
    yield built
    built.close()


@pytest.fixture
def keys_and_client(world: AuditWorld) -> Iterator[tuple[AuditKeys, TestClient]]:
    authenticator, keys = make_authenticator(world.kb.policy)
    with TestClient(audit_app(world.service, authenticator)) as client:
        yield keys, client


@pytest.fixture
def keys(keys_and_client: tuple[AuditKeys, TestClient]) -> AuditKeys:
    return keys_and_client[0]


@pytest.fixture
def client(keys_and_client: tuple[AuditKeys, TestClient]) -> TestClient:
    return keys_and_client[1]


def error(response_json: dict[str, dict[str, str]]) -> tuple[str, str]:
    body = response_json["error"]
    assert set(body) == {"type", "code", "message"}
    return body["type"], body["code"]


def test_every_route_needs_an_auditor(
    client: TestClient, keys: AuditKeys, world: AuditWorld
) -> None:
    five = world.answers["five"]
    routes = [
        ("GET", "/v1/audit/queue", None),
        ("POST", "/v1/audit/picks", {"answer_id": five}),
        ("GET", f"/v1/audit/answers/{five}", None),
        ("GET", f"/v1/audit/answers/{five}/reviews", None),
        (
            "POST",
            f"/v1/audit/answers/{five}/reviews",
            {"citation_verdicts": {}, "answer_verdict": "correct"},
        ),
        ("GET", "/v1/audit/report", None),
        ("GET", "/v1/audit/report.csv", None),
    ]
    for method, url, body in routes:
        anonymous = client.request(method, url, json=body)
        assert anonymous.status_code == 401, url
        assert error(anonymous.json()) == ("authentication_error", "missing_credentials")
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        no_scope = client.request(method, url, json=body, headers=keys.auth(keys.bob_chat))
        assert no_scope.status_code == 403, url
        assert error(no_scope.json()) == ("permission_error", "missing_scope")
        no_role = client.request(method, url, json=body, headers=keys.auth(keys.bob_audit))
        assert no_role.status_code == 403, url
        assert error(no_role.json()) == ("permission_error", "not_an_auditor")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": f"Bearer {token('oscar', ('all-staff', 'auditors'))}"}, 200),
        ({"Authorization": f"Bearer {token('oscar')}"}, 200),  # the policy knows oscar
        ({"Authorization": f"Bearer {token('bob', ('all-staff',))}"}, 403),  # no audit scope
        ({"Authorization": f"Bearer {token('bob', ('auditors',))}"}, 200),  # IdP says auditor
    ],
)
def test_tokens_get_the_audit_scope_from_the_auditor_role(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    assert client.get("/v1/audit/queue", headers=headers).status_code == status


def test_a_service_key_may_act_for_an_auditor_only(client: TestClient, keys: AuditKeys) -> None:
    for user, status in (("oscar", 200), ("bob", 403)):
        headers = keys.auth(keys.act_as) | {"X-Proofdesk-User": user}
        assert client.get("/v1/audit/queue", headers=headers).status_code == status
    assert client.get("/v1/audit/queue", headers=keys.auth(keys.act_as)).status_code == 403


def test_the_whole_review_flow(client: TestClient, keys: AuditKeys, world: AuditWorld) -> None:
    auth, five = keys.auth(keys.oscar), world.answers["five"]
    queue = client.get("/v1/audit/queue", headers=auth).json()["items"]
    assert [i["answer_id"] for i in queue] == [world.answers["weak"]]
    assert queue[0]["reasons"] == ["low_support"]

    picked = client.post("/v1/audit/picks", json={"answer_id": five}, headers=auth)
    assert picked.status_code == 201 and picked.json()["answer_id"] == five
    queue = client.get("/v1/audit/queue", params={"limit": 1}, headers=auth).json()["items"]
    assert [(i["answer_id"], i["reasons"]) for i in queue] == [(five, ["picked"])]

    item = client.get(f"/v1/audit/answers/{five}", headers=auth).json()
    assert "415 555 0134" not in item["question"]
    assert item["reviewable_markers"] == [1, 2, 3, 4, 5] and item["mine"] is None
    for citation in item["citations"]:
        assert citation["state"] == "current" and not citation["changed"]
        assert not citation["restricted"] and citation["quote"]
        assert citation["before"] is not None and citation["after"] is not None

    body = {
        "citation_verdicts": {"1": "supports", "2": "supports", "3": "partially_supports"}
        | {"4": "supports", "5": "irrelevant"},
        "answer_verdict": "partially_correct",
        "note": "Citation 5 is about Wi-Fi, not the VPN. Mail bob@example.com for context.",
    }
    created = client.post(f"/v1/audit/answers/{five}/reviews", json=body, headers=auth)
    assert created.status_code == 201
    review = created.json()
    assert review["citation_verdicts"] == body["citation_verdicts"]
    assert "bob@example.com" not in review["note"] and review["reviewer"].startswith("usr_")

    history = client.get(f"/v1/audit/answers/{five}/reviews", headers=auth).json()["reviews"]
    assert [r["review_id"] for r in history] == [review["review_id"]]
    assert client.get(f"/v1/audit/answers/{five}", headers=auth).json()["mine"] == review
    queue = client.get("/v1/audit/queue", headers=auth).json()["items"]
    assert five not in [i["answer_id"] for i in queue]

    report = client.get("/v1/audit/report", headers=auth).json()
    assert report["reviews"] == 1 and report["overall"]["citations"] == 5
    assert report["overall"]["precision"] == 0.7  # (1 + 1 + .5 + 1 + 0) / 5
    assert report["overall"]["strict_precision"] == 0.6
    assert [w["key"] for w in report["by_week"]] == ["2026-W46"]
    assert report["by_model_prompt"][0]["key"] == "llm:local/test-model | answer@v1"
    assert report["answer_verdicts"] == {"partially_correct": 1}

    exported = client.get("/v1/audit/report.csv", headers=auth)
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["group"] == "overall" and rows[0]["precision"] == "0.7000"


def test_report_bounds_are_iso_datetimes(
    client: TestClient, keys: AuditKeys, world: AuditWorld
) -> None:
    auth = keys.auth(keys.oscar)
    five = world.answers["five"]
    verdicts = dict.fromkeys(("1", "2", "3", "4", "5"), "supports")
    body = {"citation_verdicts": verdicts, "answer_verdict": "correct"}
    assert client.post(f"/v1/audit/answers/{five}/reviews", json=body, headers=auth).is_success
    before = {"until": "2026-11-09T00:00:00Z"}
    after = {"since": "2026-11-09T00:00:00+00:00"}
    assert client.get("/v1/audit/report", params=before, headers=auth).json()["reviews"] == 0
    assert client.get("/v1/audit/report", params=after, headers=auth).json()["reviews"] == 1
    bad = client.get("/v1/audit/report", params={"since": "last week"}, headers=auth)
    assert bad.status_code == 422 and error(bad.json())[1] == "validation_failed"


def test_unknown_answers_and_invalid_reviews(
    client: TestClient, keys: AuditKeys, world: AuditWorld
) -> None:
    auth = keys.auth(keys.oscar)
    five, salary = world.answers["five"], world.answers["salary"]
    for response in (
        client.get("/v1/audit/answers/nope", headers=auth),
        client.get("/v1/audit/answers/nope/reviews", headers=auth),
        client.post("/v1/audit/picks", json={"answer_id": "nope"}, headers=auth),
        client.post(
            "/v1/audit/answers/nope/reviews",
            json={"citation_verdicts": {}, "answer_verdict": "correct"},
            headers=auth,
        ),
    ):
        assert response.status_code == 404
        assert error(response.json()) == ("not_found_error", "answer_not_found")

    missing = client.post(
        f"/v1/audit/answers/{five}/reviews",
        json={"citation_verdicts": {"1": "supports"}, "answer_verdict": "correct"},
        headers=auth,
    )
    assert missing.status_code == 422
    assert error(missing.json()) == ("invalid_request_error", "invalid_review")
    assert "[2], [3], [4], [5] needs a verdict" in missing.json()["error"]["message"]

    restricted = client.post(
        f"/v1/audit/answers/{salary}/reviews",
        json={"citation_verdicts": {"1": "supports"}, "answer_verdict": "correct"},
        headers=auth,
    )
    assert restricted.status_code == 422 and "restricted" in restricted.json()["error"]["message"]
    assert all(
        c["restricted"]
        for c in client.get(f"/v1/audit/answers/{salary}", headers=auth).json()["citations"]
    )

    for body in (
        {"citation_verdicts": {"1": "maybe"}, "answer_verdict": "correct"},
        {"citation_verdicts": {}, "answer_verdict": "fine"},
        {"citation_verdicts": {}, "answer_verdict": "correct", "extra": 1},
        {"citation_verdicts": {}, "answer_verdict": "correct", "note": "x" * 2001},
    ):
        response = client.post(f"/v1/audit/answers/{five}/reviews", json=body, headers=auth)
        assert response.status_code == 422
        assert error(response.json()) == ("invalid_request_error", "validation_failed")
    assert client.get("/v1/audit/answers/bad%20id", headers=auth).status_code == 422
    assert client.get(f"/v1/audit/answers/{five}/reviews", headers=auth).json()["reviews"] == []


def test_the_openapi_schema_lists_the_audit_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/audit/queue",
        "/v1/audit/picks",
        "/v1/audit/answers/{answer_id}",
        "/v1/audit/answers/{answer_id}/reviews",
        "/v1/audit/report",
        "/v1/audit/report.csv",
    } <= set(paths)
    assert not any(p.startswith("/audit") for p in paths)  # the web page stays out of it


def test_an_answer_with_only_restricted_citations_is_skipped_and_goes_to_another_auditor(
    client: TestClient, keys: AuditKeys, world: AuditWorld
) -> None:
    salary, oscar = world.answers["salary"], keys.auth(keys.oscar)
    frank = {"Authorization": f"Bearer {token('frank', ('auditors',))}"}
    assert client.post("/v1/audit/picks", json={"answer_id": salary}, headers=oscar).is_success
    item = client.get(f"/v1/audit/answers/{salary}", headers=oscar).json()
    assert item["all_restricted"] and item["reviewable_markers"] == []
    verdict_only = client.post(
        f"/v1/audit/answers/{salary}/reviews",
        json={"citation_verdicts": {}, "answer_verdict": "correct"},
        headers=oscar,
    )  # today: 201, an overall verdict on an answer oscar could not read
    assert verdict_only.status_code == 422
    assert "skip it with a reason" in verdict_only.json()["error"]["message"]

    no_reason = client.post(f"/v1/audit/answers/{salary}/skip", json={"reason": ""}, headers=oscar)
    assert no_reason.status_code == 422
    skipped = client.post(
        f"/v1/audit/answers/{salary}/skip",
        json={"reason": "all citations restricted for me; ask bob@example.com"},
        headers=oscar,
    )
    assert skipped.status_code == 201, skipped.text
    assert skipped.json()["answer_id"] == salary
    assert "bob@example.com" not in skipped.json()["reason"]  # masked like a note

    def queued(auth: dict[str, str]) -> list[str]:
        items = client.get("/v1/audit/queue", headers=auth).json()["items"]
        return [i["answer_id"] for i in items]

    assert salary not in queued(oscar)
    assert salary in queued(frank)  # frank may read HR's documents: it is his to review
    assert not client.get(f"/v1/audit/answers/{salary}", headers=frank).json()["all_restricted"]
    assert client.get(f"/v1/audit/answers/{salary}/reviews", headers=frank).json() == {
        "reviews": []
    }
    assert client.get("/v1/audit/report", headers=oscar).json()["reviews"] == 0
