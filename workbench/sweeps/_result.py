"""``Sweep``: a sweep's Optuna study together with its tracked runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from workbench import _validation as v
from workbench.exceptions import ConflictError, NotFoundError, RunNotFoundError
from workbench.sweeps import _trial
from workbench.sweeps._setup import parent_run_row, study_metric_names

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import Run
    from workbench.tracking.client import TrackingClient

__all__ = ["Sweep"]

STATE_NAMES = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}


class Sweep:
    """A hyperparameter sweep: an untouched ``optuna.Study`` whose every trial is a run.

    Returned by :func:`workbench.sweep` and :func:`workbench.load_sweep`. The study is live:
    properties read the storage each time, so a ``Sweep`` shows the trials other processes add.
    Trials left RUNNING by a process that died are marked failed as they are read.

    Attributes
    ----------
    study
        The ``optuna.Study``: everything Optuna offers works on it.
    experiment
        The workbench experiment holding the sweep's runs.
    sweep_id
        The sweep's identity (tag ``workbench.sweep_id`` on its runs).
    """

    def __init__(
        self,
        study: optuna.Study,
        client: TrackingClient,
        *,
        experiment: str,
        sweep_id: str | None,
        storage_label: str = "journal",
        local: bool = False,
        parent_run_id: str | None = None,
    ) -> None:
        self.study = study
        self.client = client
        self.experiment = experiment
        self.sweep_id = sweep_id
        self.storage_label = storage_label
        self._local = local  # only this machine reaches the storage
        self._parent_run_id = parent_run_id

    # -- identity ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The sweep's name (the Optuna study name)."""
        return self.study.study_name

    @property
    def directions(self) -> list[str]:
        """``'minimize'``/``'maximize'``, one per objective."""
        return [d.name.lower() for d in self.study.directions]

    @property
    def metric_names(self) -> list[str]:
        """The metric names of the objective values on each trial run."""
        return study_metric_names(self.study)

    @property
    def is_multi_objective(self) -> bool:
        return len(self.study.directions) > 1

    @property
    def parent_run_id(self) -> str | None:
        """The sweep's parent run in this store (None if this store has none)."""
        if self._parent_run_id is None and self.sweep_id is not None:
            row = parent_run_row(self.client, self.sweep_id)
            self._parent_run_id = None if row is None else str(row["run_id"])
        return self._parent_run_id

    def __repr__(self) -> str:
        counts = self.counts()
        text = ", ".join(f"{n} {k}" for k, n in counts.items() if n and k != "total")
        best = ""
        if not self.is_multi_objective and counts["complete"]:
            trial = self.study.best_trial
            best = f"; best {trial.value:.6g} at trial {trial.number} {trial.params}"
        elif self.is_multi_objective and counts["complete"]:
            best = f"; Pareto front of {len(self.study.best_trials)} trial(s)"
        return f"Sweep({self.name!r}, {counts['total']} trials: {text or 'none yet'}{best})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.sweeps._html import sweep_html

        return {"text/plain": repr(self), "text/html": sweep_html(self)}

    # -- trials ---------------------------------------------------------------------------------
    def _trials(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        """The study's trials without copying (do not modify them); RUNNING trials of dead
        processes are failed first (every view reads trials through here)."""
        trials = _trial.settled_trials(self.study, local=self._local)
        return trials if states is None else [t for t in trials if t.state in states]

    def counts(self) -> dict[str, int]:
        """Trials by state: ``total``, ``complete``, ``pruned``, ``failed``, ``running``, ..."""
        result = {"total": 0, **dict.fromkeys(STATE_NAMES.values(), 0)}
        for trial in self._trials():
            result["total"] += 1
            result[STATE_NAMES[trial.state]] += 1
        return result

    @property
    def best_trial(self) -> FrozenTrial:
        """The best complete trial (one objective; see ``best_trials`` for several)."""
        if self.is_multi_objective:
            raise ConflictError(
                f"Sweep {self.name!r} has {len(self.directions)} objectives {self.directions}: "
                "it has a Pareto front, not one best trial. Use sweep.best_trials or "
                "sweep.best_runs."
            )
        self._require_complete("best_trial")
        return self.study.best_trial

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto-optimal complete trials (the best one for a single objective)."""
        return self.study.best_trials

    @property
    def best_run(self) -> Run:
        """The run of the best trial (one objective; see ``best_runs`` for several)."""
        return self._run_of(self.best_trial)

    @property
    def best_runs(self) -> list[Run]:
        """The runs of the Pareto-optimal trials."""
        self._require_complete("best_runs")
        return [self._run_of(t) for t in self.best_trials]

    def run_id(self, trial: int | FrozenTrial) -> str | None:
        """The run id of a trial (by number or trial), or None if it was not tracked."""
        if isinstance(trial, int) and not isinstance(trial, bool):
            trials = self._trials()
            if not 0 <= trial < len(trials):
                raise v.fail(
                    "trial", "Sweep.run_id", f"a trial number in [0, {len(trials)})", trial
                )
            trial = trials[trial]
        if not isinstance(trial, FrozenTrial):
            raise v.fail("trial", "Sweep.run_id", "a trial number or FrozenTrial", trial)
        run_id = trial.user_attrs.get(_trial.RUN_ID_ATTR)
        return None if run_id is None else str(run_id)

    def _run_of(self, trial: FrozenTrial) -> Run:
        run_id = self.run_id(trial)
        if run_id is None:
            raise NotFoundError(
                f"Trial {trial.number} of sweep {self.name!r} has no workbench run (it was run "
                "outside workbench.sweep)."
            )
        try:
            return self.client.get_run(run_id)
        except RunNotFoundError:  # logged by another process, not yet visible here
            self.client.flush()
            return self.client.get_run(run_id)

    def _require_complete(self, what: str) -> None:
        if not self._trials(states=(TrialState.COMPLETE,)):
            raise NotFoundError(
                f"Sweep {self.name!r} has no complete trial yet, so it has no {what}. Run more "
                f"trials with workbench.sweep(objective, name={self.name!r}, n_trials=...)."
            )

    # -- tables ---------------------------------------------------------------------------------
    def runs(self) -> pd.DataFrame:
        """The trial runs as a DataFrame (``search_runs`` columns), by trial number.

        Adds ``trial_number`` and ``trial_state`` (Optuna's state: complete, pruned, failed,
        running). Only runs in this store are listed (workers on other machines log to theirs).
        """
        import pandas as pd

        if self.sweep_id is None:
            return pd.DataFrame()
        trials = self._trials()
        df = self._search_trial_runs()
        expected = {t.user_attrs.get(_trial.RUN_ID_ATTR) for t in trials} - {None}
        if not expected <= set(df.get("run_id", ())):
            # Runs other processes logged reach this process's reads within a moment; wait
            # for them (runs of other machines' stores stay missing, at the cost of this wait).
            self.client.flush()
            df = self._search_trial_runs()
        if df.empty:
            return df
        states = {t.number: STATE_NAMES[t.state] for t in trials}
        numbers = pd.to_numeric(df[f"tags.{_trial.TRIAL_NUMBER_TAG}"]).astype(int)
        df.insert(0, "trial_number", numbers)
        df.insert(1, "trial_state", numbers.map(states))
        return df.sort_values("trial_number", kind="stable").reset_index(drop=True)

    def _search_trial_runs(self) -> pd.DataFrame:
        return self.client.search_runs(
            filter=(
                f"tags.{_trial.SWEEP_ID_TAG} = '{self.sweep_id}' "
                f"AND tags.{_trial.KIND_TAG} = 'trial'"
            ),
            max_results=None,
        )

    def trials_dataframe(self) -> pd.DataFrame:
        """Optuna's ``study.trials_dataframe()`` with a ``run_id`` column (workbench attrs out)."""
        self._trials()  # fail the RUNNING trials of dead processes first
        df = self.study.trials_dataframe()
        if df.empty:
            return df
        column = f"user_attrs_{_trial.RUN_ID_ATTR}"
        run_ids = df[column] if column in df.columns else None
        df = df.drop(columns=[c for c in df.columns if c.startswith("user_attrs_workbench.")])
        df.insert(1, "run_id", run_ids if run_ids is not None else None)
        return df
