"""Several processes on one sweep: every trial tracked exactly once, no store errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _sweep_checks import assert_tracked_once
from _sweep_objectives import busy, quadratic

import workbench as wb
from workbench.sweeps import SweepWorkerError, load_sweep, sweep

pytestmark = pytest.mark.slow

OBJECTIVES = Path(__file__).with_name("_sweep_objectives.py")
# Runs the CLI whether or not the sweeps commands are registered in workbench.cli yet.
CLI = (
    "import sys, workbench.cli as c, workbench.cli.sweeps as s\n"
    "c.COMMAND_MODULES = [*c.COMMAND_MODULES, s] if s not in c.COMMAND_MODULES else "
    "c.COMMAND_MODULES\n"
    "sys.exit(c.main(sys.argv[1:]))\n"
)


def test_four_worker_processes(store_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    s = sweep(busy, n_trials=160, name="four", n_workers=4, progress="log")

    assert s.counts()["complete"] == 160 and s.counts()["total"] == 160
    assert_tracked_once(s)
    runs = s.runs()
    assert (runs["metrics.x_seen"] == runs["params.x"]).all()
    owners = {t.user_attrs["workbench.owner"].split("|")[1] for t in s.study.trials}
    assert len(owners) == 4  # the four processes all ran trials
    parent = wb.get_run(s.parent_run_id)
    assert parent.status.value == "finished" and len(parent.children) == 160
    err = capfd.readouterr().err
    assert "Traceback" not in err and "error" not in err.lower()
    assert "sweep four: 160/160 trials (160 complete)" in err


def test_a_failing_worker_is_reported_and_the_rest_kept(store_dir: Path) -> None:
    def crashes_in_worker(trial: object) -> float:
        raise SystemExit(3)  # not an Exception: Optuna does not catch it, the worker dies

    with pytest.raises(SweepWorkerError, match="worker 0"):
        sweep(crashes_in_worker, n_trials=4, name="dies", n_workers=2, progress=False)
    assert wb.get_run(load_sweep("dies").parent_run_id).status.value == "failed"


def _worker(store: Path, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "--store", str(store), "sweep", "worker", "cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def test_cli_workers_share_a_sweep(store_dir: Path) -> None:
    objective = f"{OBJECTIVES}:busy"
    workers = [_worker(store_dir, "--objective", objective, "--n-trials", "60") for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "Traceback" not in err
        assert out.startswith("Sweep('cli'")
    s = load_sweep("cli")
    # The total is the target; a worker may finish the one trial it had started.
    assert 60 <= s.counts()["complete"] <= 61
    assert_tracked_once(s)

    more = _worker(
        store_dir,
        "--objective",
        "_sweep_objectives:quadratic",  # module:function, importable from the working folder
        "--n-trials",
        "65",
        cwd=OBJECTIVES.parent,
    )
    out, err = more.communicate(timeout=120)
    assert more.returncode == 0, err
    assert quadratic is not None and load_sweep("cli").counts()["complete"] >= 65


def test_interrupting_the_parent_stops_the_workers(store_dir: Path) -> None:
    import os
    import signal
    import threading

    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        sweep(busy, n_trials=100_000, name="stopped", n_workers=2, progress=False)
    timer.join()
    s = load_sweep("stopped")
    counts = s.counts()
    assert counts["running"] == 0 and 0 < counts["complete"] < 100_000
    assert counts["failed"] <= 2  # the trial each worker was running
    runs = s.runs()
    assert set(runs["status"]) <= {"finished", "killed"}
    assert wb.get_run(s.parent_run_id).status.value == "killed"
