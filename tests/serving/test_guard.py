"""The Host check that keeps DNS-rebinding pages from reading a loopback server, in-process."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse, Response

from workbench.exceptions import InvalidParameterError
from workbench.serving import ServingConfig
from workbench.serving._guard import HostGuard, allowed_hosts, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:5000", "127.0.0.1"),
        ("LocalHost.:80", "localhost"),
        ("[::1]:5000", "::1"),
        ("[0:0::1]", "::1"),
        ("::1", "::1"),
        ("evil.example", "evil.example"),
        ("evil.example:5000", "evil.example"),
        ("127.000.000.001", "127.000.000.001"),  # not an address Python reads: a name
    ],
)
def test_host_headers_are_normalised(header: str, name: str) -> None:
    assert host_name(header) == name


def test_the_names_a_server_answers_for() -> None:
    loopback = allowed_hosts("127.0.0.1")
    assert loopback == {"127.0.0.1", "localhost", "::1"}
    assert allowed_hosts("::1") == loopback
    assert allowed_hosts("127.0.0.1", ["Models.Example."]) == loopback | {"models.example"}
    assert allowed_hosts("127.0.0.1", ["*"]) is None
    everywhere = allowed_hosts("0.0.0.0")
    assert everywhere is not None and loopback <= everywhere
    assert host_name(socket.gethostname()) in everywhere
    one = allowed_hosts("192.0.2.7")  # a specific address: it, and this machine's names
    assert one is not None and {"192.0.2.7", host_name(socket.gethostname())} <= one
    assert "127.0.0.1" not in one


def test_allowed_hosts_are_validated() -> None:
    config = ServingConfig(model_uri="m/1", store="/tmp/x", allowed_hosts=["bad host/"])
    with pytest.raises(InvalidParameterError, match="'allowed_hosts' parameter of deploy"):
        config.validated("deploy")


def test_foreign_hosts_are_refused_before_any_route() -> None:
    reached: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await Response("ok")(scope, receive, send)

    async def refuse(scope: dict[str, Any], host: str) -> Response:
        return JSONResponse({"refused": host}, status_code=421)

    guard = HostGuard(app, allowed_hosts("127.0.0.1", ["models.example"]), refuse)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return [
                await http.get("/metadata", headers={"host": host})
                for host in ("evil.example:5000", "localhost:5000", "models.example", "x.localhost")
            ]

    evil, local, named, sub = asyncio.run(run())
    assert (evil.status_code, evil.json()) == (421, {"refused": "evil.example:5000"})
    assert local.status_code == named.status_code == 200
    assert sub.status_code == 421
    assert reached == ["/metadata", "/metadata"]
