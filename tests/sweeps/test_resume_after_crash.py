"""Kill -9 a sweep mid-trial, twice, then finish it: no finished trial is lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from _sweep_objectives import slow
from optuna.trial import TrialState

import workbench as wb
from workbench.sweeps import sweep
from workbench.sweeps._storage import journal_path, open_journal

SCRIPT = Path(__file__).with_name("_sweep_objectives.py")
NAME = "crash"
N_TRIALS = 60

pytestmark = pytest.mark.slow


def _complete(store: Path) -> int:
    path = journal_path(store, NAME)
    if not path.exists():
        return 0
    try:
        study = optuna.load_study(study_name=NAME, storage=open_journal(path))
    except KeyError:
        return 0
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _run_and_kill(store: Path, after: int) -> int:
    """Run the sweep in a subprocess until the trial after ``after`` complete ones is under way,
    SIGKILL it there (mid-trial), and return that trial's number."""
    marker = store.parent / f"hanging-after-{after}"
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(store), NAME, str(N_TRIALS), str(after), str(marker)],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() or not marker.read_text():
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    if process.stderr is not None:
        process.stderr.close()
    assert _complete(store) == after
    return int(marker.read_text())


def test_killed_twice_then_resumed(store_dir: Path) -> None:
    killed = [_run_and_kill(store_dir, after=10), _run_and_kill(store_dir, after=25)]
    s = sweep(slow, name=NAME, n_trials=N_TRIALS, progress=False)

    trials = s.study.trials
    states = [t.state for t in trials]
    assert TrialState.RUNNING not in states
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in interrupted] == killed  # they do not count toward n_trials
    assert all("workbench.error" not in t.user_attrs for t in interrupted)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == N_TRIALS
    assert sorted(t.number for t in trials) == list(range(len(trials)))

    runs = s.runs()
    assert runs["trial_number"].is_unique  # every trial tracked at most once
    by_number = runs.set_index("trial_number")
    for trial in complete:
        row = by_number.loc[trial.number]
        assert row["run_id"] == trial.user_attrs["workbench.run_id"]
        assert row["status"] == "finished"
        assert row["metrics.objective"] == pytest.approx(trial.value)
        history = wb.get_metric_history(row["run_id"], "train_loss")
        assert len(history) == 4
    for trial in interrupted:
        if trial.number in by_number.index:  # its start may not have reached the disk
            assert by_number.loc[trial.number, "status"] in ("killed", "finished")

    parents = wb.search_runs(
        filter=f"tags.workbench.sweep_id = '{s.sweep_id}' AND tags.workbench.kind = 'sweep'"
    )
    assert len(parents) == 1  # resumed, not re-created, by every run of the sweep
    parent = wb.get_run(s.parent_run_id)
    assert parent.status.value == "finished"
    assert len(parent.children) == len(runs)
