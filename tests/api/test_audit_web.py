"""The `/audit` page over HTTP (no browser): signing in, what a page shows, forms, headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.types import Answer
from api.api_settings import RateLimitSettings
from api.audit_sessions import AuditSessions
from api.audit_web import COOKIE
from api.ratelimit import RateLimiter
from retrieval.store import StoreError
from tests.fixtures.audit_app import AuditKeys, audit_app, make_authenticator
from tests.fixtures.audit_reviews import AuditWorld, build_world, readable_chunks
from tests.fixtures.kb_index import KbIndex


@pytest.fixture
def world(tmp_path: Path, kb_index: KbIndex) -> Iterator[AuditWorld]:
    built = build_world(tmp_path, kb_index)
    yield built
    built.close()


@pytest.fixture
def setup(world: AuditWorld) -> Iterator[tuple[TestClient, AuditKeys]]:
    authenticator, keys = make_authenticator(world.kb.policy)
    app = audit_app(world.service, authenticator)
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        yield client, keys


def _client(
    world: AuditWorld,
    base_url: str = "http://127.0.0.1",
    *,
    rate_limiter: RateLimiter | None = None,
    sessions: AuditSessions | None = None,
) -> tuple[TestClient, AuditKeys]:
    authenticator, keys = make_authenticator(world.kb.policy)
    app = audit_app(world.service, authenticator, rate_limiter=rate_limiter, sessions=sessions)
    return TestClient(app, base_url=base_url, follow_redirects=False), keys


def sign_in(client: TestClient, key: str) -> None:
    response = client.post("/audit/login", data={"credential": key, "next": "/audit"})
    assert response.status_code == 303, response.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{32})"', html)
    assert found is not None
    return found.group(1)


def test_pages_need_a_signed_in_auditor(setup: tuple[TestClient, AuditKeys]) -> None:
    client, keys = setup
    response = client.get("/audit/report?since=2026-01-01")
    assert response.status_code == 303
    assert (
        response.headers["location"] == "/audit/login?next=%2Faudit%2Freport%3Fsince%3D2026-01-01"
    )
    for key, status, text in (
        ("pdk_wrong", 401, "invalid API key"),
        (keys.bob_chat, 403, "needs the &#39;audit&#39; scope"),
        (keys.bob_audit, 403, "You do not hold the auditor role."),
    ):
        page = client.post("/audit/login", data={"credential": key, "next": "/audit"})
        assert page.status_code == status and text in page.text
        assert COOKIE not in page.cookies
    response = client.post(
        "/audit/login", data={"credential": keys.oscar, "next": "https://evil.example/"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/audit"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/audit" in cookie
    assert client.get("/audit").status_code == 200
    assert client.get("/audit", headers={"Cookie": f"{COOKIE}=pdk_wrong"}).status_code == 303


def test_a_bearer_header_works_instead_of_the_cookie(setup: tuple[TestClient, AuditKeys]) -> None:
    client, keys = setup
    page = client.get("/audit", headers=AuditKeys.auth(keys.oscar))
    assert page.status_code == 200 and 'data-page="queue"' in page.text


def test_pages_carry_a_strict_content_security_policy(
    setup: tuple[TestClient, AuditKeys], world: AuditWorld
) -> None:
    client, keys = setup
    sign_in(client, keys.oscar)
    page = client.get(f"/audit/answers/{world.answers['five']}")
    assert page.status_code == 200
    nonce = re.search(r"script-src 'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in page.text
    assert f'<style nonce="{nonce.group(1)}">' in page.text
    assert "http" not in re.sub(r'href="http[^"]*"', "", page.text.split("<body")[0])  # no CDN
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_review_page_highlights_each_span_and_hides_restricted_ones(
    setup: tuple[TestClient, AuditKeys], world: AuditWorld
) -> None:
    client, keys = setup
    sign_in(client, keys.oscar)
    five = world.service.item(world.answers["five"], world.oscar)
    html = client.get(f"/audit/answers/{five.answer_id}").text
    assert "415 555 0134" not in html
    assert html.count("<mark>") == 5 and html.count('type="radio" name="v') == 20
    for citation in five.citations:
        assert f'id="c{citation.marker}"' in html and citation.title in html
    salary = world.service.item(
        world.answers["salary"], world.kb.policy.principal_for("frank", ["auditors"])
    )
    hidden = client.get(f"/audit/answers/{salary.answer_id}").text
    assert hidden.count('<span class="badge bad">restricted</span>') == len(salary.citations)
    assert "<mark>" not in hidden and 'name="v1"' not in hidden
    for citation in salary.citations:
        assert citation.title not in hidden and citation.quote not in hidden
    moved = client.get(f"/audit/answers/{world.answers['moved']}").text
    assert moved.count("document changed since the answer") == 2
    assert "document no longer indexed" in moved
    missing = client.get("/audit/answers/no-such-answer")
    assert missing.status_code == 404 and "no recorded answer" in missing.text


def test_recorded_text_is_escaped(setup: tuple[TestClient, AuditKeys], world: AuditWorld) -> None:
    client, keys = setup
    chunks = readable_chunks(world.kb, "oscar", "VPN", 1)
    answer = Answer(
        answer_id=uuid.uuid4().hex,
        status="refused_no_evidence",
        answer="<img src=x onerror=alert(1)>",
        citations=[],
        conversation_id=uuid.uuid4().hex,
        question='<script>alert("q")</script> about ' + chunks[0].title,
        policy_version="p",
        index_version="i",
        composer="extractive",
    )
    world.audit.record(answer, world.oscar)
    sign_in(client, keys.oscar)
    html = client.get(f"/audit/answers/{answer.answer_id}").text
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_submitting_a_review(setup: tuple[TestClient, AuditKeys], world: AuditWorld) -> None:
    client, keys = setup
    sign_in(client, keys.oscar)
    weak = world.answers["weak"]
    csrf = csrf_of(client.get(f"/audit/answers/{weak}").text)
    form = {"csrf": csrf, "v1": "supports", "answer_verdict": "correct", "note": ""}
    forged = client.post(f"/audit/answers/{weak}/review", data=form | {"csrf": "0" * 32})
    assert forged.status_code == 403 and "Invalid form token" in forged.text
    incomplete = client.post(f"/audit/answers/{weak}/review", data=form)
    assert incomplete.status_code == 422
    assert "citation [2] needs a verdict" in incomplete.text
    assert re.search(r'value="supports" required data-default checked', incomplete.text)
    done = client.post(f"/audit/answers/{weak}/review", data=form | {"v2": "irrelevant"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/audit/next?after={weak}&saved={weak}"
    following = client.get(done.headers["location"])
    assert (
        following.status_code == 303
        and following.headers["location"] == f"/audit?empty=1&saved={weak}"
    )
    queue = client.get(following.headers["location"]).text
    assert "Review of" in queue and "you are through the queue" in queue
    [review] = world.service.history(weak, world.oscar)
    assert dict(review.citation_verdicts) == {1: "supports", 2: "irrelevant"}


def test_picking_by_id_and_the_report_downloads(
    setup: tuple[TestClient, AuditKeys], world: AuditWorld
) -> None:
    client, keys = setup
    sign_in(client, keys.oscar)
    five = world.answers["five"]
    csrf = csrf_of(client.get("/audit").text)
    picked = client.post("/audit/picks", data={"csrf": csrf, "answer_id": five})
    assert picked.status_code == 303 and picked.headers["location"] == f"/audit/answers/{five}"
    assert client.post("/audit/picks", data={"csrf": csrf, "answer_id": "nope"}).status_code == 404
    assert five in client.get("/audit").text
    verdicts = {f"v{m}": "supports" for m in range(1, 6)}
    form = {"csrf": csrf, "answer_verdict": "correct", **verdicts}
    assert client.post(f"/audit/answers/{five}/review", data=form).status_code == 303
    report = client.get("/audit/report")
    assert report.status_code == 200
    assert re.search(r'id="review-count">1<', report.text)
    assert re.search(r'id="overall-precision">100.0%<', report.text)
    assert client.get("/audit/report?until=2026-11-09").text.count('id="review-count">0<') == 1
    exported = client.get("/audit/report.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.startswith("group,key,")
    assert client.get("/audit/report.json").json()["reviews"] == 1
    signed_out = client.post("/audit/logout", data={"csrf": csrf})
    assert signed_out.status_code == 303 and client.get("/audit").status_code == 303


def test_the_cookie_holds_a_signed_session_id_never_the_key(
    setup: tuple[TestClient, AuditKeys],
) -> None:
    client, keys = setup
    response = client.post("/audit/login", data={"credential": keys.oscar, "next": "/audit"})
    cookie = response.cookies[COOKIE]

    assert keys.oscar not in response.headers["set-cookie"]
    assert client.get("/audit", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 200
    # the key itself, or a session id with a forged signature, is no session
    for forged in (keys.oscar, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")):
        page = client.get("/audit", headers={"Cookie": f"{COOKIE}={forged}"})
        assert page.status_code == 303 and "expired=1" in page.headers["location"]
    # signing out ends the session in the server, not only in this browser
    queue = client.get("/audit", headers={"Cookie": f"{COOKIE}={cookie}"})
    client.post(
        "/audit/logout",
        data={"csrf": csrf_of(queue.text)},
        headers={"Cookie": f"{COOKIE}={cookie}"},
    )
    assert client.get("/audit", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 303


def test_a_session_expires_and_is_secure_over_https(world: AuditWorld) -> None:
    now = [1000.0]
    sessions = AuditSessions(ttl_seconds=900, clock=lambda: now[0])
    https, keys = _client(world, "https://127.0.0.1", sessions=sessions)
    with https as client:
        response = client.post("/audit/login", data={"credential": keys.oscar, "next": "/audit"})
        set_cookie = response.headers["set-cookie"]
        assert "Secure" in set_cookie and "Max-Age=900" in set_cookie and "HttpOnly" in set_cookie
        assert client.get("/audit").status_code == 200
        now[0] += 901
        page = client.get("/audit")
        assert page.status_code == 303 and "expired=1" in page.headers["location"]


def test_sign_in_attempts_are_rate_limited_per_client(world: AuditWorld) -> None:
    limiter = RateLimiter(settings=RateLimitSettings(login="3/minute"))
    limited, keys = _client(world, rate_limiter=limiter)
    with limited as client:
        statuses = [
            client.post("/audit/login", data={"credential": "pdk_wrong"}).status_code
            for _ in range(3)
        ]
        refused = client.post("/audit/login", data={"credential": keys.oscar, "next": "/audit"})

    assert statuses == [401, 401, 401]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "too many sign-in attempts" in refused.text
    assert COOKIE not in refused.cookies


def test_the_review_page_shows_the_answers_warning_flags(
    setup: tuple[TestClient, AuditKeys], world: AuditWorld
) -> None:
    client, keys = setup
    answer = Answer(
        answer_id=uuid.uuid4().hex,
        status="refused_no_evidence",
        answer="I could not find this in the approved sources.",
        citations=[],
        conversation_id=uuid.uuid4().hex,
        question="Where do I send my one-time code?",
        policy_version="p",
        index_version="i",
        composer="extractive",
        flags=("evidence_injection_suspected",),
    )
    world.audit.record(answer, world.oscar)
    sign_in(client, keys.oscar)

    html = client.get(f"/audit/answers/{answer.answer_id}").text
    as_json = client.get(
        f"/v1/audit/answers/{answer.answer_id}", headers=AuditKeys.auth(keys.oscar)
    )

    assert 'data-flag="evidence_injection_suspected"' in html
    assert "evidence held instructions" in html
    assert as_json.json()["flags"] == ["evidence_injection_suspected"]


def test_an_answer_with_only_restricted_citations_offers_a_skip_not_a_verdict(
    setup: tuple[TestClient, AuditKeys], world: AuditWorld
) -> None:
    client, keys = setup
    sign_in(client, keys.oscar)
    salary = world.answers["salary"]
    page = client.get(f"/audit/answers/{salary}").text
    assert 'id="skip-answer"' in page
    assert 'name="answer_verdict"' not in page  # today: asks for an overall verdict
    csrf = csrf_of(page)
    empty = client.post(f"/audit/answers/{salary}/skip", data={"csrf": csrf, "reason": " "})
    assert empty.status_code == 422 and "a skip needs a reason" in empty.text

    done = client.post(
        f"/audit/answers/{salary}/skip",
        data={"csrf": csrf, "reason": "Every citation is restricted for me."},
        follow_redirects=False,
    )

    assert done.status_code == 303
    frank = world.kb.policy.principal_for("frank", ["auditors"])
    world.service.pick(salary, frank)
    assert salary not in [i.answer_id for i in world.service.queue(world.oscar)]
    assert salary in [i.answer_id for i in world.service.queue(frank)]


def test_every_page_answers_a_mapped_error_as_a_page(
    setup: tuple[TestClient, AuditKeys], world: AuditWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The status comes from api.errors' one table; the queue page used to let a store outage
    # through as the JSON API's body while the review page rendered it.
    client, keys = setup
    sign_in(client, keys.oscar)

    def unavailable(*_args: object, **_kwargs: object) -> None:
        raise StoreError("the index is closed")

    monkeypatch.setattr(world.service, "queue", unavailable)
    monkeypatch.setattr(world.service, "item", unavailable)
    for path in ("/audit", f"/audit/answers/{world.answers['five']}"):
        page = client.get(path)
        assert page.status_code == 503, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "the index is not available" in page.text
