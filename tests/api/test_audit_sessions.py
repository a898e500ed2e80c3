"""The audit page's session store: bounded, oldest out first, expiry fixed at sign-in."""

from __future__ import annotations

from api.audit_sessions import AuditSessions


def test_beyond_the_limit_the_oldest_session_goes_first_even_when_used() -> None:
    sessions = AuditSessions(max_sessions=2)
    first, _ = sessions.open("key-1")
    second, _ = sessions.open("key-2")
    assert sessions.get(first) is not None  # used, still the oldest

    third, _ = sessions.open("key-3")

    assert sessions.get(first) is None
    assert sessions.get(second) is not None
    assert sessions.get(third) is not None


def test_a_session_ends_at_its_expiry_whatever_its_use() -> None:
    now = [1000.0]
    sessions = AuditSessions(ttl_seconds=60, clock=lambda: now[0])
    cookie, session = sessions.open("key-1")
    assert session.expires_at == 1060.0
    now[0] = 1059.0
    assert sessions.get(cookie) is not None
    now[0] = 1060.0
    assert sessions.get(cookie) is None


def test_a_tampered_cookie_names_no_session() -> None:
    sessions = AuditSessions()
    cookie, _ = sessions.open("key-1")
    assert sessions.get(cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    sessions.close(cookie)
    assert sessions.get(cookie) is None
