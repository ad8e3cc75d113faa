"""Objectives used by the sweep tests, importable by worker processes and the CLI.

Also runnable as a script: ``python _sweep_objectives.py STORE NAME N_TRIALS`` runs a sweep of
:func:`slow` (the crash test kills it mid-sweep).
"""

from __future__ import annotations

import sys
import time

import optuna

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


if __name__ == "__main__":
    store, name, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from workbench.sweeps import sweep

    workbench.set_store(store)
    sweep(slow, name=name, n_trials=n_trials, progress="none")
