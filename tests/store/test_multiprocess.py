"""Eight writer processes, one reader, and kill -9s against one store.

Checks the store's promises under the load our users create: no exception reaches any caller,
every point whose log call returned at least ``durability_bound()`` before its writer was
killed is stored (all points of writers that were not killed), and runs of killed writers end
up killed. The test is driven by counts and conditions, not by the clock: it kills
``WORKBENCH_MP_KILLS`` writers (default 8), each in the middle of a run whose start and first
points are older than the bound, and ends once enough points were logged and read polls made,
so that it checks the same on a busy machine, only more slowly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

import workbench as wb
from workbench.config import durability_bound

WORKER = Path(__file__).with_name("_mp_worker.py")
N_WRITERS = 8
N_KILLS = int(os.environ.get("WORKBENCH_MP_KILLS", "8"))
MIN_POINTS = 2_000  # acknowledged points to check, at least
MIN_READS = 10  # polls of the reader, at least
GIVE_UP_S = 600  # a condition that never comes fails the test instead of hanging it
T = TypeVar("T")


def _wait_for(what: str, condition: Callable[[], T | None]) -> T:
    """Poll ``condition`` until it returns something other than None/False; return that."""
    deadline = time.monotonic() + GIVE_UP_S
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


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
    text = path.read_text()
    for line in text[: text.rfind("\n") + 1].splitlines():  # a cut line was never finished
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


def _mid_run(writer: Writer, bound: float) -> str | None:
    """The run ``writer`` is in the middle of, if its start and a point were acknowledged more
    than ``bound`` ago (so both must be stored once it is killed), else None."""
    acks = _parse(writer.ack)
    old = time.time() - bound
    for run_id, started_at in acks.started.items():
        if run_id in acks.ended or started_at >= old:
            continue
        if any(r == run_id and acked_at < old for r, _, acked_at in acks.points):
            return run_id
    return None


@pytest.mark.slow
def test_writers_reader_and_kill9(tmp_path: Path) -> None:
    store, stop = tmp_path / "store", tmp_path / "stop"
    wb.DuckDBStore(store).close()
    rng = random.Random(7)
    bound = durability_bound()
    writers: list[Writer] = []

    def start_writer() -> None:
        ack = tmp_path / f"writer-{len(writers)}.ack"
        writers.append(Writer(_spawn("writer", store, ack, stop, str(len(writers))), ack))

    def live() -> list[Writer]:
        return [w for w in writers if w.killed_at is None]

    for _ in range(N_WRITERS):
        start_writer()
    reader_ack = tmp_path / "reader.ack"
    reader = _spawn("reader", store, reader_ack, stop)
    _wait_for("every writer to start a run", lambda: all(_parse(w.ack).started for w in writers))
    killed_runs: list[str] = []
    while len(killed_runs) < N_KILLS:
        candidates = _wait_for(
            "a writer in the middle of a run",
            lambda: [(w, run) for w in live() if (run := _mid_run(w, bound))],
        )
        victim, run_id = rng.choice(candidates)
        victim.killed_at = time.time()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        killed_runs.append(run_id)
        start_writer()
        time.sleep(rng.uniform(0.2, 1.0))  # kills spread over the run, not all at once

    def reads() -> list[str]:
        text = reader_ack.read_text() if reader_ack.exists() else ""
        return [line for line in text.splitlines() if line.startswith("read")]

    _wait_for(
        "enough points and reads",
        lambda: (
            sum(len(_parse(w.ack).points) for w in writers) >= MIN_POINTS
            and len(reads()) >= MIN_READS
        ),
    )
    stop.touch()
    for writer in live():
        code = writer.process.wait(timeout=GIVE_UP_S)
        assert code == 0, writer.ack.with_suffix(".stderr").read_text()
    assert reader.wait(timeout=GIVE_UP_S) == 0, reader_ack.with_suffix(".stderr").read_text()

    wb.set_store(store)
    try:
        wb.flush()
        assert "EXC" not in reader_ack.read_text()
        runs = wb.search_runs("mp", max_results=None).set_index("run_id")
        stored = wb.get_metric_history(list(runs.index), "loss")
        stored_points = set(zip(stored["run_id"], stored["step"], strict=True))
        n_points = 0
        for writer in writers:
            acks = _parse(writer.ack)
            assert acks.errors == [], acks.errors
            cutoff = (writer.killed_at - bound) if writer.killed_at else float("inf")
            for run_id, step, acked_at in acks.points:
                if acked_at < cutoff:
                    n_points += 1
                    assert (run_id, step) in stored_points, (writer.ack.name, run_id, step)
            for run_id, started_at in acks.started.items():
                if run_id in acks.ended:
                    assert runs.loc[run_id, "status"] == "finished"
                elif writer.killed_at is not None and run_id in runs.index:
                    assert runs.loc[run_id, "status"] == "killed", run_id
                else:
                    assert started_at >= cutoff, f"acknowledged run {run_id} is missing"
        for run_id in killed_runs:  # each kill hit a run older than the bound: it is kept,
            # killed, or finished when its run.end() was under way as the kill landed (the
            # writer's acknowledgement of the end may not have been written yet)
            assert runs.loc[run_id, "status"] in ("killed", "finished"), run_id
        ended = [r for r in killed_runs if runs.loc[r, "status"] == "finished"]
        assert len(ended) < len(killed_runs), "the kills must have cut runs short"
        assert n_points >= MIN_POINTS * 0.5
        assert (runs["status"] != "running").all()
    finally:
        wb.set_store(None)
