"""Optuna sweeps in which every trial is a tracked run: live, parallel and resumable.

    import workbench as wb

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        for epoch in range(20):
            loss = train_one_epoch(lr)
            wb.log_metric("train_loss", loss)       # the trial's run is the active run
            trial.report(loss, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return evaluate()

    s = wb.sweep(objective, n_trials=50, name="lr-search", pruner="median")
    s.best_run                                       # a workbench Run
    s.runs()                                         # every trial run as a DataFrame
    wb.sweeps.plots.plot_optimization_history(s)     # plotly figures

See docs/sweeps.md.
"""

from __future__ import annotations

from workbench.sweeps import plots
from workbench.sweeps._parallel import SweepWorkerError
from workbench.sweeps._result import Sweep
from workbench.sweeps._storage import copy_studies
from workbench.sweeps._sweep import list_sweeps, load_sweep, sweep
from workbench.sweeps._trial import trial_run
from workbench.sweeps.plots import (
    plot_contour,
    plot_intermediate_values,
    plot_optimization_history,
    plot_param_importances,
    plot_pareto_front,
    plot_slice,
    plot_sweep_parallel_coordinates,
    plot_timeline,
)

__all__ = [
    "Sweep",
    "SweepWorkerError",
    "copy_studies",
    "list_sweeps",
    "load_sweep",
    "plot_contour",
    "plot_intermediate_values",
    "plot_optimization_history",
    "plot_param_importances",
    "plot_pareto_front",
    "plot_slice",
    "plot_sweep_parallel_coordinates",
    "plot_timeline",
    "plots",
    "sweep",
    "trial_run",
]
