"""The server process's socket: named as TCP, so that responses are sent without waiting for the
client's delayed ACK (~40 ms a request on a reused connection otherwise)."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time

import httpx
import pytest
from _serving_models import Models, split_payload

from workbench.serving import deploy
from workbench.serving._process import _bind

DELAYED_ACK_S = 0.04  # Linux's shortest delayed ACK


def _nodelay_of_accepted(sock: socket.socket) -> int:
    """TCP_NODELAY of a connection accepted by asyncio's own server on ``sock``."""

    async def run() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            seen.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)
        host, port = sock.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    return asyncio.run(run())


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_accepted_connections_send_without_waiting_for_acks(host: str) -> None:
    try:
        sock = _bind(host, 0)
    except OSError:
        pytest.skip(f"{host} is not available here")
    with sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert _nodelay_of_accepted(sock) == 1


@pytest.mark.slow
def test_a_reused_connection_is_not_held_up_by_delayed_acks(models: Models) -> None:
    """On asyncio and h11 (uvloop would set TCP_NODELAY by itself): requests on one kept-alive
    connection take about as long as requests on fresh connections, not 40 ms more."""
    payload = split_payload(models.X.iloc[:1])
    with (
        deploy("bc/1", client=models.client, loop="asyncio", http="h11") as server,
        httpx.Client(base_url=server.url, timeout=30.0, trust_env=False) as http,
    ):
        kept, fresh = [], []
        for _ in range(60):
            started = time.perf_counter()
            http.post("/invocations", json=payload).raise_for_status()
            kept.append(time.perf_counter() - started)
            started = time.perf_counter()
            http.post("/invocations", json=payload, headers={"connection": "close"})
            fresh.append(time.perf_counter() - started)
    # fresh connections are not held up (the server closes them, which flushes the answer):
    # they are this run's baseline
    baseline = statistics.median(fresh)
    assert statistics.median(kept) < baseline + DELAYED_ACK_S * 0.75, (kept, fresh)
