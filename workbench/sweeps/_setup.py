"""Open a sweep: create or load its Optuna study, and find or start its parent run.

A sweep is identified by its name in its Optuna storage. The study carries, as user attributes,
``workbench.sweep_id`` (a uuid, so a study deleted and re-created under the same name is a new
sweep) and ``workbench.experiment``. The parent run is found in the *local* workbench store by
its tags (``workbench.kind=sweep``, ``workbench.sweep_id``): a study in a PostgreSQL server can
be shared by machines that each have their own store, so the study cannot hold "the" run id.

Opening happens under a per-sweep file lock in the store folder, so processes of one machine
that start the same sweep at once create one study and one parent run between them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.exceptions import ExperimentalWarning

from workbench import _validation as v
from workbench.exceptions import ConflictError, RunNotFoundError
from workbench.sweeps import _trial
from workbench.sweeps._options import CALLER, SweepOptions, make_pruner, make_sampler
from workbench.sweeps._storage import JOURNAL_DIR, StorageChoice, journal_path, resolve_storage
from workbench.tracking.run import ActiveRun

if TYPE_CHECKING:
    from workbench.tracking.client import TrackingClient

__all__ = ["Opened", "open_sweep", "parent_run_row"]

logger = logging.getLogger("workbench.sweeps")

SWEEP_ID_ATTR = "workbench.sweep_id"
EXPERIMENT_ATTR = "workbench.experiment"
STORAGE_TAG = "workbench.sweep_storage"


@dataclass
class Opened:
    """A sweep ready to optimize: its study, identity and parent run handle."""

    study: optuna.Study
    storage: StorageChoice
    name: str
    experiment: str
    sweep_id: str
    directions: list[str]
    metric_names: list[str]
    parent: ActiveRun
    owns_parent: bool
    failed_stale: int


def default_metric_names(n_objectives: int) -> list[str]:
    """``objective`` for one objective, ``objective_0``, ``objective_1``, ... for several."""
    return ["objective"] if n_objectives == 1 else [f"objective_{i}" for i in range(n_objectives)]


def study_metric_names(study: optuna.Study) -> list[str]:
    """The names the sweep logs its objective values under."""
    return list(study.metric_names or default_metric_names(len(study.directions)))


def generated_name() -> str:
    """A new sweep name: ``sweep-20261123-051104``."""
    return f"sweep-{dt.datetime.now():%Y%m%d-%H%M%S}"


@contextlib.contextmanager
def _setup_lock(root: Path | None, name: str) -> Iterator[None]:
    if root is None:
        yield
        return
    import filelock

    path = journal_path(root, name).with_suffix(".setup.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(path, timeout=120, poll_interval=0.01):
        yield


def _study_id(storage: optuna.storages.BaseStorage, name: str) -> int | None:
    try:
        return storage.get_study_id_from_name(name)
    except KeyError:
        return None


def open_sweep(options: SweepOptions, client: TrackingClient, storage: Any) -> Opened:
    """Create or load the sweep described by ``options``; see the module docstring."""
    root: Path | None = getattr(client.store, "root", None)
    name = options.name or generated_name()
    shared = getattr(client.store, "sqlalchemy_url", None)  # a team store: its database
    choice = resolve_storage(storage, root, name, shared=shared)
    with _setup_lock(root, name):
        study_id = _study_id(choice.storage, name)
        if study_id is None:
            directions = options.directions or ["minimize"]
            study = _create(options, choice, name, directions)
        else:
            n_objectives = len(choice.storage.get_study_directions(study_id))
            study = optuna.load_study(
                study_name=name,
                storage=choice.storage,
                sampler=make_sampler(options.sampler, options.seed, n_objectives),
                pruner=make_pruner(options.pruner),
            )
            directions = _check_compatible(options, study)
        attrs = study.user_attrs
        sweep_id = attrs.get(SWEEP_ID_ATTR)
        if sweep_id is None:  # a new study, or a plain Optuna study adopted by workbench
            sweep_id = uuid.uuid4().hex
            study.set_user_attr(SWEEP_ID_ATTR, sweep_id)
        experiment = options.experiment or attrs.get(EXPERIMENT_ATTR) or name
        if EXPERIMENT_ATTR not in attrs:
            study.set_user_attr(EXPERIMENT_ATTR, experiment)
        failed = _trial.fail_stale_trials(study, local=choice.local)
        parent, owns = _parent_run(options, client, study, choice, name, experiment, sweep_id)
    return Opened(
        study=study,
        storage=choice,
        name=name,
        experiment=experiment,
        sweep_id=sweep_id,
        directions=directions,
        metric_names=study_metric_names(study),
        parent=parent,
        owns_parent=owns,
        failed_stale=failed,
    )


def _create(
    options: SweepOptions, choice: StorageChoice, name: str, directions: list[str]
) -> optuna.Study:
    study = optuna.create_study(
        study_name=name,
        storage=choice.storage,
        sampler=make_sampler(options.sampler, options.seed, len(directions)),
        pruner=make_pruner(options.pruner),
        directions=directions,  # type: ignore[arg-type]  # checked: 'minimize'/'maximize'
        load_if_exists=True,  # another machine may create it at the same moment
    )
    if options.metric_names:
        # Optuna labels set_metric_names experimental (stable since 3.2); we use it so that
        # Optuna's own trials_dataframe() and plots show the names the user chose.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            study.set_metric_names(list(options.metric_names))
    return study


def _check_compatible(options: SweepOptions, study: optuna.Study) -> list[str]:
    """The stored directions; an error naming both sides if the request contradicts the sweep."""
    name = study.study_name
    stored = [d.name.lower() for d in study.directions]
    if options.directions is not None and options.directions != stored:
        given = options.directions
        as_arg = f"direction={stored[0]!r}" if len(stored) == 1 else f"directions={stored!r}"
        raise v.fail(
            "direction" if len(given) == 1 else "directions",
            CALLER,
            f"{stored[0] if len(stored) == 1 else stored!r} like the existing sweep {name!r}",
            given[0] if len(given) == 1 else given,
            f"Pass {as_arg} (or omit it) to continue sweep {name!r}, or choose another name "
            "for a new sweep. Nothing was changed.",
        )
    stored_experiment = study.user_attrs.get(EXPERIMENT_ATTR)
    if options.experiment is not None and stored_experiment not in (None, options.experiment):
        raise v.fail(
            "experiment",
            CALLER,
            f"{stored_experiment!r}, the experiment of the existing sweep {name!r}",
            options.experiment,
            "Omit it to continue the sweep, or choose another name for a new sweep.",
        )
    stored_names = study_metric_names(study)
    if options.metric_names is not None and list(options.metric_names) != stored_names:
        raise v.fail(
            "metric_names",
            CALLER,
            f"{stored_names!r}, the metric names of the existing sweep {name!r}",
            options.metric_names,
            "Metric names are fixed when a sweep is created: omit them to continue it.",
        )
    return stored


# -- the parent run ----------------------------------------------------------------------------
def parent_run_row(client: TrackingClient, sweep_id: str) -> Any | None:
    """The local store's parent run of a sweep, as a search_runs row (None if absent)."""
    df = client.search_runs(
        filter=f"tags.{_trial.SWEEP_ID_TAG} = '{sweep_id}' AND tags.{_trial.KIND_TAG} = 'sweep'",
        order_by="start_time",
        max_results=1,
    )
    return None if df.empty else df.iloc[0]


def handle(client: TrackingClient, run_id: str, name: str, experiment: str) -> ActiveRun:
    """A handle on a run another process owns, only to name it as the parent of new runs.

    The client checks that a parent id exists once, then remembers it, so starting trial runs
    under it costs no store read.
    """
    return ActiveRun(client, run_id=run_id, name=name, experiment=experiment, parent_id=None)


def _parent_run(
    options: SweepOptions,
    client: TrackingClient,
    study: optuna.Study,
    choice: StorageChoice,
    name: str,
    experiment: str,
    sweep_id: str,
) -> tuple[ActiveRun, bool]:
    row = parent_run_row(client, sweep_id)
    if row is not None:
        try:
            run = client.resume_run(str(row["run_id"]))
        except ConflictError:  # running in another live process: join without owning it
            return handle(
                client, str(row["run_id"]), str(row["name"]), str(row["experiment"])
            ), False
        except RunNotFoundError:
            row = None
        else:
            client.flush()  # other processes opening the sweep must see it running
            return run, True
    run = client.start_run(
        experiment,
        name,
        parent=None,
        tags={
            **options.tags,
            _trial.KIND_TAG: "sweep",
            _trial.SWEEP_TAG: name,
            _trial.SWEEP_ID_TAG: sweep_id,
            STORAGE_TAG: choice.label,
        },
    )
    run.log_params(
        {
            "directions": [d.name.lower() for d in study.directions],
            "metric_names": study_metric_names(study),
            "sampler": type(study.sampler).__name__,
            "pruner": type(study.pruner).__name__,
        }
    )
    client.flush()
    return run, True


def journal_files(root: Path) -> list[Path]:
    """The default journals of a store folder."""
    folder = root / JOURNAL_DIR
    return sorted(folder.glob("*.journal")) if folder.is_dir() else []
