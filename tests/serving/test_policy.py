"""Traffic policies on real servers: canary split, shadow, fallback on errors and timeouts, alias
moves without a restart, several workers, and a request log that holds every request.

Every test starts a server process (seconds each on a loaded machine): all are ``slow``. Nothing
here sleeps for a fixed time: waits poll their condition, and wall-clock bounds are relative to
times measured in the same test (a normal answer, the server's start).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest
from _serving_models import Models, opened, split_payload, sql

import workbench as wb
from workbench.serving import deploy, read_request_log

TIMEOUT = 1.5  # model time limit: well under flk/2's 3 s sleep, well over a normal call


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30.0, trust_env=False)


def _requests_of(models: Models, deployment_id: str) -> list[dict[str, object]]:
    frame = sql(
        models.store,
        "SELECT * FROM requests WHERE deployment_id = $d ORDER BY received_at",
        d=deployment_id,
    )
    return frame.to_dict(orient="records")  # type: ignore[return-value]


@pytest.mark.slow
def test_canary_weight_is_observed_within_tolerance(models: Models) -> None:
    row = split_payload(models.X.iloc[:1])
    with deploy("bc@champion", canary=("bc/2", 0.2), client=models.client) as server:
        with _client(server.url) as http:
            answers = [http.post("/invocations", json=row) for _ in range(1000)]
        deployment_id = server.deployment_id
    assert {r.status_code for r in answers} == {200}
    roles = Counter(r.headers["x-model-role"] for r in answers)
    versions = Counter(r.headers["x-model-version"] for r in answers)
    assert 150 <= roles["canary"] <= 250, roles  # 20% +- 5%
    assert versions["bc/2"] == roles["canary"] and versions["bc/1"] == roles["primary"]
    logged = Counter((r["role"], r["model_version"]) for r in _requests_of(models, deployment_id))
    assert logged == {("canary", 2): roles["canary"], ("primary", 1): roles["primary"]}


@pytest.mark.slow
def test_shadow_is_scored_and_logged_but_the_champion_answers(models: Models) -> None:
    rows = models.X.iloc[:20]
    with deploy("bc@champion", shadow="bc/2", client=models.client) as server:
        with _client(server.url) as http:
            answers = [
                http.post("/invocations", json=split_payload(rows.iloc[[i]])) for i in range(20)
            ]
        deployment_id = server.deployment_id
    assert all(r.headers["x-model-version"] == "bc/1" for r in answers)
    assert [r.json()["predictions"][0] for r in answers] == models.v1.predict(rows).tolist()
    logged = _requests_of(models, deployment_id)
    primary = {r["request_id"]: r for r in logged if r["role"] == "primary"}
    shadow = {r["request_id"]: r for r in logged if r["role"] == "shadow"}
    assert set(primary) == set(shadow) == {r.headers["x-request-id"] for r in answers}
    for request_id, record in shadow.items():
        assert (record["model_version"], record["status"]) == (2, 200)
        assert pd.isna(record["inputs"])  # the primary row holds them
        position = json.loads(str(primary[request_id]["inputs"]))["data"][0]
        index = rows.index[rows["mean radius"] == position[0]][0]
        expected = models.v2.predict(rows.loc[[index]]).tolist()
        assert json.loads(str(record["outputs"])) == expected


@pytest.mark.slow
def test_fallback_default_answers_when_the_model_raises_or_times_out(models: Models) -> None:
    good = models.X.iloc[:2]
    failing = good.assign(**{"mean radius": -1.0})
    slow = good.assign(**{"mean radius": 5000.0})  # flk/2 sleeps 3 s on these
    with deploy(
        "flk/2", fallback_default=-1, timeout=TIMEOUT, trusted=True, client=models.client
    ) as server:
        with _client(server.url) as http:
            ok, baseline = _timed(lambda: http.post("/invocations", json=split_payload(good)))
            raised = http.post("/invocations", json=split_payload(failing))
            late, waited = _timed(lambda: http.post("/invocations", json=split_payload(slow)))
            after = http.post("/invocations", json=split_payload(good))
            metrics = http.get("/metrics").text
        deployment_id = server.deployment_id
    assert (
        ok.json()["predictions"] == after.json()["predictions"] == models.v1.predict(good).tolist()
    )
    for answer in (raised, late):
        assert answer.status_code == 200
        assert answer.json() == {"predictions": [-1, -1]}
        assert (answer.headers["x-model-role"], answer.headers["x-model-version"]) == (
            "fallback",
            "default",
        )
    # Answered at the timeout, not after the model's 3 s: the margin is this server's own
    # answer time for a normal request, measured above.
    assert waited < TIMEOUT + 3 * baseline + 0.5, (waited, baseline)
    assert (
        'workbench_fallbacks_total{model="flk",reason="error",role="primary",version="2"}'
        in metrics
    )
    assert 'reason="timeout"' in metrics
    assert 'error_code="MODEL_ERROR",kind="server"' in metrics
    logged = {r["request_id"]: r for r in _requests_of(models, deployment_id)}
    record = logged[raised.headers["x-request-id"]]
    assert record["role"] == "fallback" and record["model_version"] is None
    assert "negative radius" in str(record["error"])
    assert f"did not answer within {TIMEOUT:g} s" in str(
        logged[late.headers["x-request-id"]]["error"]
    )


@pytest.mark.slow
def test_fallback_previous_version_and_no_fallback(models: Models) -> None:
    failing = split_payload(models.X.iloc[:2].assign(**{"mean radius": -1.0}))
    slow = split_payload(models.X.iloc[:1].assign(**{"mean radius": 5000.0}))
    expected = models.v1.predict(models.X.iloc[:2]).tolist()
    # flk@champion went 1 -> 2, so "previous" is version 1, which behaves.
    with (
        deploy(
            "flk@champion",
            fallback_version="previous",
            timeout=TIMEOUT,
            trusted=True,
            client=models.client,
        ) as server,
        _client(server.url) as http,
    ):
        answer = http.post("/invocations", json=failing)
        assert http.get("/health").json()["models"]["fallback"]["uri"] == "flk/1"
    assert answer.status_code == 200
    assert (answer.headers["x-model-role"], answer.headers["x-model-version"]) == (
        "fallback",
        "flk/1",
    )
    assert answer.json()["predictions"] == expected
    with (
        deploy("flk/2", timeout=TIMEOUT, trusted=True, client=models.client) as server,
        _client(server.url) as http,
    ):
        raised = http.post("/invocations", json=failing)
        late = http.post("/invocations", json=slow)
        ok = http.post("/invocations", json=split_payload(models.X.iloc[:2]))
    assert raised.status_code == 500 and raised.json()["error_code"] == "MODEL_ERROR"
    assert "negative radius" in raised.json()["message"]
    assert late.status_code == 504 and late.json()["error_code"] == "MODEL_TIMEOUT"
    assert ok.status_code == 200 and ok.json()["predictions"] == expected
    assert raised.headers["x-request-id"] and late.headers["x-request-id"]


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = call()
    return answer, time.perf_counter() - started


def _wait_for_version(http: httpx.Client, payload: object, version: str, limit: float) -> None:
    """Poll until ``version`` answers; fail after ``limit`` seconds."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        answer = http.post("/invocations", json=payload)
        if answer.headers["x-model-version"] == version:
            return
        time.sleep(0.05)  # a polling interval, not a guess at how long the switch takes
    raise AssertionError(f"the server did not switch to {version} within {limit:.1f} s")


@pytest.mark.slow
def test_alias_moves_take_effect_without_a_restart(models: Models) -> None:
    payload = split_payload(models.X.iloc[:3])
    started = time.perf_counter()
    with (
        deploy("live@champion", client=models.client, refresh_interval=0.2) as server,
        opened(models.store) as client,
    ):
        # A switch loads the new version as the start did: the start time (models loaded,
        # process spawned) measured here bounds it, with room for a slow machine.
        limit = 10 + 3 * (time.perf_counter() - started)
        registry = wb.registry.ModelRegistry(client)
        pid = server.pid
        with _client(server.url) as http:
            first = http.post("/invocations", json=payload)
            assert first.headers["x-model-version"] == "live/1"
            registry.set_alias("live", "champion", 2, reason="promote")
            _wait_for_version(http, payload, "live/2", limit)
            answer = http.post("/invocations", json=payload)
            assert answer.json()["predictions"] == [1, 1, 1]  # live/2 is the constant model
            registry.rollback("live", "champion", reason="undo")
            _wait_for_version(http, payload, "live/1", limit)
        assert server.status().models["primary"]["uri"] == "live/1"
        assert server.pid == pid


@pytest.mark.slow
def test_two_workers_share_the_port_and_the_metrics(models: Models) -> None:
    payload = split_payload(models.X.iloc[:1])
    fresh = {"connection": "close"}  # a new connection each time, so both workers get some

    def score(_: int) -> tuple[int, int]:
        answer = http.post("/invocations", json=payload, headers=fresh)
        return answer.status_code, http.get("/health", headers=fresh).json()["pid"]

    results: list[tuple[int, int]] = []
    with deploy("bc/1", workers=2, client=models.client) as server:
        with _client(server.url) as http, ThreadPoolExecutor(8) as pool:
            # Which worker accepts is the kernel's choice: send until both have answered.
            while len({pid for _, pid in results}) < 2 and len(results) < 600:
                results += pool.map(score, range(30))
            text = http.get("/metrics").text  # whichever worker answers sums both
        deployment_id = server.deployment_id
    assert {status for status, _ in results} == {200}
    assert len({pid for _, pid in results}) == 2
    line = next(
        line
        for line in text.splitlines()
        if line.startswith('workbench_requests_total{model="bc",role="primary",status="200"')
    )
    assert float(line.rsplit(" ", 1)[1]) == len(results)
    primary = [r for r in _requests_of(models, deployment_id) if r["role"] == "primary"]
    assert len(primary) == len(results)


@pytest.mark.slow
def test_the_request_log_holds_every_request(models: Models) -> None:
    rows = models.X.iloc[:5]
    sent = 0
    ids = set()
    with deploy("bc@champion", client=models.client) as server:
        with _client(server.url) as http:
            for i in range(150):
                if i % 10 == 9:
                    answer = http.post("/invocations", json={"dataframe_records": [{"x": 1}]})
                    assert answer.status_code == 400
                else:
                    answer = http.post("/invocations", json=split_payload(rows.iloc[[i % 5]]))
                    assert answer.status_code == 200
                    ids.add(answer.headers["x-request-id"])
                sent += 1
        deployment_id = server.deployment_id
    logged = _requests_of(models, deployment_id)
    assert len(logged) == sent
    assert len({r["request_id"] for r in logged}) == sent
    assert Counter(r["status"] for r in logged) == {200: 135, 400: 15}
    assert {r["request_id"] for r in logged if r["status"] == 200} == ids
    errors = [r for r in logged if r["status"] == 400]
    assert all("missing column 'mean radius'" in str(r["error"]) for r in errors)
    assert all(float(str(r["latency_ms"])) > 0 for r in logged)
    scored = read_request_log(deployment_id, client=models.client, metadata=True)
    assert len(scored) == 135
    assert list(scored.columns[5:-1]) == list(models.X.columns)
    expected = models.v1.predict(scored[list(models.X.columns)])
    assert scored["prediction"].tolist() == expected.tolist()
    by_model = read_request_log("bc", client=models.client)
    assert len(by_model) >= 135 and "request_id" not in by_model.columns
