"""Every process that uses a store exits with its own exit code, however it ends, even when
its background threads are busy inside DuckDB at that moment and the machine is loaded."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

import workbench as wb

WORKER = Path(__file__).with_name("_exit_worker.py")
N_PROCESSES = 200


@pytest.mark.slow
def test_200_processes_exit_with_their_own_code_under_cpu_stress(
    tmp_path: Path, busy_cpus: Callable[[int], AbstractContextManager[None]]
) -> None:
    store, results = tmp_path / "store", tmp_path / "results.txt"
    wb.DuckDBStore(store).close()
    with busy_cpus(2):
        done = subprocess.run(
            [sys.executable, str(WORKER), str(store), str(N_PROCESSES), "11", str(results)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = [line.split() for line in results.read_text().splitlines()]
    assert len(outcomes) == N_PROCESSES
    wrong = [o for o in outcomes if int(o[1]) != int(o[3])]  # ending, expected, pid, got
    report = f"{len(wrong)} processes exited abnormally: {wrong[:10]}\n{done.stderr[-3000:]}"
    assert wrong == [], report
    assert {o[0] for o in outcomes} >= {"clean", "exit", "raise", "open", "reader", "linger"}
    client = wb.Workbench(store)
    client.flush()
    runs = client.search_runs("exits", max_results=None)
    client.close()
    statuses = dict(zip(runs["name"], runs["status"], strict=True))
    assert len(statuses) == sum(o[0] != "reader" for o in outcomes)
    ended = {"clean": "finished", "linger": "finished", "exit": "failed", "raise": "failed"}
    ended["open"] = "killed"
    for name, status in statuses.items():
        assert status == ended[name.split("-")[0]], (name, status)


SLOW_INGEST = """
import sys, time
from pathlib import Path
import workbench as wb
from workbench.store import _ingest

store, flag = Path(sys.argv[1]), Path(sys.argv[2])
real_apply = _ingest.apply_batches

def slow_apply(con, *args, **kwargs):
    flag.touch()  # the ingester thread is inside DuckDB from here on, for seconds
    con.execute("SELECT sum(i) FROM range(20000000000) t(i)").fetchall()
    return real_apply(con, *args, **kwargs)

_ingest.apply_batches = slow_apply
client = wb.connect(store)
with client.start_run("exit-mid-ingest") as run:
    run.log_metric("m", 1.0)
while not flag.exists():
    time.sleep(0.01)
sys.exit(7)
"""


def test_exit_while_the_ingester_is_inside_duckdb(tmp_path: Path) -> None:
    """The interpreter shuts down while a background thread runs a long DuckDB query: the
    query is interrupted and the thread joined before finalization, so the process exits with
    its own code at once instead of aborting (exit -6) or hanging; the data stays journalled."""
    store = tmp_path / "store"
    wb.DuckDBStore(store).close()
    done = subprocess.run(
        [sys.executable, "-c", SLOW_INGEST, str(store), str(tmp_path / "inside")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 7, done.stderr[-3000:]
    assert "terminate called" not in done.stderr
    client = wb.Workbench(store)
    try:
        run = client.search_runs("exit-mid-ingest")
        assert list(run["status"]) == ["finished"]
        assert client.get_run(run["run_id"][0]).metrics == {"m": 1.0}
    finally:
        client.close()
