"""Several processes on one sweep: every trial tracked exactly once, no store errors."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from _sweep_checks import assert_tracked_once
from _sweep_objectives import busy, quadratic
from optuna.trial import FrozenTrial, TrialState

import workbench as wb
from workbench.sweeps import Sweep, SweepWorkerError, _parallel, load_sweep, sweep

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
    s = load_sweep("dies")
    assert wb.get_run(s.parent_run_id).status.value == "failed"
    assert s.counts()["running"] == 0  # Optuna let SystemExit through: the trials were failed


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


def _interrupt_parent_once(marker: Path) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A worker callback: the first worker to complete a trial sends the parent SIGINT."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state != TrialState.COMPLETE:
            return
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        os.kill(os.getppid(), signal.SIGINT)

    return callback


def _interrupt_when(condition: Callable[[], bool], timeout: float = 120) -> threading.Thread:
    """SIGINT this process once ``condition()`` holds (or after ``timeout``, so a test whose
    condition never comes fails instead of hanging; ``thread.held`` tells which)."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        thread.held = condition()  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=watch, name="interrupt-when", daemon=True)
    thread.start()
    return thread


def _assert_stopped_cleanly(name: str) -> Sweep:
    """After an interrupted sweep: no worker left, no trial RUNNING, parent run killed."""
    assert multiprocessing.active_children() == []
    s = load_sweep(name)
    assert s.counts()["running"] == 0
    assert all(t.state != TrialState.RUNNING for t in s.study.get_trials(deepcopy=False))
    assert wb.get_run(s.parent_run_id).status.value == "killed"
    return s


def test_interrupting_the_parent_stops_the_workers(store_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        sweep(
            busy,
            n_trials=100_000,
            name="stopped",
            n_workers=2,
            callbacks=[_interrupt_parent_once(marker)],
            progress=False,
        )
    s = _assert_stopped_cleanly("stopped")
    counts = s.counts()
    assert 0 < counts["complete"] < 100_000
    assert counts["failed"] <= 2  # the trial each worker was running
    runs = s.runs()
    assert set(runs["status"]) <= {"finished", "killed"}


def test_a_worker_that_ignores_the_interrupt_is_killed_and_its_trial_failed(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_parallel, "STOP_GRACE_S", 0.5)
    inside = tmp_path / "inside"
    inside.mkdir()

    def stubborn(trial: optuna.Trial) -> float:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # like code that masks Ctrl-C
        trial.suggest_float("x", 0, 1)
        wb.flush()  # the trial's run is in the store before anyone is killed
        (inside / str(os.getpid())).touch()
        while True:
            time.sleep(0.01)

    watcher = _interrupt_when(lambda: len(list(inside.iterdir())) == 2)
    with pytest.raises(KeyboardInterrupt):
        sweep(stubborn, n_trials=10, name="stubborn", n_workers=2, progress=False)
    watcher.join()
    assert watcher.held  # type: ignore[attr-defined]
    s = _assert_stopped_cleanly("stubborn")
    assert s.counts() == {**s.counts(), "total": 2, "failed": 2}
    runs = s.runs()
    assert len(runs) == 2 and set(runs["status"]) == {"killed"}


_fork_hook_armed: list[int] = []  # the pid whose next fork gets SIGINT inside an at-fork hook


def _interrupt_in_fork_hook() -> None:
    if _fork_hook_armed and _fork_hook_armed[0] == os.getpid():
        _fork_hook_armed.clear()
        os.kill(os.getpid(), signal.SIGINT)  # its handler runs inside this hook


os.register_at_fork(before=_interrupt_in_fork_hook)


def test_an_interrupt_while_a_worker_is_forked_is_not_lost(store_dir: Path) -> None:
    # Python drops an exception raised in an at-fork hook ("Exception ignored in ..."): a
    # KeyboardInterrupt raised there used to vanish, and the parent waited for every trial.
    _fork_hook_armed.append(os.getpid())
    with pytest.raises(KeyboardInterrupt):
        sweep(busy, n_trials=100, name="fork", n_workers=2, progress=False)
    assert not _fork_hook_armed
    s = _assert_stopped_cleanly("fork")
    assert s.counts()["total"] < 100
