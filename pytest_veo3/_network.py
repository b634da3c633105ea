"""Replay's network guard: while a cassette replays, nothing leaves the machine.

Every way Python's ``socket`` module reaches another host is refused unless the other end is
loopback: ``connect``/``connect_ex`` and ``sendto``/``sendmsg`` with an address (UDP, TCP
Fast Open's ``sendto(..., MSG_FASTOPEN, address)``) on any family but ``AF_UNIX``, and name
lookups (``getaddrinfo``, ``gethostbyname(_ex)``, ``gethostbyaddr``, ``getnameinfo``) of
anything but a loopback name, this machine's own name or a numeric address (which needs no
lookup). The error names the test and the host.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["NetworkBlockedError", "is_loopback_url", "loopback_only"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_SOCKET_METHODS = ("connect", "connect_ex", "sendto", "sendmsg")
_LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")


class NetworkBlockedError(OSError):
    """A test using recorded_veo3 in replay mode tried to reach a non-loopback address."""


def _host_text(host: object) -> str:
    if isinstance(host, bytes | bytearray):
        return bytes(host).decode("ascii", "replace")
    return str(host)


def _address(host: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(_host_text(host).split("%", 1)[0])
    except ValueError:
        return None


def _is_loopback(host: object) -> bool:
    """A loopback address or name; this machine's own name counts (it names no remote)."""
    name = _host_text(host).rstrip(".").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    if name and name == socket.gethostname().lower():
        return True
    address = _address(name)
    return address is not None and address.is_loopback


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names a server on this machine (the emulator, say)."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return bool(host) and _is_loopback(host)


def _needs_no_lookup(host: object) -> bool:
    """No host or an empty one (a passive socket) or a numeric address: nothing is asked of
    a DNS server."""
    return host is None or _host_text(host) == "" or _address(host) is not None


@contextlib.contextmanager
def loopback_only(test: str) -> Iterator[None]:
    """While open, ``socket`` refuses every non-loopback destination and name lookup."""

    def refuse(target: object, how: str) -> None:
        raise NetworkBlockedError(
            f"veo3: network access to {target!r} ({how}) is blocked while {test} replays its "
            "cassette; record with --veo3-record-mode=once to talk to a server"
        )

    def check(sock: socket.socket, address: object, how: str) -> None:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return  # a path on this machine
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) and address else address
            if _is_loopback(host):
                return
        refuse(address, how)

    # sendmsg is missing on Windows.
    real_methods = {
        n: getattr(socket.socket, n) for n in _SOCKET_METHODS if hasattr(socket.socket, n)
    }
    real_lookups = {n: getattr(socket, n) for n in _LOOKUPS if hasattr(socket, n)}

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address, "connect")
        real_methods["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address, "connect")
        return int(real_methods["connect_ex"](self, address))

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        # sendto(data, address) or sendto(data, flags, address): with MSG_FASTOPEN in the
        # flags, TCP Fast Open connects here.
        check(self, args[-1] if args else None, "sendto")
        return int(real_methods["sendto"](self, data, *args))

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
        if len(args) >= 3 and args[2] is not None:  # (ancdata, flags, address)
            check(self, args[2], "sendmsg")
        return int(real_methods["sendmsg"](self, buffers, *args))

    def lookup(name: str) -> Callable[..., Any]:
        real = real_lookups[name]

        def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
            target = host[0] if name == "getnameinfo" and isinstance(host, tuple) else host
            numeric_only = name == "getnameinfo" and bool(
                (args[0] if args else kwargs.get("flags", 0)) & socket.NI_NUMERICHOST
            )
            if not (numeric_only or _is_loopback(target)):
                reverse = name in ("gethostbyaddr", "getnameinfo")
                if reverse or not _needs_no_lookup(target):
                    refuse(target, f"DNS lookup, {name}")
            return real(host, *args, **kwargs)

        return guarded

    patched: dict[str, Callable[..., Any]] = {
        "connect": connect,
        "connect_ex": connect_ex,
        "sendto": sendto,
        "sendmsg": sendmsg,
    }
    for name, method in patched.items():
        if name in real_methods:
            setattr(socket.socket, name, method)
    for name in real_lookups:
        setattr(socket, name, lookup(name))
    try:
        yield
    finally:
        for name, method in real_methods.items():
            setattr(socket.socket, name, method)
        for name, function in real_lookups.items():
            setattr(socket, name, function)
