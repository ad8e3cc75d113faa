"""Model servers on the team store: a real server process started from a ``postgresql://``
store, real HTTP on loopback, a real PostgreSQL server (a fresh database per test: ``team_store``).

The server opens the same store by its URL (the password reaches it in ``PGPASSWORD``, never on
its command line), follows aliases moved in the team store, and its request log lands in the
team store's ``requests`` view: shipped while it runs, and everything it answered before a
normal stop has returned.

Every test but the first starts a server process: those are ``slow``. Nothing sleeps for a fixed
time: waits poll their condition.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pandas as pd
import psutil
import pytest
from _serving_models import split_payload
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

import workbench as wb
from workbench.config import without_password
from workbench.serving import Deployment, deploy, read_request_log
from workbench.store.postgres import PostgresStore

T = TypeVar("T")
PASSWORD = "not-on-any-command-line"  # the test server trusts loopback: any password works


@dataclass(frozen=True)
class Team:
    """A team store holding ``bc`` (v1 champion) and ``live`` (v1 champion, v2 constant)."""

    url: str  # with a password, as a user might give it
    X: pd.DataFrame
    v1: LogisticRegression

    @property
    def client(self) -> wb.Workbench:
        return wb.connect(self.url)


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, LogisticRegression, DummyClassifier]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    v1 = LogisticRegression(max_iter=5000).fit(X, y)
    return X, v1, DummyClassifier(strategy="constant", constant=1).fit(X, y)


@pytest.fixture
def team(
    team_store: PostgresStore,
    fitted: tuple[pd.DataFrame, LogisticRegression, DummyClassifier],
    monkeypatch: pytest.MonkeyPatch,
) -> Team:
    url = team_store.location.replace("postgres@", f"postgres:{PASSWORD}@")
    monkeypatch.setenv("WORKBENCH_STORE", url)  # the current store: one client for all
    X, v1, constant = fitted
    client = wb.connect(url)
    registry = wb.registry.ModelRegistry(client)
    with client.start_run("serving-tests") as run:
        run.log_input(X, name="training", context="training")
    for name, model in (("bc", v1), ("live", v1), ("live", constant)):
        registry.register_model(name, run=run.run_id, model=model, input_example=X)
    registry.set_alias("bc", "champion", 1)
    registry.set_alias("live", "champion", 1)
    return Team(url, X, v1)


def _wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # a polling interval, not a guess at how long it takes


def _requests(team: Team, deployment_id: str) -> pd.DataFrame:
    return team.client.sql(
        "SELECT * FROM requests WHERE deployment_id = $d ORDER BY received_at, request_id",
        d=deployment_id,
    )


def _http(server: Deployment) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30.0, trust_env=False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u@h/db"),
        ("postgresql://:pw@h/db", "postgresql://h/db"),
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?sslmode=require"),
        ("postgres://u@h1:5432,h2:5433/db", "postgres://u@h1:5432,h2:5433/db"),
    ],
)
def test_the_server_is_told_the_store_url_without_its_password(url: str, expected: str) -> None:
    assert without_password(url) == expected


@pytest.mark.slow
def test_a_server_of_the_team_store_answers_and_logs_every_request_there(team: Team) -> None:
    rows = team.X.iloc[:5]
    statuses: list[int] = []
    ids = set()
    with deploy("bc@champion", client=team.client) as server, _http(server) as http:
        for i in range(30):
            if i % 6 == 5:  # a row without the model's columns
                answer = http.post("/invocations", json={"dataframe_records": [{"x": 1}]})
                assert answer.status_code == 400
                assert answer.json()["error_code"] == "SIGNATURE_MISMATCH"
            else:
                row = rows.iloc[[i % 5]]
                answer = http.post("/invocations", json=split_payload(row))
                assert answer.status_code == 200, answer.text
                assert answer.json()["predictions"] == team.v1.predict(row).tolist()
                assert answer.headers["x-model-version"] == "bc/1"
                ids.add(answer.headers["x-request-id"])
            statuses.append(answer.status_code)
        broken = http.post(
            "/invocations", content=b"{", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 400 and broken.json()["error_code"] == "MALFORMED_REQUEST"
        statuses.append(400)
        assert server.predict(rows).tolist() == team.v1.predict(rows).tolist()
        statuses.append(200)

        # The server opened the team store by its URL; the password is in its environment
        # (libpq reads PGPASSWORD), not on its command line, in the store or in its log.
        process = psutil.Process(server.pid)
        assert PASSWORD not in " ".join(process.cmdline())
        assert process.environ().get("PGPASSWORD") == PASSWORD
        record = team.client.store.get_deployment(server.deployment_id)
        assert record.policy["store"] == team.url.replace(f":{PASSWORD}@", "@")
        assert server.status().healthy

        # The log is shipped while the server runs (a monitor reads it meanwhile).
        running = _wait_for(
            lambda: frame if len(frame := _requests(team, server.deployment_id)) else None,
            "the first request-log rows on the team store",
        )
        assert set(running["model_name"]) == {"bc"}
        deployment_id = server.deployment_id
        log_file = server.log_file

    # A normal stop ships everything the server answered: no waiting, nothing left behind.
    logged = _requests(team, deployment_id)
    assert len(logged) == len(statuses) == 32
    assert Counter(logged["status"]) == Counter(statuses) == {200: 26, 400: 6}
    assert logged["request_id"].is_unique and ids <= set(logged["request_id"])
    answered = logged[logged["status"] == 200]
    assert set(answered["model_version"]) == {1} and set(answered["role"]) == {"primary"}
    errors = logged.loc[logged["status"] == 400, "error"].tolist()
    assert sum("missing column 'mean radius'" in e for e in errors) == 5
    assert sum("not valid JSON" in e for e in errors) == 1
    scored = read_request_log(deployment_id, client=team.client)
    assert len(scored) == 25 + len(rows)
    features = list(team.X.columns)
    assert scored["prediction"].tolist() == team.v1.predict(scored[features]).tolist()
    assert team.client.store.get_deployment(deployment_id).status == "stopped"
    assert log_file is not None and PASSWORD not in Path(log_file).read_text()


@pytest.mark.slow
def test_alias_moves_in_the_team_store_take_effect_without_a_restart(team: Team) -> None:
    payload = split_payload(team.X.iloc[:3])
    registry = wb.registry.ModelRegistry(team.client)
    versions = []
    with (
        deploy("live@champion", client=team.client, refresh_interval=0.2) as server,
        _http(server) as http,
    ):
        pid = server.pid

        def served(version: str) -> httpx.Response | None:
            answer = http.post("/invocations", json=payload)
            versions.append(answer.headers["x-model-version"])
            return answer if answer.headers["x-model-version"] == version else None

        assert served("live/1") is not None
        registry.set_alias("live", "champion", 2, reason="promote")
        promoted = _wait_for(lambda: served("live/2"), "the server to serve live/2")
        assert promoted.json()["predictions"] == [1, 1, 1]  # live/2 is the constant model
        registry.rollback("live", "champion", reason="undo")
        _wait_for(lambda: served("live/1"), "the server to serve live/1 again")
        assert server.status().models["primary"]["uri"] == "live/1"
        assert server.pid == pid
        deployment_id = server.deployment_id
    logged = _requests(team, deployment_id)
    assert len(logged) == len(versions)
    assert Counter(f"live/{v}" for v in logged["model_version"]) == Counter(versions)


@pytest.mark.slow
def test_a_monitor_checks_a_team_store_deployment_from_its_request_log(team: Team) -> None:
    rows = team.X.iloc[:40]
    with deploy("bc@champion", client=team.client) as server, _http(server) as http:
        answer = http.post("/invocations", json=split_payload(rows))
        assert answer.status_code == 200
        _wait_for(
            lambda: True if len(_requests(team, server.deployment_id)) else None,
            "the request on the team store",
        )
        # The team store is the current store (WORKBENCH_STORE), as for a team: a monitor
        # keeps its drift reports in the current store whatever client= says.
        mon = wb.monitor(server, reference=team.X, settle=0)
        step = mon.check()
    assert step.n_rows == len(rows) and step.champion_version == 1
    assert step.decision in ("no_drift", "alarm")
    checks = team.client.search_runs(
        "monitoring", filter=f"tags.`workbench.deployment` = '{server.deployment_id}'"
    )
    assert checks["run_id"].tolist() == [step.run_id]
