"""Access on the served app (issue 16, findings 1, 3, 5, 6), over HTTP on a live server built
exactly as `proofdesk serve` builds it (`tests/fixtures/served_app.py`).

dave reads the salary bands through `g, user:dave, group:hr`; bob is all staff; oscar is an
auditor (all staff, not hr); the keys `widget-a`/`widget-b` have no user, `audit-keyonly` has the
audit scope and no user, `audit-svc` the audit scope and a user that is not an auditor.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.settings import PolicySettings
from retrieval.embedding.embedder import Embedder
from tests.fixtures.credentials import bearer, make_token
from tests.fixtures.databases import POSTGRES_URL
from tests.fixtures.kb_index import KB
from tests.fixtures.served_app import HR_QUESTION, STAFF_QUESTION, ServedApp, start_served

DAVE_IN_HR = "g, user:dave, group:hr\n"
HR_TEXT = "compensation committee"  # words of the hr-only document


def _without_dave_in_hr(policy: str) -> str:
    assert DAVE_IN_HR in policy
    return policy.replace(DAVE_IN_HR, "")


def _hr_sources_denied(policy: str) -> str:
    return policy + "p, group:hr, source:hr-kb, read, deny\n"


def _ask(http: httpx.Client, headers: dict[str, str], question: str, **extra: Any) -> Any:
    r = http.post("/v1/chat", json={"question": question, **extra}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _cites_hr(body: dict[str, Any]) -> bool:
    return any(c["source_id"] == "hr-kb" for c in body["citations"])


def _streamed(http: httpx.Client, headers: dict[str, str], question: str) -> str:
    r = http.post("/v1/chat/stream", json={"question": question}, headers=headers)
    assert r.status_code == 200, r.text
    return r.text


def _completion(http: httpx.Client, headers: dict[str, str], question: str) -> Any:
    body = {"model": "proofdesk", "messages": [{"role": "user", "content": question}]}
    r = http.post("/v1/chat/completions", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


# --- 1. a policy edit reaches the very next request, on every path ---------------------------


def test_a_policy_file_edit_reaches_the_very_next_chat_request(served: ServedApp) -> None:
    dave = bearer(make_token("dave"))
    with served.client() as http:
        before = _ask(http, dave, HR_QUESTION)
        assert before["status"] == "answered" and _cites_hr(before), before
        for edit in (_without_dave_in_hr, _hr_sources_denied):
            with served.policy_edited(edit):
                after = _ask(http, dave, HR_QUESTION)  # the very next request
                assert not _cites_hr(after) and HR_TEXT not in after["answer"], after
                assert after["status"] != "answered"
                # The answer records the version it was decided under: the edited one.
                assert after["policy_version"] != before["policy_version"]
                streamed = _streamed(http, dave, HR_QUESTION)
                assert HR_TEXT not in streamed and '"hr-kb"' not in streamed
                completion = _completion(http, dave, HR_QUESTION)
                assert HR_TEXT not in completion["choices"][0]["message"]["content"]
                assert completion["proofdesk"]["policy_version"] == after["policy_version"]
            restored = _ask(http, dave, HR_QUESTION)
            assert _cites_hr(restored) and restored["policy_version"] == before["policy_version"]


def test_the_audit_surface_sees_a_policy_edit_on_the_next_request(served: ServedApp) -> None:
    oscar = bearer(make_token("oscar"))
    with served.client() as http:
        assert http.get("/v1/audit/queue", headers=oscar).status_code == 200
        with served.policy_edited(lambda p: p.replace("g, user:oscar, group:auditors\n", "")):
            assert http.get("/v1/audit/queue", headers=oscar).status_code == 403
            assert http.get("/v1/jobs", headers=oscar).status_code == 403


# --- 3. GET /v1/answers/{id}: the asker, re-checked now; auditors by the audit page's rules ----


def test_an_asker_no_longer_sees_citations_they_lost(served: ServedApp) -> None:
    dave = bearer(make_token("dave"))
    with served.client() as http:
        answer = _ask(http, dave, HR_QUESTION)
        assert _cites_hr(answer)
        url = f"/v1/answers/{answer['answer_id']}"
        shown = http.get(url, headers=dave).json()
        assert _cites_hr(shown) and HR_TEXT in shown["answer"]
        assert "citations_withheld" not in shown["flags"]
        with served.policy_edited(_without_dave_in_hr):
            r = http.get(url, headers=dave)
        assert r.status_code == 200
        withheld = r.json()
        assert not _cites_hr(withheld), withheld
        assert HR_TEXT not in withheld["answer"] and HR_TEXT not in json.dumps(withheld)
        assert "[text from a document you may not read]" in withheld["answer"]
        assert "citations_withheld" in withheld["flags"]


def test_others_answers_only_for_auditors_and_restricted_passages_hidden(
    served: ServedApp,
) -> None:
    dave, bob = bearer(make_token("dave")), bearer(make_token("bob"))
    with served.client() as http:
        hr = _ask(http, dave, HR_QUESTION)
        staff = _ask(http, bob, STAFF_QUESTION)
        assert _cites_hr(hr) and staff["status"] == "answered", (hr, staff)
        hr_url, staff_url = (f"/v1/answers/{a['answer_id']}" for a in (hr, staff))
        # Not the asker, not an auditor: 404, exactly as for an id that does not exist.
        missing = http.get("/v1/answers/does-not-exist", headers=served.auth("audit_keyonly"))
        for who in ("audit_keyonly", "audit_svc", "widget_a"):
            r = http.get(hr_url, headers=served.auth(who))
            assert r.status_code == 404, (who, r.text)
            assert r.json() == missing.json()
        assert http.get(hr_url, headers=bearer(make_token("alice"))).status_code == 404
        # An auditor: the audit page's rules. oscar may not read hr documents.
        for oscar in (bearer(make_token("oscar")), served.auth("audit_oscar")):
            audited = http.get(hr_url, headers=oscar)
            assert audited.status_code == 200, audited.text
            body = audited.json()
            assert not _cites_hr(body) and HR_TEXT not in json.dumps(body)
            assert "[text from a document you may not read]" in body["answer"]
            readable = http.get(staff_url, headers=oscar).json()
            assert [c["source_id"] for c in readable["citations"]] == [
                c["source_id"] for c in staff["citations"]
            ]
        # The audit page hides the same passage.
        page = http.get(f"/v1/audit/answers/{hr['answer_id']}", headers=bearer(make_token("oscar")))
        if page.status_code == 200:  # once the audit record is written (a background worker)
            assert all(c["restricted"] for c in page.json()["citations"])


# --- 5. sources and jobs: admins and auditors only ---------------------------------------------


def test_sources_and_jobs_need_the_auditor_role_or_admin(served: ServedApp) -> None:
    with served.client() as http:
        for path in ("/v1/sources", "/v1/jobs"):
            for who in ("audit_keyonly", "audit_svc", "widget_a"):
                r = http.get(path, headers=served.auth(who))
                assert r.status_code == 403, (path, who, r.text)
            assert http.get(path, headers=bearer(make_token("bob"))).status_code == 403
            for allowed in (
                served.auth("ops"),
                served.auth("audit_oscar"),
                bearer(make_token("oscar")),
                bearer(make_token("trent")),
            ):
                assert http.get(path, headers=allowed).status_code == 200, path
        sources = http.get("/v1/sources", headers=served.auth("audit_oscar")).json()
        assert {s["id"] for s in sources["sources"]} == {"staff-kb", "hr-kb"}


# --- 6. conversations are owned by the key (or its user) -------------------------------------


def test_keys_without_a_user_do_not_share_conversations(served: ServedApp) -> None:
    follow_up = "and what about long-term lockers?"
    with served.client() as http:
        first = _ask(http, served.auth("widget_a"), STAFF_QUESTION, conversation_id="desk-42")
        assert first["conversation_id"] == "desk-42"
        other = _ask(http, served.auth("widget_b"), follow_up, conversation_id="desk-42")
        assert "follow_up_condensed" not in other["flags"], other
        own = _ask(http, served.auth("widget_a"), follow_up, conversation_id="desk-42")
        assert "follow_up_condensed" in own["flags"], own
        # widget-a's answer is its own: widget-b cannot read it back either.
        url = f"/v1/answers/{first['answer_id']}"
        assert http.get(url, headers=served.auth("widget_a")).status_code == 200
        assert http.get(url, headers=served.auth("widget_b")).status_code == 404


@pytest.mark.postgres
def test_a_policy_database_edit_reaches_chat_within_the_reload_interval(
    tmp_path: Path, embedder: Embedder
) -> None:
    interval = 1.0
    policy = PolicySettings(
        database_url=POSTGRES_URL,
        table_name=f"policy_served_{uuid.uuid4().hex[:12]}",
        reload_interval_seconds=interval,
    )
    lines = [
        line.strip()
        for line in (KB / "policy.csv").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    editor = CasbinPolicyEngine(settings=policy)
    try:
        editor.add_rules(lines)
        with start_served(tmp_path, embedder, policy=policy) as served, served.client() as http:
            dave = bearer(make_token("dave"))
            before = _ask(http, dave, HR_QUESTION)
            assert _cites_hr(before), before
            editor.remove_rules([DAVE_IN_HR.strip()])  # another replica's edit, in the table
            time.sleep(interval + 0.2)
            after = _ask(http, dave, HR_QUESTION)
            assert not _cites_hr(after) and HR_TEXT not in after["answer"], after
            assert after["policy_version"] == editor.version != before["policy_version"]
    finally:
        editor.close()
        cleanup = create_engine(POSTGRES_URL)
        with cleanup.begin() as connection:
            connection.execute(text(f'DROP TABLE IF EXISTS "{policy.table_name}"'))
        cleanup.dispose()
