"""Tests stay on loopback: a connection or a name lookup for any other host fails at once,
naming the host, instead of reaching the internet or hanging on a timeout.

Installed for the whole session by `tests/conftest.py` (`install`). It guards this process:
`socket.socket.connect`/`connect_ex` (every client library ends there) and `getaddrinfo` (a
lookup is already a network call). Unix sockets pass; so do 127.0.0.0/8, ::1 and `localhost`.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

__all__ = ["NonLoopbackError", "install"]

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", ""})


class NonLoopbackError(OSError):
    """A test tried to reach a host other than this machine."""


def _is_loopback(host: object) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _check(host: object) -> None:
    if not _is_loopback(host):
        raise NonLoopbackError(f"tests stay on loopback: refused to reach {host!r}")


def install() -> None:
    """Guard this process (idempotent)."""
    if getattr(socket.socket.connect, "_loopback_guard", False):
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address[0])
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address[0])
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        _check(host)
        return real_getaddrinfo(host, *args, **kwargs)

    connect._loopback_guard = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
