"""Hostile and broken clients on a real server: values nested a thousand deep, text that is not
Unicode, bodies sent half-way, clients that leave mid-body, foreign Host headers. None of them
gets a 5xx, every answer carries ``x-request-id``, and every request is exactly one request-log
row and one metrics count. The protocol-level cases run on both HTTP stacks uvicorn may pick."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _serving_models import Models, opened, sql
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import workbench as wb
from workbench.serving import Deployment, deploy

READ_TIMEOUT = 1.5
STACKS = {"default": ("auto", "auto"), "asyncio-h11": ("asyncio", "h11")}
FRAME = pd.DataFrame(
    {"x": np.arange(40, dtype=float), "city": pd.Categorical(["paris", "oslo"] * 20)}
)
DEEP = "[" * 990 + "1" + "]" * 990  # parses (orjson reads 1,024 levels); repr() would recurse
DEEPER_THAN_ORJSON_WRITES = "[" * 300 + "1" + "]" * 300

pytestmark = pytest.mark.slow  # a served deployment per module: ~8 s to start


@pytest.fixture(scope="module")
def servers(models: Models) -> Iterator[dict[str, Deployment]]:
    """A model with a categorical column, on each HTTP stack, with a short read timeout."""
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city"]), remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(FRAME, np.arange(40) % 2)
    with opened(models.store) as client:
        with client.start_run("hostile") as run:
            pass
        wb.registry.ModelRegistry(client).register_model(
            "cities", run=run.run_id, model=model, input_example=FRAME
        )
    started: dict[str, Deployment] = {}
    try:
        for name, (loop, http) in STACKS.items():
            started[name] = deploy(
                "cities/1", client=models.client, read_timeout=READ_TIMEOUT, loop=loop, http=http
            )
        yield started
    finally:
        for deployment in started.values():
            deployment.stop()


@pytest.fixture(scope="module")
def server(servers: dict[str, Deployment]) -> Deployment:
    return servers["default"]


def _address(server: Deployment) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _body(*rows: str, columns: str = '"x", "city"') -> bytes:
    """A dataframe_split body from JSON text (so values can be what no encoder would write)."""
    data = ", ".join(rows)
    return ('{"dataframe_split": {"columns": [' + columns + '], "data": [' + data + "]}}").encode()


def post(server: Deployment, body: bytes, request_id: str, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30.0, trust_env=False) as http:
        return http.post(
            "/invocations",
            content=body,
            headers={"content-type": "application/json", "x-request-id": request_id, **headers},
        )


def half_sent(server: Deployment, request_id: str, *, leave: bool) -> tuple[bytes, float, bool]:
    """Announce 100 bytes of body, send 6, then leave (close) or wait for the server: what it
    answered, after how long, and whether it closed the connection."""
    head = (
        "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"x-request-id: {request_id}\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(_address(server), timeout=30) as sock:
        sock.sendall(head.encode() + b'{"data')
        started = time.perf_counter()
        if leave:
            return b"", 0.0, True
        answer = b""
        while chunk := sock.recv(65536):  # ends when the server closes (or after 30 s: raises)
            answer += chunk
        return answer, time.perf_counter() - started, True


def logged(store: Path, deployment_id: str, ids: set[str], wait_s: float = 60.0) -> pd.DataFrame:
    """The request-log rows of ``ids``, once all of them are there (they are flushed every
    0.5 s); fails after ``wait_s`` seconds with what is there."""
    deadline = time.monotonic() + wait_s
    while True:
        rows = sql(
            store,
            "SELECT * FROM requests WHERE deployment_id = $d AND list_contains($ids, request_id)",
            d=deployment_id,
            ids=sorted(ids),
        )
        if set(rows["request_id"]) >= ids or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def answered(server: Deployment) -> float:
    """Requests the server has counted in /metrics, all statuses."""
    with httpx.Client(base_url=server.url, timeout=30.0, trust_env=False) as http:
        text = http.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("workbench_requests_total{")
    )


def test_a_value_nested_a_thousand_deep_is_a_400_naming_its_column(server: Deployment) -> None:
    in_numbers = post(server, _body(f'[{DEEP}, "paris"]'), "deep-x")
    in_categories = post(server, _body(f"[1.0, {DEEP}]"), "deep-city")
    in_params = post(
        server, _body('[1.0, "paris"]')[:-1] + f', "params": {DEEP}}}'.encode(), "deep-params"
    )
    for answer, needle in (
        (in_numbers, "column 'x' (float64): 1 value cannot be read as numbers: [[[[[...]]]]]"),
        (in_categories, "column 'city' (category): 1 value cannot be read as category values"),
        (in_params, "got [[[[...]]]]"),
    ):
        assert answer.status_code == 400, answer.text
        assert needle in answer.json()["message"]
        assert answer.headers["x-request-id"].startswith("deep-")


def test_text_that_is_not_unicode_is_a_400(server: Deployment) -> None:
    escaped = _body('[1.0, "\\ud800"]')  # a JSON escape of half a surrogate pair
    encoded = escaped.replace(b"\\ud800", "\ud800".encode("utf-8", "surrogatepass"))
    for body in (escaped, encoded):
        answer = post(server, body, "surrogate")
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == "MALFORMED_REQUEST"
        assert "not valid Unicode" in answer.json()["message"]


def test_an_ignored_column_too_deep_to_write_is_answered_and_logged(
    models: Models, server: Deployment
) -> None:
    body = _body(f'[1.0, "paris", {DEEPER_THAN_ORJSON_WRITES}]', columns='"x", "city", "junk"')
    answer = post(server, body, "deep-junk")
    assert answer.status_code == 200, answer.text
    (row,) = logged(models.store, server.deployment_id, {"deep-junk"}).to_dict("records")
    assert row["status"] == 200 and row["outputs"] == str(answer.json()["predictions"])
    assert '"columns":["x","city","junk"]' in row["inputs"]
    assert "nested more than 64 levels deep: not logged" in row["inputs"]


@pytest.mark.parametrize("stack", STACKS)
def test_a_half_sent_body_gets_408_and_the_connection_is_closed(
    servers: dict[str, Deployment], stack: str
) -> None:
    answer, seconds, closed = half_sent(servers[stack], f"half-{stack}", leave=False)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert f"x-request-id: half-{stack}".encode() in answer.lower()
    assert b"REQUEST_TIMEOUT" in answer and b"6 bytes received" in answer
    assert closed and seconds >= READ_TIMEOUT * 0.9


@pytest.mark.parametrize("stack", STACKS)
def test_a_client_leaving_mid_body_is_one_row_and_no_traceback(
    models: Models, servers: dict[str, Deployment], stack: str
) -> None:
    server = servers[stack]
    half_sent(server, f"gone-{stack}", leave=True)
    (row,) = logged(models.store, server.deployment_id, {f"gone-{stack}"}).to_dict("records")
    assert row["status"] == 499 and "ClientDisconnectedError" in row["error"]
    assert server.log_file is not None
    text = server.log_file.read_text()
    assert "Traceback" not in text and "Unexpected error" not in text, text[-3000:]


def test_foreign_host_names_get_421_and_cannot_read_the_metadata(server: Deployment) -> None:
    _, port = _address(server)
    with httpx.Client(base_url=server.url, timeout=30.0, trust_env=False) as http:
        rebound = http.get("/metadata", headers={"host": f"evil.example:{port}"})
        assert rebound.status_code == 421, rebound.text
        assert rebound.json()["error_code"] == "HOST_NOT_ALLOWED"
        assert "allowed_hosts" in rebound.json()["message"]
        assert "input_example" not in rebound.text
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST.", "[::1]:80"):
            assert http.get("/metadata", headers={"host": host}).status_code == 200, host
    scored = post(server, _body('[1.0, "paris"]'), "rebound", host="evil.example")
    assert scored.status_code == 421 and scored.headers["x-request-id"] == "rebound"


def test_every_request_is_one_log_row_one_count_and_has_its_id(
    models: Models, server: Deployment
) -> None:
    good = _body('[1.0, "paris"]')
    sends: dict[str, tuple[int, Callable[[str], Any]]] = {
        "good": (200, lambda i: post(server, good, i)),
        "deep": (400, lambda i: post(server, _body(f"[{DEEP}, 1]"), i)),
        "surrogate": (400, lambda i: post(server, _body('[1.0, "\\udc00"]'), i)),
        "junk": (
            200,
            lambda i: post(
                server,
                _body(f'[1, "oslo", {DEEPER_THAN_ORJSON_WRITES}]', columns='"x", "city", "j"'),
                i,
            ),
        ),
        "missing": (400, lambda i: post(server, _body("[1.0]", columns='"x"'), i)),
        "json": (400, lambda i: post(server, b"{", i)),
        "host": (421, lambda i: post(server, good, i, host="evil.example")),
        "half": (408, lambda i: half_sent(server, i, leave=False)),
        "gone": (499, lambda i: half_sent(server, i, leave=True)),
    }
    before = answered(server)
    for name, (status, send) in sends.items():
        answer = send(f"all-{name}")
        if isinstance(answer, httpx.Response):
            assert answer.status_code == status, (name, answer.text)
            assert answer.headers["x-request-id"] == f"all-{name}"
    rows = logged(models.store, server.deployment_id, {f"all-{n}" for n in sends})
    assert sorted(rows["request_id"]) == sorted(f"all-{n}" for n in sends)  # one row each
    assert dict(zip(rows["request_id"], rows["status"], strict=True)) == {
        f"all-{n}": status for n, (status, _) in sends.items()
    }
    deadline = time.monotonic() + 30
    while answered(server) - before < len(sends) and time.monotonic() < deadline:
        time.sleep(0.1)  # the disconnect is counted once the server notices it
    assert answered(server) - before == len(sends)
