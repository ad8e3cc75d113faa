"""Runs of dead processes are ``killed`` on the team store, across machines: a process's
shipper keeps its heartbeat on the server (by the server's clock), and any process of the store
marks the runs of a process that is gone (this machine) or silent too long (another machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import workbench as wb
from workbench.store import _pg_live
from workbench.store.postgres import PostgresStore

pytestmark = pytest.mark.slow

CHILD = """
import os, sys, time
from pathlib import Path
from typing import Any
import workbench as wb
run = wb.start_run("liveness", "child")
run.log_metric("loss", 1.0)
wb.flush()
Path(sys.argv[1]).write_text(run.run_id)
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def store(team_store: PostgresStore) -> PostgresStore:
    return team_store


@pytest.fixture
def con(team_con: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    return team_con


def _wait(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _run(store: PostgresStore, run_id: str) -> tuple[str, str | None]:
    row = store.sql("SELECT status, error FROM runs WHERE run_id = $r", {"r": run_id})
    return str(row["status"].iloc[0]), row["error"].iloc[0]


def test_a_killed_process_on_this_machine_has_its_run_marked_killed(
    store: PostgresStore, con: psycopg.Connection[Any], tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ready)])
    try:
        _wait(ready.exists, "the child's run")
        run_id = ready.read_text()
        # Its shipper tells the server it is alive (not its logging calls).
        _wait(
            lambda: len(store.sql("SELECT 1 FROM wb_heartbeats WHERE pid = $p", {"p": child.pid})),
            "the child's heartbeat",
        )
        assert _run(store, run_id)[0] == "running"
        assert _pg_live.reap(con) == 0  # alive: left alone
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    store.sync()  # what the child logged and acknowledged is shipped by this process
    assert _pg_live.reap(con) == 1
    status, error = _run(store, run_id)
    assert status == "killed" and f"pid {child.pid}" in str(error)
    history = store.get_metric_history([run_id])
    assert history["value"].tolist() == [1.0]


def test_a_run_of_another_machine_is_killed_once_its_process_is_silent_too_long(
    store: PostgresStore, con: psycopg.Connection[Any]
) -> None:
    with wb.start_run("liveness", "elsewhere") as run:
        wb.flush()
        store.sync()
        # Make it a run of another machine's process, last heard of by the server just now.
        with con.transaction():
            con.execute(
                "UPDATE wb_runs SET host = 'other-machine', pid = 4242, "
                "proc_id = 'other-machine:4242' WHERE run_id = %s",
                (run.run_id,),
            )
            con.execute(
                "INSERT INTO wb_heartbeats VALUES ('other-machine:4242', 'other-machine', 4242, "
                "timezone('UTC', now()))"
            )
        assert _pg_live.reap(con, timeout=30) == 0
        assert _run(store, run.run_id)[0] == "running"
        # Silent for 60 s by the server's clock: dead, ended when it was last heard of.
        with con.transaction():
            con.execute(
                "UPDATE wb_heartbeats SET last_seen = timezone('UTC', now()) - interval '60 s'"
            )
        assert _pg_live.reap(con, timeout=30) == 1
        status, error = _run(store, run.run_id)
        assert status == "killed" and "pid 4242 on other-machine" in str(error)
        ended = store.sql(
            "SELECT r.end_time = h.last_seen AS same FROM runs r, wb_heartbeats h "
            "WHERE r.run_id = $r",
            {"r": run.run_id},
        )
        assert bool(ended["same"].iloc[0])
