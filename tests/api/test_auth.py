"""Identity: API keys and scopes, act_as, and JWT bearer tokens (HS256, RS256, JWKS), on the
app as `proofdesk serve` builds it (`tests/fixtures/served_app.py`); RS256 and JWKS each on a served
app of their own, configured with the identity provider's public key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.api_settings import JwtSettings
from api.auth import ApiKeyEntry, ApiKeysFileError, ApiKeyStore, hash_api_key
from retrieval.embedding.embedder import Embedder
from tests.fixtures.credentials import AUDIENCE, ISSUER, bearer, make_token
from tests.fixtures.served_app import HR_QUESTION, STAFF_QUESTION, ServedApp, start_served

CHAT: dict[str, Any] = {"question": STAFF_QUESTION}


def _error(r: Any) -> dict[str, str]:
    error: dict[str, str] = r.json()["error"]
    assert set(error) == {"type", "code", "message"}
    return error


def test_no_credentials_is_401_with_the_error_body(client: httpx.Client) -> None:
    for method, path in [
        ("POST", "/v1/chat"),
        ("POST", "/v1/chat/stream"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/answers/abc"),
        ("POST", "/v1/answers/abc/feedback"),
        ("GET", "/v1/sources"),
        ("POST", "/v1/sources/staff-kb/sync"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/abc"),
    ]:
        body: dict[str, Any] = {"rating": 1} if path.endswith("feedback") else CHAT
        if path.endswith("completions"):
            body = {"messages": [{"role": "user", "content": "hi"}]}
        r = client.request(method, path, json=body if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.text)
        assert _error(r) == {
            "type": "authentication_error",
            "code": "missing_credentials",
            "message": _error(r)["message"],
        }
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_an_unknown_key_is_401(client: httpx.Client) -> None:
    r = client.post("/v1/chat", json=CHAT, headers=bearer("pdk_not-a-real-key"))
    assert r.status_code == 401 and _error(r)["code"] == "invalid_credentials"
    r = client.post("/v1/chat", json=CHAT, headers={"Authorization": "Basic Ym9iOnB3"})
    assert r.status_code == 401


def test_missing_scope_is_403(client: httpx.Client, served: ServedApp) -> None:
    r = client.post("/v1/chat", json=CHAT, headers=served.auth("none"))
    assert r.status_code == 403
    assert _error(r) | {"message": ""} == {
        "type": "permission_error",
        "code": "missing_scope",
        "message": "",
    }
    assert client.post("/v1/chat", json=CHAT, headers=served.auth("ops")).status_code == 403
    assert client.post("/v1/sources/staff-kb/sync", headers=served.auth("chat")).status_code == 403
    assert client.get("/v1/jobs", headers=served.auth("chat")).status_code == 403
    r = client.post("/v1/sources/staff-kb/sync", headers=bearer(make_token("bob")))
    assert r.status_code == 403


def test_a_keys_own_principal_is_used_without_act_as(
    client: httpx.Client, served: ServedApp
) -> None:
    # svc-widget is in no group: it reads public documents only, never the staff documents.
    r = client.post("/v1/chat", json=CHAT, headers=served.auth("chat"))
    assert r.status_code == 200
    assert r.json()["status"] == "refused_no_evidence", r.json()
    assert all(c["source_id"] != "staff-kb" for c in r.json()["citations"])


def test_act_as_answers_as_the_named_user(client: httpx.Client, served: ServedApp) -> None:
    headers = {**served.auth("act_as"), "X-Proofdesk-User": "bob"}
    r = client.post("/v1/chat", json=CHAT, headers=headers)
    assert r.status_code == 200
    assert any(c["source_id"] == "staff-kb" for c in r.json()["citations"])
    # The answer belongs to bob: bob reads it back with his own token, the key's principal
    # acting for someone else does not.
    answer_id = r.json()["answer_id"]
    assert client.get(f"/v1/answers/{answer_id}", headers=bearer(make_token("bob"))).is_success
    other = {**served.auth("act_as"), "X-Proofdesk-User": "alice"}
    assert client.get(f"/v1/answers/{answer_id}", headers=other).status_code == 404


def test_act_as_groups_go_through_the_policy(client: httpx.Client, served: ServedApp) -> None:
    question = {"question": HR_QUESTION}
    as_stranger = {**served.auth("act_as"), "X-Proofdesk-User": "newhire"}
    with_groups = {**as_stranger, "X-Proofdesk-Groups": "hr-managers, not-a-group"}
    plain = client.post("/v1/chat", json=question, headers=as_stranger).json()
    grouped = client.post("/v1/chat", json=question, headers=with_groups).json()
    assert all(c["source_id"] != "hr-kb" for c in plain["citations"])
    assert any(c["source_id"] == "hr-kb" for c in grouped["citations"])


def test_act_as_needs_the_scope_and_a_valid_user(client: httpx.Client, served: ServedApp) -> None:
    r = client.post(
        "/v1/chat", json=CHAT, headers={**served.auth("chat"), "X-Proofdesk-User": "bob"}
    )
    assert r.status_code == 403
    r = client.post(
        "/v1/chat", json=CHAT, headers={**served.auth("act_as"), "X-Proofdesk-User": "bob smith"}
    )
    assert r.status_code == 422 and _error(r)["code"] == "invalid_principal"
    r = client.post(
        "/v1/chat", json=CHAT, headers={**served.auth("act_as"), "X-Proofdesk-Groups": "hr"}
    )
    assert r.status_code == 400 and _error(r)["code"] == "end_user_required"
    r = client.post(
        "/v1/chat", json=CHAT, headers={**bearer(make_token("bob")), "X-Proofdesk-User": "x"}
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("token_kwargs", "code"),
    [
        ({"expires_in": -3600}, "token_expired"),
        ({"audience": "someone-else"}, "invalid_audience"),
        ({"issuer": "https://evil.test"}, "invalid_issuer"),
        ({"key": "another-secret-of-the-same-length-000"}, "invalid_token"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "bad-signature"],
)
def test_bad_tokens_are_401(client: httpx.Client, token_kwargs: dict[str, Any], code: str) -> None:
    r = client.post("/v1/chat", json=CHAT, headers=bearer(make_token("bob", **token_kwargs)))
    assert r.status_code == 401
    assert _error(r)["code"] == code


def test_malformed_and_unsigned_tokens_are_401(client: httpx.Client) -> None:
    claims = {"sub": "bob", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800}
    unsigned = jwt.encode(claims, "", algorithm="none")
    for token in ["not.a.jwt", "garbage", unsigned]:
        r = client.post("/v1/chat", json=CHAT, headers=bearer(token))
        assert r.status_code == 401, token
    no_exp = jwt.encode({"sub": "bob", "iss": ISSUER, "aud": AUDIENCE}, "x" * 40)
    assert client.post("/v1/chat", json=CHAT, headers=bearer(no_exp)).status_code == 401


def test_token_groups_and_roles_come_from_the_policy(client: httpx.Client) -> None:
    # oscar is an auditor in the policy: his token carries the audit scope (what auditors
    # read: test_served_access.py, test_answers.py).
    assert client.get("/v1/jobs", headers=bearer(make_token("oscar"))).is_success
    assert client.get("/v1/jobs", headers=bearer(make_token("alice"))).status_code == 403
    # trent is an admin in the policy; the IdP's groups count when the policy defines them.
    assert client.get("/v1/sources", headers=bearer(make_token("trent"))).is_success
    assert client.get("/v1/sources", headers=bearer(make_token("bob", ("admins",)))).is_success
    assert (
        client.get("/v1/sources", headers=bearer(make_token("bob", ("root",)))).status_code == 403
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rs256_with_a_public_key_file(
    embedder: Embedder, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "idp.pem").write_bytes(pem)
    settings = JwtSettings(public_key_file=tmp_path / "idp.pem", issuer=ISSUER, audience=AUDIENCE)
    with start_served(tmp_path, embedder, api={"jwt": settings}) as app, app.client() as http:
        good = make_token("bob", key=rsa_key, algorithm="RS256")
        assert http.post("/v1/chat", json=CHAT, headers=bearer(good)).status_code == 200
        # An HS256 token signed with the public key itself (algorithm confusion) is refused.
        forged = make_token("bob", key="x" * 40)
        assert http.post("/v1/chat", json=CHAT, headers=bearer(forged)).status_code == 401
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bad = make_token("bob", key=other, algorithm="RS256")
        r = http.post("/v1/chat", json=CHAT, headers=bearer(bad))
        assert r.status_code == 401 and _error(r)["code"] == "invalid_token"


def test_rs256_with_a_jwks_file(
    embedder: Embedder, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk |= {"kid": "key-2026", "use": "sig", "alg": "RS256"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    settings = JwtSettings(jwks_file=tmp_path / "jwks.json", issuer=ISSUER, audience=AUDIENCE)
    with start_served(tmp_path, embedder, api={"jwt": settings}) as app, app.client() as http:
        good = make_token("bob", key=rsa_key, algorithm="RS256", headers={"kid": "key-2026"})
        assert http.post("/v1/chat", json=CHAT, headers=bearer(good)).status_code == 200
        unknown = make_token("bob", key=rsa_key, algorithm="RS256", headers={"kid": "old"})
        assert http.post("/v1/chat", json=CHAT, headers=bearer(unknown)).status_code == 401


def test_keys_file_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"id": "k", "hash": "md5:abc", "scopes": []}]}))
    with pytest.raises(ApiKeysFileError, match=r"keys\.json"):
        ApiKeyStore.load(path)
    with pytest.raises(ApiKeysFileError, match="not found"):
        ApiKeyStore.load(tmp_path / "missing.yaml")
    entry = ApiKeyEntry(id="k", hash=hash_api_key("pdk_x"), scopes=frozenset({"chat"}))
    store = ApiKeyStore([entry])
    assert store.lookup("pdk_x") == entry and store.lookup("pdk_y") is None
    assert hash_api_key("pdk_x").startswith("sha256:") and "pdk_x" not in hash_api_key("pdk_x")
