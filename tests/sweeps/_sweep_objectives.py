"""Objectives used by the sweep tests, importable by worker processes and the CLI.

Also runnable as a script: ``python _sweep_objectives.py STORE NAME N_TRIALS [AFTER MARKER]``
runs a sweep of :func:`slow`; with ``AFTER``, the trial that starts once the sweep has that
many complete trials logs a point, writes its number to ``MARKER`` and waits forever, mid-trial
(the crash test kills it there).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.trial import TrialState

import workbench
from workbench.sweeps import trial_run


def quadratic(trial: optuna.Trial) -> float:
    """Minimum 0 at x = 2, y = -1."""
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_float("y", -5, 5)
    return (x - 2) ** 2 + (y + 1) ** 2


def slow(trial: optuna.Trial) -> float:
    """A quadratic that takes ~20 ms and logs a metric, like a tiny training loop."""
    x = trial.suggest_float("x", -5, 5)
    for step in range(4):
        time.sleep(0.005)
        workbench.log_metric("train_loss", (x - 2) ** 2 + 1 / (step + 1))
    return (x - 2) ** 2


def busy(trial: optuna.Trial) -> float:
    """A few ms of work, so that worker processes overlap."""
    x = trial.suggest_float("x", -5, 5)
    time.sleep(0.002)
    trial_run(trial).log_metric("x_seen", x)
    return (x - 2) ** 2


def hangs_after(after: int, marker: Path) -> Callable[[optuna.Trial], float]:
    """:func:`slow`, except that the trial starting once ``after`` trials are complete hangs."""

    def objective(trial: optuna.Trial) -> float:
        complete = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < after:
            return slow(trial)
        trial.suggest_float("x", -5, 5)
        workbench.log_metric("train_loss", 1.0)
        marker.write_text(str(trial.number))
        threading.Event().wait()
        raise AssertionError("unreachable")

    return objective


if __name__ == "__main__":
    store, name, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from workbench.sweeps import sweep

    workbench.set_store(store)
    objective = slow if len(sys.argv) < 6 else hangs_after(int(sys.argv[4]), Path(sys.argv[5]))
    sweep(objective, name=name, n_trials=n_trials, progress="none")
