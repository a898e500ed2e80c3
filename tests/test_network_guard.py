"""The suite's loopback guard (`tests/fixtures/network_guard.py`) is installed and refuses
other hosts."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.fixtures.network_guard import NonLoopbackError


def test_a_connection_beyond_loopback_fails_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        with pytest.raises(NonLoopbackError, match=r"10\.255\.255\.1"):
            sock.connect(("10.255.255.1", 80))


def test_a_name_lookup_beyond_loopback_fails_and_clients_see_it() -> None:
    with pytest.raises(NonLoopbackError, match=r"example\.com"):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(httpx.ConnectError, match="loopback"):
        httpx.get("https://example.com/", timeout=30)


def test_loopback_still_works() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        for host in ("127.0.0.1", "localhost"):
            with socket.create_connection((host, port), timeout=5):
                accepted, _ = server.accept()
                accepted.close()
