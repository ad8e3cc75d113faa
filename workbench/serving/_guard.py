"""Requests refused before any route runs: a ``Host`` header naming a host this server is not.

DNS rebinding: a web page served from ``evil.example`` re-points that name at 127.0.0.1 once
loaded; the browser then lets the page read ``http://evil.example:PORT/metadata`` (signature,
input-example rows, lineage ids) from a server that only listens on loopback, because to the
browser it is the page's own origin. The browser still sends ``Host: evil.example:PORT``, so a
server that answers only for the names it is known by cannot be read this way (the check
uvicorn, Starlette and MLflow's server leave to the application).

The names a server answers for (:func:`allowed_hosts`):

* bound to loopback: ``localhost``, ``127.0.0.1``, ``::1`` and the bound address;
* bound to one address: that address, and this machine's host name and fully qualified name;
* bound to every interface (``0.0.0.0``, ``::``): the above, and every address of this machine;
* plus ``allowed_hosts=`` (``--allowed-host``): the names of a proxy or a DNS entry in front of
  it; ``"*"`` turns the check off.

The port is not compared (a proxy may forward another one); a request without ``Host`` (HTTP/1.0,
which browsers no longer send) is answered.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from workbench.serving._config import is_loopback

__all__ = ["HostGuard", "allowed_hosts", "host_name"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = ("0.0.0.0", "::", "")

Scope = dict[str, Any]
Refuse = Callable[[Scope, str], Awaitable[Any]]


def host_name(value: str) -> str:
    """The host part of a ``Host`` header, normalised: lower case, no port, no brackets, no
    trailing dot, IP addresses in their canonical form (``[0:0::1]:80`` -> ``::1``)."""
    text = value.strip().lower()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    text = text.rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _machine_names() -> set[str]:
    names = set()
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(host_name(name))
    return names


def _machine_addresses() -> set[str]:
    import psutil

    addresses = set()
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                addresses.add(host_name(entry.address.partition("%")[0]))
    return addresses


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The host names a server bound to ``bound`` answers for; None: any (``"*"`` in extra)."""
    extra = list(extra)
    if "*" in extra:
        return None
    names = {host_name(h) for h in extra}
    names.add(host_name(bound) if bound not in _WILDCARDS else "localhost")
    if bound in _WILDCARDS or is_loopback(bound):
        names.update(LOOPBACK_NAMES)
    if not is_loopback(bound):
        names |= _machine_names()
    if bound in _WILDCARDS:
        names |= _machine_addresses()
    return frozenset(names)


class HostGuard:
    """ASGI middleware: requests whose ``Host`` is not in ``allowed`` get ``refuse(scope, host)``
    (an ASGI response) instead of reaching ``app``."""

    def __init__(self, app: Any, allowed: frozenset[str] | None, refuse: Refuse) -> None:
        self.app = app
        self.allowed = allowed
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.allowed is not None and scope["type"] == "http":
            for key, value in scope["headers"]:
                if key == b"host":
                    host = value.decode("latin-1")
                    if host_name(host) not in self.allowed:
                        response = await self.refuse(scope, host)
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
