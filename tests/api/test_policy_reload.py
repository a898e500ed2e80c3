"""`proofdesk policy reload --server` against a live served app (issue 16, finding 2), and the
admin route it calls, `POST /v1/admin/policy/reload`."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from api import cli
from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.settings import PolicySettings
from tests.fixtures.credentials import bearer, make_token
from tests.fixtures.served_app import HR_QUESTION, ServedApp

RELOAD = "/v1/admin/policy/reload"


def _reload_cli(served: ServedApp, key: str) -> Result:
    """`proofdesk policy reload --server URL --api-key KEY`, the command as installed."""
    args = ["policy", "reload", "--server", served.url, "--api-key", served.keys[key]]
    return CliRunner().invoke(cli.app, args)


def _on_disk(served: ServedApp) -> tuple[str, int]:
    with CasbinPolicyEngine(settings=PolicySettings(policy_path=served.policy_file)) as engine:
        return engine.version, engine.status.rules


def test_the_cli_reloads_a_live_server_and_reports_version_and_rules(served: ServedApp) -> None:
    with served.policy_edited(lambda p: p + "g, user:zed, group:hr\n"):
        version, rules = _on_disk(served)
        done = _reload_cli(served, "ops")
        assert done.exit_code == 0, done.output
        assert f"version {version}, {rules} rules" in done.output
        with served.client() as http:
            r = http.post(RELOAD, headers=served.auth("ops"))
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["version"], body["rules"], body["changed"]) == (version, rules, False)
            # zed is in hr now: the reloaded policy is the one deciding.
            answer = http.post(
                "/v1/chat", json={"question": HR_QUESTION}, headers=bearer(make_token("zed"))
            ).json()
            assert answer["policy_version"] == version
            assert any(c["source_id"] == "hr-kb" for c in answer["citations"]), answer


def test_an_invalid_policy_is_refused_with_the_reason_and_the_last_good_one_kept(
    served: ServedApp,
) -> None:
    with served.client() as http:  # the server serves what is on disk now
        assert http.post(RELOAD, headers=served.auth("ops")).status_code == 200
    good, rules = _on_disk(served)
    broken = "p, group:hr, source:hr-kb, read, perhaps\n"
    with served.policy_edited(lambda p: p + broken):
        done = _reload_cli(served, "ops")
        assert done.exit_code == 1
        assert "422" in done.output and "perhaps" in done.output, done.output
        with served.client() as http:
            r = http.post(RELOAD, headers=served.auth("ops"))
            assert r.status_code == 422
            error = r.json()["error"]
            assert error["code"] == "invalid_policy" and good in error["message"]
            # Still served: dave reads the hr document under the last good version.
            dave = bearer(make_token("dave"))
            answer = http.post("/v1/chat", json={"question": HR_QUESTION}, headers=dave).json()
            assert answer["policy_version"] == good
            assert any(c["source_id"] == "hr-kb" for c in answer["citations"]), answer
    with served.client() as http:  # the file is good again: the next reload clears the error
        r = http.post(RELOAD, headers=served.auth("ops"))
        assert r.status_code == 200 and (r.json()["version"], r.json()["rules"]) == (good, rules)


def test_only_admins_reload(served: ServedApp) -> None:
    done = _reload_cli(served, "audit_oscar")
    assert done.exit_code == 1 and "403" in done.output, done.output
    with served.client() as http:
        assert http.post(RELOAD).status_code == 401
        assert http.post(RELOAD, headers=bearer(make_token("bob"))).status_code == 403
        assert http.post(RELOAD, headers=bearer(make_token("trent"))).status_code == 200
