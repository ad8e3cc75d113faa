"""Eight writer processes, one reader, and random kill -9s against one store for 30 s.

Checks the store's promises under the load our users create: no exception reaches any caller,
every point whose log call returned at least one flush window before its writer was killed is
stored (all points of writers that were not killed), and runs of killed writers end up killed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import workbench as wb

WORKER = Path(__file__).with_name("_mp_worker.py")
N_WRITERS = 8
SECONDS = float(os.environ.get("WORKBENCH_MP_SECONDS", "30"))
FLUSH_WINDOW_S = 1.0  # documented bound: flush interval (0.5 s) plus one write, rounded up


@dataclass
class Writer:
    process: subprocess.Popen[bytes]
    ack: Path
    killed_at: float | None = None


@dataclass
class Acks:
    points: list[tuple[str, int, float]] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _spawn(role: str, store: Path, ack: Path, stop: Path, *extra: str) -> subprocess.Popen[bytes]:
    with open(ack.with_suffix(".stderr"), "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, str(WORKER), role, str(store), str(ack), str(stop), *extra],
            stderr=stderr,
        )


def _parse(path: Path) -> Acks:
    acks = Acks()
    if not path.exists():  # killed while still importing: it acknowledged nothing
        return acks
    for line in path.read_text().splitlines():
        kind, _, rest = line.partition(" ")
        parts = rest.split()
        if kind == "pt" and len(parts) == 3:
            acks.points.append((parts[0], int(parts[1]), float(parts[2])))
        elif kind == "start" and len(parts) == 2:
            acks.started[parts[0]] = float(parts[1])
        elif kind == "end" and len(parts) == 2:
            acks.ended.add(parts[0])
        elif kind == "EXC":
            acks.errors.append(rest)
    return acks


@pytest.mark.slow
def test_writers_reader_and_kill9(tmp_path: Path) -> None:
    store, stop = tmp_path / "store", tmp_path / "stop"
    wb.DuckDBStore(store).close()
    rng = random.Random(7)
    writers: list[Writer] = []

    def start_writer() -> None:
        ack = tmp_path / f"writer-{len(writers)}.ack"
        writers.append(Writer(_spawn("writer", store, ack, stop, str(len(writers))), ack))

    for _ in range(N_WRITERS):
        start_writer()
    reader_ack = tmp_path / "reader.ack"
    reader = _spawn("reader", store, reader_ack, stop)
    deadline = time.monotonic() + SECONDS
    time.sleep(3)  # let every writer get going before the first kill
    while time.monotonic() < deadline:
        running = [w for w in writers if w.killed_at is None and _parse(w.ack).started]
        if not running:  # replacements still starting up: kill only writers mid-run
            time.sleep(0.1)
            continue
        victim = rng.choice(running)
        victim.killed_at = time.time()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        start_writer()
        time.sleep(rng.uniform(1.0, 3.0))
    stop.touch()
    for writer in writers:
        if writer.killed_at is None:
            code = writer.process.wait(timeout=60)
            assert code == 0, writer.ack.with_suffix(".stderr").read_text()
    assert reader.wait(timeout=60) == 0, reader_ack.with_suffix(".stderr").read_text()

    wb.set_store(store)
    try:
        wb.flush()
        reads = [line for line in reader_ack.read_text().splitlines() if line.startswith("read")]
        assert len(reads) > 10, "the reader should have polled many times"
        assert "EXC" not in reader_ack.read_text()
        runs = wb.search_runs("mp", max_results=None).set_index("run_id")
        stored = wb.get_metric_history(list(runs.index), "loss")
        stored_points = set(zip(stored["run_id"], stored["step"], strict=True))
        n_killed = n_points = 0
        for writer in writers:
            acks = _parse(writer.ack)
            assert acks.errors == [], acks.errors
            cutoff = (writer.killed_at - FLUSH_WINDOW_S) if writer.killed_at else float("inf")
            for run_id, step, acked_at in acks.points:
                if acked_at < cutoff:
                    n_points += 1
                    assert (run_id, step) in stored_points, (writer.ack.name, run_id, step)
            for run_id, started_at in acks.started.items():
                if run_id in acks.ended:
                    assert runs.loc[run_id, "status"] == "finished"
                elif writer.killed_at is not None and run_id in runs.index:
                    assert runs.loc[run_id, "status"] == "killed", run_id
                    n_killed += 1
                else:
                    assert started_at >= cutoff, f"acknowledged run {run_id} is missing"
        kills = sum(w.killed_at is not None for w in writers)
        assert kills >= SECONDS / 6
        assert n_killed >= kills // 3, "kills should often hit a run older than the window"
        assert n_points > 1000
        assert (runs["status"] != "running").all()
    finally:
        wb.set_store(None)
