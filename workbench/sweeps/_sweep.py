"""``workbench.sweep``, ``load_sweep`` and ``list_sweeps``."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna

from workbench import _validation as v
from workbench.exceptions import NotFoundError, WorkbenchError
from workbench.sweeps import _interrupt, _trial
from workbench.sweeps._options import SweepOptions
from workbench.sweeps._parallel import WorkerPlan, run_workers, split
from workbench.sweeps._progress import Progress
from workbench.sweeps._result import STATE_NAMES, Sweep
from workbench.sweeps._setup import (
    EXPERIMENT_ATTR,
    STORAGE_TAG,
    SWEEP_ID_ATTR,
    Opened,
    open_sweep,
)
from workbench.sweeps._storage import (
    _rdb,
    journal_path,
    open_journal,
    redact,
    resolve_storage,
    sync_storage,
)
from workbench.tracking.client import TrackingClient, resolve_client

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["list_sweeps", "load_sweep", "sweep"]

logger = logging.getLogger("workbench.sweeps")


@contextlib.contextmanager
def _quiet_optuna(quiet: bool) -> Iterator[None]:
    """Hide Optuna's per-trial INFO lines while our progress display shows the same."""
    log = logging.getLogger("optuna")
    previous = log.level
    if quiet and log.getEffectiveLevel() < logging.WARNING:
        log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(previous)


def sweep(
    objective: Callable[[optuna.Trial], Any],
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    name: str | None = None,
    experiment: str | None = None,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    metric_names: Sequence[str] | None = None,
    sampler: str | optuna.samplers.BaseSampler | None = None,
    pruner: str | optuna.pruners.BasePruner | None = None,
    seed: int | None = None,
    n_jobs: int = 1,
    n_workers: int | None = None,
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None = None,
    catch: tuple[type[Exception], ...] = (Exception,),
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] | None = None,
    tags: Mapping[str, Any] | None = None,
    progress: bool | str = "auto",
    client: TrackingClient | None = None,
) -> Sweep:
    """Run an Optuna sweep in which every trial is a tracked run; resumable and parallel.

    The sweep is a parent run; each trial a child run with its params, objective value(s)
    (metric ``objective``, or ``metric_names``), state (tag ``workbench.trial_state``),
    intermediate values (metric series ``intermediate_value``, step = Optuna step), user
    attributes (tags), and whatever the objective logs: inside the objective the trial's run is
    the active run (``workbench.log_metric`` works), also reachable as
    ``workbench.trial_run(trial)``.

    Parameters
    ----------
    objective
        ``f(trial) -> float`` (or a sequence of floats for several ``directions``). Use
        ``trial.suggest_*``, ``trial.report``/``trial.should_prune`` as with Optuna.
    n_trials
        Run until the sweep has this many finished trials (complete, pruned, or failed by the
        objective) **in total**: running the same call again after a crash or kernel restart
        only runs the missing ones; raise it to run more. Trials interrupted by a crash do not
        count. ``None``: until ``timeout`` or an interrupt.
    timeout
        Stop starting trials after this many seconds (this call).
    name
        The sweep's name (its Optuna study name). An existing name continues that sweep.
        Default: a new ``sweep-<date>-<time>``.
    experiment
        Experiment of the runs (default: the sweep's name).
    direction, directions
        ``"minimize"`` (default) or ``"maximize"``; or one per objective for a multi-objective
        sweep. A continued sweep keeps its directions: a different one is an error.
    metric_names
        Names of the objective values on the runs (default ``objective`` /
        ``objective_0``, ...). Fixed when the sweep is created.
    sampler
        ``"tpe"``, ``"random"``, ``"cmaes"``, ``"gp"``, ``"nsga2"``, ``"nsga3"``, ``"qmc"``, an
        ``optuna.samplers`` instance, or None (Optuna's default).
    pruner
        ``"median"``, ``"hyperband"``, ``"successive_halving"``, ``"wilcoxon"``, ``"none"``, an
        ``optuna.pruners`` instance, or None (Optuna's default, the median rule).
    seed
        Seed of a sampler given by name (reproducible single-thread sweeps).
    n_jobs
        Threads in this process (Optuna's ``n_jobs``; -1: one per CPU).
    n_workers
        Worker processes (each with ``n_jobs`` threads); the calling process shows progress
        and keeps the parent run. See docs/sweeps.md for notebooks and platforms.
    storage
        Where the Optuna study lives. Default: a journal file in the workbench store folder,
        safe for several processes of one machine. A database URL
        (``postgresql+psycopg2://user:pw@host/db``) or ``grpc://host:port`` lets machines share
        a sweep; a path gives a journal file elsewhere; an ``optuna.storages`` object is used as
        is.
    catch
        Exceptions that fail a trial but let the sweep go on (default: any ``Exception``).
        ``catch=()`` stops at the first failing trial and raises its error.
    callbacks
        Optuna callbacks ``f(study, frozen_trial)``, called after each trial.
    tags
        Tags for the parent run and every trial run.
    progress
        ``"auto"`` (a live bar in notebooks and terminals, a line every 10 % / 10 s in logs),
        ``"bar"``, ``"log"``, or ``False``.
    client
        The workbench client (default: ``workbench.connect()``).

    Returns
    -------
    Sweep
        The sweep: ``.study`` (Optuna), ``.best_run``, ``.runs()``, ``.trials_dataframe()``;
        plots in :mod:`workbench.sweeps.plots`.

    Raises
    ------
    InvalidParameterError
        A bad argument (nothing is written), a direction or metric names that contradict the
        existing sweep of that name, or an objective returning something other than a number
        (or ``len(directions)`` numbers): that trial fails and the sweep stops. An objective
        returning NaN only fails its trial.

    Examples
    --------
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", -10, 10)
    ...     return (x - 2) ** 2
    >>> s = workbench.sweep(objective, n_trials=20, name="quadratic")   # doctest: +SKIP
    >>> s.best_run.params                                                # doctest: +SKIP
    {'x': 2.0121}
    """
    options = SweepOptions.from_params(
        objective=objective,
        n_trials=n_trials,
        timeout=timeout,
        name=name,
        experiment=experiment,
        direction=direction,
        directions=directions,
        metric_names=metric_names,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        n_jobs=n_jobs,
        n_workers=n_workers,
        storage=storage,
        catch=catch,
        callbacks=callbacks,
        tags=tags,
        progress=progress,
    )
    wb = resolve_client(client, "workbench.sweep")
    if options.n_workers is not None and getattr(wb.store, "location", "") == ":memory:":
        raise v.fail(
            "n_workers",
            "workbench.sweep",
            "None with an in-memory store (it lives in one process)",
            options.n_workers,
            "Use a store folder (workbench.set_store(path)) or n_jobs for threads.",
        )
    quiet = options.progress != "none"
    with _quiet_optuna(quiet):
        opened = open_sweep(options, wb, options.storage)
    return _optimize(options, wb, opened)


def _optimize(options: SweepOptions, wb: TrackingClient, opened: Opened) -> Sweep:
    study = opened.study
    done = _trial.count_finished(study)
    remaining = None if options.n_trials is None else max(0, options.n_trials - done)
    single = len(opened.directions) == 1
    maximize = (opened.directions[0] == "maximize") if single else None
    best = study.best_value if single and _has_complete(study) else None
    progress = Progress(
        options.progress if remaining != 0 else "none",
        name=opened.name,
        total=options.n_trials,
        done=done,
        timeout=options.timeout,
        maximize=maximize,
        best=best,
        counts=_counts(study),
    )
    recorder = _trial.TrialRecorder(
        objective=options.objective,
        client=wb,
        parent=opened.parent,
        sweep_name=opened.name,
        sweep_id=opened.sweep_id,
        experiment=opened.experiment,
        directions=opened.directions,
        metric_names=opened.metric_names,
        tags=options.tags,
        catch=options.catch,
        owns_parent=opened.owns_parent,
        target=options.n_trials,
        never_count=_trial.never_counting(study),
        on_outcome=lambda outcome, number: progress.trial_finished(
            outcome.state, outcome.values[0] if outcome.values and single else None, number
        ),
        best=best,
    )
    status, error = "finished", None
    with _interrupt.deferred(study) as interrupts:  # Ctrl-C never strands a RUNNING trial
        try:
            with _quiet_optuna(progress.mode != "none"):
                if remaining == 0:
                    logger.info("Sweep %r already has %d trials.", opened.name, done)
                elif options.n_workers is not None:
                    plans = _plans(options, wb, opened, remaining)
                    run_workers(
                        plans,
                        study,
                        progress,
                        maximize,
                        interrupts=interrupts,
                        local=opened.storage.local,
                    )
                else:
                    recorder.interrupts = interrupts
                    try:
                        study.optimize(
                            recorder,
                            n_trials=remaining,
                            timeout=options.timeout,
                            n_jobs=options.n_jobs,
                            catch=options.catch,
                            callbacks=list(options.callbacks) or None,
                        )
                    finally:
                        recorder.fail_unfinished(study)
            interrupts.raise_if_requested()
            if recorder.contract_error is not None:
                raise recorder.contract_error
        except KeyboardInterrupt:
            status, error = "killed", "Interrupted (KeyboardInterrupt)."
            raise
        except BaseException as exc:
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            progress.close()
            sync_storage(opened.storage.storage)
            _end_parent(opened, wb, status, error)
            if options.n_workers is not None:
                _publish(wb)
    return Sweep(
        study,
        wb,
        experiment=opened.experiment,
        sweep_id=opened.sweep_id,
        storage_label=opened.storage.label,
        local=opened.storage.local,
        parent_run_id=opened.parent.run_id,
    )


def _publish(wb: TrackingClient) -> None:
    """Make the runs the workers logged visible to this process's reads before returning."""
    try:
        wb.flush()
    except WorkbenchError as exc:  # the runs are safe in the spool; reads catch up later
        logger.warning("Could not make the workers' runs visible yet: %s", exc)


def _counts(study: optuna.Study) -> dict[str, int]:
    counts = {"complete": 0, "pruned": 0, "failed": 0}
    for trial in study.get_trials(deepcopy=False):
        state = STATE_NAMES.get(trial.state)
        if state in counts and _trial.counts(trial):
            counts[state] += 1
    return counts


def _has_complete(study: optuna.Study) -> bool:
    complete = optuna.trial.TrialState.COMPLETE
    return bool(study.get_trials(deepcopy=False, states=(complete,)))


def _plans(
    options: SweepOptions, wb: TrackingClient, opened: Opened, remaining: int | None
) -> list[WorkerPlan]:
    assert options.n_workers is not None
    return [
        WorkerPlan(
            objective=options.objective,
            store_location=wb.store.for_child_process()[0],
            store_environment=wb.store.for_child_process()[1],
            storage=opened.storage.storage,
            study_name=opened.name,
            sampler=opened.study.sampler,
            pruner=opened.study.pruner,
            sweep_id=opened.sweep_id,
            experiment=opened.experiment,
            directions=opened.directions,
            metric_names=opened.metric_names,
            tags=options.tags,
            catch=options.catch,
            callbacks=options.callbacks,
            parent_run_id=opened.parent.run_id,
            parent_name=opened.parent.name,
            n_trials=share,
            timeout=options.timeout,
            n_jobs=options.n_jobs,
            target=options.n_trials,
        )
        for share in split(remaining, options.n_workers)
        if share != 0
    ]


def _end_parent(opened: Opened, wb: TrackingClient, status: str, error: str | None) -> None:
    """Summarize the session on the parent run and end it (only if this process owns it)."""
    if not opened.owns_parent:
        return
    counts = {"complete": 0, "pruned": 0, "failed": 0}
    for trial in opened.study.get_trials(deepcopy=False):
        state = STATE_NAMES.get(trial.state)
        if state in counts:
            counts[state] += 1
    opened.parent.log_metrics({f"n_{k}": v for k, v in counts.items()})
    if counts["complete"] and len(opened.directions) == 1:
        opened.parent.log_metric("best_value", opened.study.best_value)
    elif counts["complete"]:
        opened.parent.log_metric("pareto_size", len(opened.study.best_trials))
    opened.parent.end(status, error)


# -- reading sweeps back ----------------------------------------------------------------------
def load_sweep(
    name: str,
    *,
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None = None,
    client: TrackingClient | None = None,
) -> Sweep:
    """A sweep by name, to look at (plots, best run, runs table) without running trials.

    Trials left RUNNING by processes of this machine that died (a killed kernel or worker) are
    marked failed when the sweep's trials are read, as when the sweep is continued.

    Parameters
    ----------
    name
        The sweep's name.
    storage
        Its Optuna storage, if it is not the default journal in the store folder.
    client
        The workbench client (default: ``workbench.connect()``).
    """
    caller = "workbench.load_sweep"
    v.check_name(name, caller, name="name")
    wb = resolve_client(client, caller)
    root = getattr(wb.store, "root", None)
    shared = getattr(wb.store, "sqlalchemy_url", None)  # a team store: its database
    choice = resolve_storage(storage, root, name, caller=caller, shared=shared)
    try:
        study = optuna.load_study(study_name=name, storage=choice.storage)
    except KeyError:
        known = sorted(list_sweeps(client=wb)["name"]) if storage is None else []
        where = choice.label if storage is not None else wb.store.location
        raise NotFoundError(
            f"No sweep named {name!r} in {where}"
            + (f". Sweeps there: {known}." if known else ".")
            + " Start one with workbench.sweep(objective, name=...)."
        ) from None
    attrs = study.user_attrs
    return Sweep(
        study,
        wb,
        experiment=str(attrs.get(EXPERIMENT_ATTR, name)),
        sweep_id=attrs.get(SWEEP_ID_ATTR),
        storage_label=choice.label,
        local=choice.local,
    )


_LIST_COLUMNS = [
    "name",
    "experiment",
    "status",
    "trials",
    "complete",
    "pruned",
    "failed",
    "running",
    "best_value",
    "directions",
    "storage",
    "run_id",
    "start_time",
]


def list_sweeps(*, client: TrackingClient | None = None) -> pd.DataFrame:
    """The sweeps of the store, newest first: one row per parent run, with trial counts.

    Counts and best value are read from sweeps whose study is where the store keeps them by
    default (its journal, or a team store's own database); for sweeps given another storage
    they are left empty (open them with ``load_sweep(name, storage=url)``).
    """
    import pandas as pd

    wb = resolve_client(client, "workbench.list_sweeps")
    runs = wb.search_runs(filter=f"tags.{_trial.KIND_TAG} = 'sweep'", max_results=None)
    root = getattr(wb.store, "root", None)
    shared = getattr(wb.store, "sqlalchemy_url", None)  # a team store keeps studies in it
    rows = []
    for _, run in runs.iterrows():
        name = str(run.get(f"tags.{_trial.SWEEP_TAG}"))
        label = str(run.get(f"tags.{STORAGE_TAG}", "journal"))
        row: dict[str, Any] = {
            "name": name,
            "experiment": run["experiment"],
            "status": run["status"],
            "storage": label,
            "run_id": run["run_id"],
            "start_time": run["start_time"],
            "directions": _directions_text(run.get("params.directions")),
        }
        if shared is not None and label == redact(shared):
            row.update(_summary(_rdb(shared, "workbench.list_sweeps"), name, local=False))
        elif label == "journal" and root is not None:
            path = journal_path(root, name)
            if path.exists():
                row.update(_summary(open_journal(path), name, local=True))
        rows.append(row)
    return pd.DataFrame(rows, columns=_LIST_COLUMNS)


def _directions_text(value: Any) -> str | None:
    """``'["minimize", "maximize"]'`` (the parent run's param) as ``'minimize, maximize'``."""
    import json

    try:
        return ", ".join(json.loads(value))
    except (TypeError, ValueError):
        return None if value is None else str(value)


def _summary(storage: Any, name: str, *, local: bool) -> dict[str, Any]:
    """Trial counts and the best value of the study ``name`` in ``storage`` (``local``: only
    this machine reaches it, so a running trial of a dead process counts as failed)."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return {}
    counts = {k: 0 for k in ("complete", "pruned", "failed", "running")}
    for trial in _trial.settled_trials(study, local=local):
        state = STATE_NAMES.get(trial.state)
        if state in counts:
            counts[state] += 1
    summary: dict[str, Any] = {"trials": sum(counts.values()), **counts}
    if counts["complete"] and len(study.directions) == 1:
        summary["best_value"] = study.best_value
    return summary
