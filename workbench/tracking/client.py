"""``TrackingClient``: the tracking half of the handle on one store, and the one-per-store cache.

:class:`workbench.Workbench` (in :mod:`workbench.client`, above every layer) extends it with the
registry, sweeps, serving, monitoring, compare and pipelines. Layers below it take a ``client=``
keyword and resolve it with :func:`resolve_client`: ``None`` means the client of the configured
store. There is one client per store location in a process, so all runs logging to a store share
one buffer and one background flusher.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import _validation as v
from workbench._who import who
from workbench.config import flush_interval, is_team_url, store_location
from workbench.exceptions import ArtifactNotFoundError, ConflictError, ReadOnlyStoreError
from workbench.store import RunSearch, Store, StoreHealth, get_store, resolve_store_location
from workbench.tracking import context as run_context
from workbench.tracking._recorder import Recorder
from workbench.tracking.run import PLOTLY_MEDIA_TYPE, ActiveRun, _now_us, active_run, new_run_id

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import Experiment, Run

__all__ = ["TrackingClient", "client_for", "resolve_client"]

DEFAULT_EXPERIMENT = "Default"
DEFAULT_MAX_RESULTS = 100_000
METRIC_STATS = ("latest", "min", "max", "count")
_ACTIVE: Any = object()  # sentinel: "the enclosing active run, if any"
_ADJECTIVES = (
    "amber",
    "brisk",
    "calm",
    "deft",
    "eager",
    "fleet",
    "gentle",
    "hardy",
    "keen",
    "lucid",
    "mellow",
    "nimble",
    "plucky",
    "quiet",
    "rapid",
    "sunny",
    "tidy",
    "vivid",
)
_NOUNS = (
    "badger",
    "crane",
    "dingo",
    "egret",
    "ferret",
    "gecko",
    "heron",
    "ibis",
    "jaguar",
    "koala",
    "lemur",
    "marten",
    "newt",
    "otter",
    "panda",
    "quail",
    "robin",
    "stoat",
)

_clients: dict[str, TrackingClient] = {}
_clients_lock = threading.Lock()


def _run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1, 999)}"


class TrackingClient:
    """A client of one store: start runs, read them back, manage experiments.

    Parameters
    ----------
    store
        A ``Store``, a store folder, ``":memory:"``, or ``None`` for the configured default.
    """

    def __init__(self, store: Store | str | os.PathLike[str] | None = None) -> None:
        self.store = get_store(store)
        self._recorder = Recorder(self.store, flush_interval())
        self._known_runs: set[str] = set()  # ids checked to exist: parents need no re-check

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store.location!r})"

    # -- runs -------------------------------------------------------------------------------
    def start_run(
        self,
        experiment: str | None = None,
        name: str | None = None,
        *,
        tags: Mapping[str, Any] | None = None,
        parent: ActiveRun | str | None = _ACTIVE,
    ) -> ActiveRun:
        """Start a run and return its handle (use it with ``with``).

        Parameters
        ----------
        experiment
            Experiment name, created on first use (default ``"Default"``, or the parent's).
        name
            Run name (default: a generated, readable one).
        tags
            Labels to set at start.
        parent
            Parent run handle or id for nested runs. By default, the active run of the
            enclosing ``with`` block, if any; ``None`` forces a top-level run.
        """
        caller = "start_run"
        self._require_writable("start a run")
        if parent is _ACTIVE:
            parent = active_run()
        parent_id = parent.run_id if isinstance(parent, ActiveRun) else parent
        if parent_id is not None and not isinstance(parent_id, str):
            raise v.fail("parent", caller, "a run handle, a run id or None", parent)
        if experiment is None:
            experiment = parent.experiment if isinstance(parent, ActiveRun) else DEFAULT_EXPERIMENT
        v.check_name(experiment, caller, name="experiment")
        name = _run_name() if name is None else v.check_name(name, caller, name="name")
        if tags is not None:
            v.check_mapping(tags, caller, name="tags")
        if (
            isinstance(parent_id, str)
            and parent_id not in self._recorder.running
            and parent_id not in self._known_runs
        ):
            self.get_run(parent_id)  # raises RunNotFoundError for a mistyped id
        run = ActiveRun(
            self, run_id=new_run_id(), name=name, experiment=experiment, parent_id=parent_id
        )
        process = self._recorder.process
        self._recorder.record(
            "runs",
            {
                "run_id": run.run_id,
                "experiment": experiment,
                "name": name,
                "parent_id": parent_id,
                "start_time": _now_us(),
                "proc_id": process.proc_id,
                "host": process.host,
                "pid": process.pid,
                "pid_started": process.pid_started,
                "context": json.dumps(run_context.capture(), default=str),
                "created_by": who(),
            },
        )
        if not self._recorder.running:
            self.store.heartbeat(process)
        self._recorder.running[run.run_id] = run.end
        if tags:
            run.set_tags(tags)
        return run

    def resume_run(self, run_id: str) -> ActiveRun:
        """Reopen an ended run to log more to it (a resumed sweep, a crashed training job).

        The run goes back to ``running`` and this process becomes its owner; params already
        logged stay immutable and metric steps continue after the last one.
        """
        self._require_writable("resume a run")
        run = self.get_run(run_id)
        if run_id in self._recorder.running or run.status.value == "running":
            raise ConflictError(
                f"Run {run_id!r} is still running (in this or another live process); end it "
                "there first, or start a new run."
            )
        handle = ActiveRun(
            self,
            run_id=run.run_id,
            name=run.name,
            experiment=run.experiment,
            parent_id=run.parent_id,
        )
        for key, value in run.params.items():
            text, _, kind = v.param_to_record(key, value, "resume_run")
            handle._params[key] = (text, kind)
        steps = self.store.sql("SELECT key, step FROM metrics WHERE run_id = $id", {"id": run_id})
        handle._last_step.update(zip(steps["key"], steps["step"].astype(int), strict=True))
        process = self._recorder.process
        self._recorder.record(
            "run_updates",
            {
                "run_id": run_id,
                "status": "running",
                "end_time": None,
                "error": None,
                "proc_id": process.proc_id,
                "host": process.host,
                "pid": process.pid,
                "pid_started": process.pid_started,
            },
        )
        self.store.heartbeat(process)
        self._recorder.running[run_id] = handle.end
        return handle

    def _require_writable(self, action: str) -> None:
        if self.store.read_only:
            raise ReadOnlyStoreError(
                f"The store {self.store.location} is open read-only (a read-only mount, or "
                f"another user's folder), so workbench cannot {action} in it. Log to a store "
                "of your own: workbench.set_store(path) or WORKBENCH_STORE."
            )

    def flush(self) -> None:
        """Block until everything logged so far is durable and visible to every reader."""
        self._recorder.sync(block=True)

    def doctor(self) -> StoreHealth:
        """A health check of the store: journals waiting to be ingested, and every range of
        damaged journal bytes found, skipped and kept aside (see docs/store.md)."""
        self._recorder.flush_before_read()
        return self.store.doctor()

    def close(self) -> None:
        """End open runs as killed, flush, and release the store; the client is unusable after.

        Call it before deleting a store folder; ``connect()`` then makes a fresh client.
        """
        self._recorder.close()
        with _clients_lock:
            for key, client in list(_clients.items()):
                if client is self:
                    del _clients[key]
        self.store.close()

    def get_run(self, run_id: str) -> Run:
        """A snapshot of one run (params, latest metrics, tags, inputs, artifacts, context)."""
        if not isinstance(run_id, str) or not run_id:
            raise v.fail(
                "run_id",
                "get_run",
                "a run id string",
                run_id,
                "Find ids with workbench.search_runs().",
            )
        self._recorder.flush_before_read()
        run = self.store.get_run(run_id)
        self._known_runs.add(run_id)
        return run

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - the word users know from MLflow
        order_by: str | Sequence[str] | None = None,
        max_results: int | None = DEFAULT_MAX_RESULTS,
        *,
        offset: int = 0,
        columns: Sequence[str] | None = None,
        include_deleted: bool = False,
        metric_stats: Sequence[str] = ("latest",),
        group_nested: bool = False,
        max_children: int = 50,
    ) -> pd.DataFrame:
        """Runs as a DataFrame: one row per run; ``params.*``, ``metrics.*``, ``tags.*`` columns.

        The one query over runs: the runs browser and the JupyterLab sidebar page through it
        too. ``frame.attrs["total"]`` is the number of matching runs before ``offset`` and
        ``max_results`` (the same as :meth:`count_runs`), for paging.

        Parameters
        ----------
        experiment
            Name or names to search (default: all experiments).
        filter
            e.g. ``"params.model = 'rf' AND (metrics.auc > 0.9 OR tags.team IN ('a', 'b'))"``.
            See docs/filter.md: AND/OR/NOT, parentheses, = != < <= > >=, IN, LIKE, ILIKE,
            IS [NOT] NULL, ``min(metrics.x)``/``max(metrics.x)``; params compare numerically
            with numbers.
        order_by
            ``"<field> [ASC|DESC]"`` items, e.g. ``["metrics.auc DESC", "params.lr",
            "start_time"]`` (a field is ``params.<key>``, ``metrics.<key>``, ``tags.<key>``,
            ``min(metrics.<key>)``, ``max(metrics.<key>)`` or an attribute such as
            ``start_time``); runs without the value come last in either direction. Ties,
            and no order_by, sort newest first.
        max_results
            At most this many rows (``None``: all).
        offset
            Skip this many matching rows first (paging: ``offset=page * page_size``).
        columns
            Only these ``params.<key>``, ``metrics.<key>`` and ``tags.<key>`` columns, in this
            order (all-None when no run has the key), e.g. ``["metrics.auc", "params.lr"]``:
            a page reads only what it shows. Default: every key the returned runs have. The
            run attributes (``run_id``, ``name``, ``experiment``, ``status``, ``start_time``,
            ``end_time``, ``duration_s``, ``parent_id``, ``error``) always come first.
        metric_stats
            Which summaries of each metric to add: ``latest`` (column ``metrics.x``), ``min``,
            ``max``, ``count`` (columns ``min(metrics.x)``, ...).
        group_nested
            Page over trees of nested runs: each top-level run that matches, or has a
            matching descendant, followed by its matching descendants (at most
            ``max_children``), depth first; ``max_results``, ``offset`` and the total count
            trees. Adds the columns ``depth`` (0 for a top-level run) and ``children`` (the
            matching descendants of a top-level run). Trees sort by their best matching run
            (a sweep by its best trial).

        Raises
        ------
        FilterSyntaxError
            When ``filter`` or ``order_by`` is not valid; the message names the bad part.
        InvalidParameterError
            For any other bad argument.
        """
        search = self._run_search(
            "search_runs",
            experiment,
            filter,
            order_by,
            include_deleted,
            group_nested,
            max_results=max_results,
            offset=offset,
            columns=columns,
            metric_stats=metric_stats,
            max_children=max_children,
        )
        self._recorder.flush_before_read()
        return self.store.search_runs(search)

    def count_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - the word of search_runs
        *,
        include_deleted: bool = False,
        group_nested: bool = False,
    ) -> int:
        """How many runs :meth:`search_runs` finds with the same arguments (without paging).

        With ``group_nested``, the number of trees (top-level runs that match or have a
        matching descendant).
        """
        search = self._run_search(
            "count_runs", experiment, filter, None, include_deleted, group_nested
        )
        self._recorder.flush_before_read()
        return self.store.count_runs(search)

    @staticmethod
    def _run_search(
        caller: str,
        experiment: Any,
        filter: Any,  # noqa: A002
        order_by: Any,
        include_deleted: Any,
        group_nested: Any,
        *,
        max_results: Any = None,
        offset: Any = 0,
        columns: Any = None,
        metric_stats: Any = ("latest",),
        max_children: Any = 50,
    ) -> RunSearch:
        """The checked request of :meth:`search_runs` and :meth:`count_runs`."""
        experiments: tuple[str, ...] | None
        if experiment is None:
            experiments = None
        elif isinstance(experiment, str):
            experiments = (v.check_name(experiment, caller, name="experiment"),)
        elif isinstance(experiment, Sequence):
            experiments = tuple(v.check_name(e, caller, name="experiment") for e in experiment)
        else:
            raise v.fail("experiment", caller, "a name, a list of names or None", experiment)
        if filter is not None and not isinstance(filter, str):
            raise v.fail("filter", caller, "a filter string or None", filter)
        orders = (order_by,) if isinstance(order_by, str) else tuple(order_by or ())
        if not all(isinstance(o, str) for o in orders):
            raise v.fail(
                "order_by", caller, "a string or a list of '<field> [ASC|DESC]' strings", order_by
            )
        v.check_positive_int(max_results, caller, name="max_results", allow_none=True)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise v.fail("offset", caller, "an int >= 0", offset)
        v.check_positive_int(max_children, caller, name="max_children")
        stats = tuple(metric_stats)
        if not stats or any(s not in METRIC_STATS for s in stats):
            raise v.fail(
                "metric_stats", caller, f"a non-empty subset of {METRIC_STATS}", metric_stats
            )
        return RunSearch(
            experiments=experiments,
            filter=filter,
            order_by=orders,
            max_results=max_results,
            offset=offset,
            include_deleted=bool(include_deleted),
            metric_stats=stats,
            columns=_checked_columns(columns, caller),
            group_nested=bool(group_nested),
            max_children=max_children,
        )

    def get_metric_history(
        self, run_id: str | Sequence[str], key: str | Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Every logged point of a run's (or runs') metrics: run_id, key, step, value, timestamp."""
        run_ids = [run_id] if isinstance(run_id, str) else list(run_id)
        if not run_ids or not all(isinstance(r, str) for r in run_ids):
            raise v.fail("run_id", "get_metric_history", "a run id or a list of run ids", run_id)
        keys = None if key is None else ([key] if isinstance(key, str) else list(key))
        self._recorder.flush_before_read()
        return self.store.get_metric_history(run_ids, keys)

    def sql(self, query: str, **parameters: Any) -> pd.DataFrame:
        """Run one read-only SELECT over the store's views; ``$name`` placeholders bind kwargs.

        Views: runs, params, metrics (latest/min/max/count per run and key), metric_history,
        tags, datasets, run_inputs, artifacts, experiments.
        """
        if not isinstance(query, str) or not query.strip():
            raise v.fail(
                "query",
                "sql",
                "a SELECT statement",
                query,
                "e.g. workbench.sql('select * from runs').",
            )
        self._recorder.flush_before_read()
        return self.store.sql(query, parameters)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run: hidden from searches, kept in the store, restorable."""
        self._recorder.flush_before_read()
        self.store.set_run_deleted(run_id, True)

    def restore_run(self, run_id: str) -> None:
        """Undo ``delete_run``."""
        self._recorder.flush_before_read()
        self.store.set_run_deleted(run_id, False)

    # -- experiments ------------------------------------------------------------------------
    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        """Create an experiment explicitly (runs also create theirs on first use)."""
        v.check_name(name, "create_experiment", name="name")
        self._recorder.flush_before_read()
        return self.store.create_experiment(name, description)

    def get_experiment(self, name: str, *, include_deleted: bool = False) -> Experiment:
        """An experiment by name or id."""
        v.check_name(name, "get_experiment", name="name")
        self._recorder.flush_before_read()
        return self.store.get_experiment(name, include_deleted=include_deleted)

    def list_experiments(self, *, include_deleted: bool = False) -> pd.DataFrame:
        """Experiments with their number of runs, as a DataFrame."""
        import pandas as pd

        self._recorder.flush_before_read()
        experiments = self.store.list_experiments(include_deleted=include_deleted)
        counts = self.store.sql(
            "SELECT experiment_id, count(*) AS n FROM wb_runs WHERE deleted_at IS NULL "
            "GROUP BY experiment_id"
        )
        n_runs = dict(zip(counts["experiment_id"], counts["n"], strict=True))
        return pd.DataFrame(
            [
                {
                    "experiment_id": e.experiment_id,
                    "name": e.name,
                    "runs": int(n_runs.get(e.experiment_id, 0)),
                    "created_at": e.created_at,
                    "deleted": e.deleted,
                    "description": e.description,
                }
                for e in experiments
            ],
            columns=["experiment_id", "name", "runs", "created_at", "deleted", "description"],
        )

    def rename_experiment(self, name: str, new_name: str) -> Experiment:
        """Rename an experiment (its runs follow)."""
        v.check_name(new_name, "rename_experiment", name="new_name")
        return self.store.rename_experiment(self.get_experiment(name).experiment_id, new_name)

    def delete_experiment(self, name: str) -> None:
        """Soft-delete an experiment and hide its runs; ``restore_experiment`` undoes it."""
        self.store.set_experiment_deleted(self.get_experiment(name).experiment_id, True)

    def restore_experiment(self, name: str) -> None:
        """Undo ``delete_experiment``."""
        exp = self.get_experiment(name, include_deleted=True)
        self.store.set_experiment_deleted(exp.experiment_id, False)

    # -- artifacts --------------------------------------------------------------------------
    def artifact_path(self, run_id: str, path: str) -> Path:
        """The local file holding artifact ``path`` of a run (read-only)."""
        run = self.get_run(run_id)
        for ref in run.artifacts:
            if ref.path == path:
                return self.store.artifacts.path(ref.digest)
        raise ArtifactNotFoundError(
            f"Run {run_id!r} has no artifact {path!r}. It has: {[a.path for a in run.artifacts]}."
        )

    def load_artifact(self, run_id: str, path: str) -> Any:
        """An artifact as a Python object: DataFrame, plotly Figure, dict, str, or bytes."""
        file = self.artifact_path(run_id, path)
        suffix = Path(path).suffix.lower()
        media_type = next(a.media_type for a in self.get_run(run_id).artifacts if a.path == path)
        if media_type == PLOTLY_MEDIA_TYPE:
            import plotly.io

            return plotly.io.from_json(file.read_text())
        if suffix in (".parquet", ".csv"):
            import pandas as pd

            return pd.read_parquet(file) if suffix == ".parquet" else pd.read_csv(file)
        if suffix == ".json":
            return json.loads(file.read_text())
        if media_type.startswith("text/") or suffix in (".yaml", ".yml", ".md"):
            return file.read_text()
        return file.read_bytes()


def client_for(store: Store | str | os.PathLike[str] | None = None) -> TrackingClient:
    """The client of ``store`` (default: the configured store); one per store per process.

    The client is built with the class registered by :mod:`workbench.client` (``Workbench``),
    so every layer gets the same full handle whichever layer asked first.
    """
    target = resolve_store_location() if store is None else store
    if isinstance(target, Store):
        key = f"store:{id(target)}"
    elif isinstance(target, (str, os.PathLike)) and str(target).strip():
        key = target = store_location(target, given_as="connect(store)")
        if key != ":memory:" and not is_team_url(key):
            key = str(Path(key).expanduser().absolute())
    else:
        raise v.fail("store", "connect", "a folder path, ':memory:' or a Store", store)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = client_class(target)
        return client


def resolve_client(client: TrackingClient | None, caller: str) -> TrackingClient:
    """``client`` itself, or the client of the configured store when it is ``None``.

    This is how every layer's ``client=`` keyword is read, so the same words mean the same thing
    in ``register_model``, ``sweep``, ``deploy``, ``monitor``, ``compare`` ...
    """
    if client is None:
        return client_for()
    if not isinstance(client, TrackingClient):
        raise v.fail(
            "client", caller, "a workbench client (workbench.connect(...)) or None", client
        )
    return client


#: The class :func:`client_for` builds: :class:`workbench.Workbench` once :mod:`workbench.client`
#: is imported (importing :mod:`workbench` does that). Kept here so lower layers never import up.
client_class: type[TrackingClient] = TrackingClient


def _checked_columns(columns: Any, caller: str) -> tuple[str, ...] | None:
    """``columns`` of ``search_runs`` as a tuple; run attributes are allowed (always returned)."""
    if columns is None:
        return None
    names = (columns,) if isinstance(columns, str) else columns
    expected = (
        "a list of 'params.<key>', 'metrics.<key>' or 'tags.<key>' names (run attributes "
        "such as 'name' are always returned), or None for every key"
    )
    if not isinstance(names, Sequence):
        raise v.fail("columns", caller, expected, columns)
    attributes = RunSearch.RUN_COLUMNS + RunSearch.TREE_COLUMNS
    for name in names:
        kind, dot, key = name.partition(".") if isinstance(name, str) else ("", "", "")
        if name not in attributes and not (kind in ("params", "metrics", "tags") and dot and key):
            raise v.fail("columns", caller, expected, name)
    return tuple(names)
