"""Many machines on one team store: 16 client processes, each posing as a machine of its own
(host name and journal folder), log runs with metrics and artifacts, write request-log rows and
register versions of one model for 60 s while a dashboard-style reader polls; some are killed
with SIGKILL. Afterwards: no client or reader error, every acknowledged point on the server
(the killed machines' journals shipped by their next process), every artifact record and
request row of the machines that were not killed, version numbers 1..N without a gap, and the
killed clients' open runs ``killed``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from _postgres import PostgresServer

from workbench.store import RunSearch, _pg, _pg_live
from workbench.store.postgres import PostgresStore

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).with_name("_team_client.py")
CLIENTS = 16
SECONDS = 60.0
KILLS = 4


def _acks(path: Path) -> list[tuple[str, str]]:
    text = path.read_text() if path.exists() else ""
    complete = text[: text.rfind("\n") + 1]  # a line cut by a kill was never finished
    return [tuple(line.split(" ", 1)) for line in complete.splitlines()]  # type: ignore[misc]


def test_sixteen_machines_log_and_register_at_once_and_nothing_is_lost(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.url(postgres.new_database())
    reader = PostgresStore(url, local=tmp_path / "reader")  # the dashboard's machine
    stop = tmp_path / "stop"
    machines = [f"machine-{i:02d}" for i in range(CLIENTS)]
    clients: dict[str, subprocess.Popen[bytes]] = {}
    for machine in machines:
        env = {**os.environ, "WORKBENCH_STORE": url, "XDG_CACHE_HOME": str(tmp_path / machine)}
        with (tmp_path / f"{machine}.err").open("w") as err:
            clients[machine] = subprocess.Popen(
                [sys.executable, str(CLIENT), machine, str(tmp_path / f"{machine}.ack"), str(stop)],
                env=env,
                stderr=err,
            )
    rng = random.Random(13)
    killed: list[str] = []
    reads, read_errors = 0, []
    started = time.monotonic()
    next_kill = started + SECONDS / (KILLS + 1)
    try:
        while time.monotonic() - started < SECONDS:
            try:
                reader.search_runs(RunSearch(experiments=("team-load",), max_results=50))
                reads += 1
            except Exception as exc:
                read_errors.append(repr(exc))
            if time.monotonic() > next_kill and len(killed) < KILLS:
                victim = rng.choice([m for m in machines if m not in killed])
                os.kill(clients[victim].pid, signal.SIGKILL)
                killed.append(victim)
                next_kill += SECONDS / (KILLS + 1)
            time.sleep(0.2)
    finally:
        stop.touch()
        codes = {m: p.wait(timeout=300) for m, p in clients.items()}
    assert not read_errors, read_errors[:3]
    assert reads > 50
    for machine, code in codes.items():
        expected = -signal.SIGKILL if machine in killed else 0
        assert code == expected, (machine, code, (tmp_path / f"{machine}.err").read_text()[-2000:])

    # A killed client's journal is shipped by the next workbench process of its machine.
    for machine in killed:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / machine))  # on that machine
        next_process = PostgresStore(url)
        assert next_process.sync()
        next_process.close()

    acked = {m: _acks(tmp_path / f"{m}.ack") for m in machines}
    points = Counter(value for m in machines for kind, value in acked[m] if kind == "point")
    on_server = reader.sql(
        "SELECT run_id, count(*) AS n FROM metric_history GROUP BY run_id"
    ).set_index("run_id")["n"]
    missing = {run: n for run, n in points.items() if on_server.get(run, 0) < n}
    assert not missing, f"{len(missing)} runs lack acknowledged points: {list(missing.items())[:3]}"

    artifacts = set(reader.sql("SELECT run_id, path FROM artifacts").itertuples(index=False))
    requests = set(reader.sql("SELECT request_id FROM requests")["request_id"])
    for machine in set(machines) - set(killed):
        for kind, value in acked[machine]:
            if kind == "artifact":
                assert tuple(value.split(" ")) in artifacts, (machine, value)
            elif kind == "request":
                assert value in requests, (machine, value)
    assert len(artifacts) >= CLIENTS and len(requests) >= 3 * CLIENTS

    versions = sorted(v.version for v in reader.list_model_versions("shared"))
    assert versions == list(range(1, len(versions) + 1)), versions
    acked_versions = {int(v) for m in machines for kind, v in acked[m] if kind == "version"}
    assert acked_versions <= set(versions) and len(versions) >= CLIENTS
    print(
        f"\n{sum(points.values()):,} points from {len(points)} runs, {len(versions)} versions, "
        f"{reads} reads, killed {killed}"
    )

    # The killed clients' open runs: killed once their machines are silent (no heartbeat).
    with _pg.connect(url) as con:
        _pg_live.reap(con, timeout=0.0)
    runs = reader.sql("SELECT run_id, status FROM runs").set_index("run_id")["status"]
    assert "running" not in set(runs), runs.value_counts()
    for machine in machines:
        ended = {v for kind, v in acked[machine] if kind == "end"}
        for kind, run_id in acked[machine]:
            if kind == "run" and (run_id in ended or machine not in killed):
                assert runs[run_id] == "finished", (machine, run_id, runs[run_id])
    # (a killed client's last run may have ended just before the kill, its "end" not acked)
    assert (runs == "killed").sum() >= 1
    reader.close()
