"""The store side of serving: schema 3 (request log, deployments), written and read directly."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import duckdb
import psutil
import pytest

import workbench as wb
from workbench.entities import DeploymentRecord
from workbench.exceptions import ConflictError, NotFoundError
from workbench.store import DuckDBStore, _schema


def _record(deployment_id: str, pid: int, started: float) -> DeploymentRecord:
    return DeploymentRecord(
        deployment_id=deployment_id,
        model_uri="m@champion",
        host="127.0.0.1",
        port=5000,
        url="http://127.0.0.1:5000",
        machine=socket.gethostname(),
        pid=pid,
        pid_started=started,
        status="running",
        started_at=dt.datetime.now(dt.UTC),
        policy={"workers": 1},
    )


def test_deployments_live_stop_and_die(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    me = psutil.Process()
    store.create_deployment(_record("alive", me.pid, me.create_time()))
    store.create_deployment(_record("gone", 2**22 + 7, 1.0))  # no such process
    store.create_deployment(_record("reused", me.pid, me.create_time() - 100))  # pid reused
    with pytest.raises(ConflictError, match="already exists"):
        store.create_deployment(_record("alive", me.pid, me.create_time()))
    states = {r.deployment_id: r.status for r in store.list_deployments()}
    assert states == {"alive": "running", "gone": "dead", "reused": "dead"}
    assert store.get_deployment("gone").stopped_at is not None
    assert store.set_deployment_status("alive", "stopped") is True
    assert store.set_deployment_status("alive", "stopped") is False  # not running any more
    assert store.get_deployment("alive").policy == {"workers": 1}
    with pytest.raises(NotFoundError, match=r"No deployment with id 'nope'.*alive"):
        store.get_deployment("nope")
    store.close()


def test_requests_arrive_through_the_journal(tmp_path: Path) -> None:
    client = wb.Workbench(tmp_path / "store")
    for i in range(3):
        client._recorder.record(
            "requests",
            {
                "request_id": f"r{i}",
                "deployment_id": "d",
                "model_name": "m",
                "model_version": 1 if i else None,
                "role": "primary",
                "received_at": 1_700_000_000_000_000 + i,
                "latency_ms": 1.5,
                "status": 200,
                "n_rows": 1,
                "inputs": '{"columns": ["a"], "data": [[1]]}',
                "outputs": "[0]",
                "error": None,
            },
        )
    frame = client.sql("SELECT * FROM requests ORDER BY request_id")
    assert frame["request_id"].tolist() == ["r0", "r1", "r2"]
    assert frame["received_at"].iloc[0] == dt.datetime(2023, 11, 14, 22, 13, 20)
    assert frame["model_version"].isna().tolist() == [True, False, False]
    client.close()


def test_a_schema_2_store_gains_the_serving_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr("workbench.store._database.MIGRATIONS", _schema.MIGRATIONS[:2])
        patch.setattr("workbench.store._database.SCHEMA_VERSION", 2)
        DuckDBStore(tmp_path / "store").close()
    con = duckdb.connect(os.fspath(tmp_path / "store" / "workbench.duckdb"))
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    con.close()
    assert "wb_requests" not in tables
    client = wb.Workbench(tmp_path / "store")
    views = set(client.sql("select view_name from duckdb_views()")["view_name"])
    assert {"requests", "deployments"} <= views and set(_schema.PUBLIC_VIEWS) <= views
    assert client.sql("select count(*) AS n from deployments")["n"].tolist() == [0]
    client.close()
