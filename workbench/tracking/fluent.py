"""Module-level tracking functions: start runs, log to them, read them back.

The functions that read or write a store take ``client=`` (default: the client of the configured
store, ``workbench.set_store`` / ``WORKBENCH_STORE``, i.e. :func:`workbench.connect`); the
``log_*`` and ``set_tag*`` functions act on the active run of the enclosing
``with workbench.start_run(...)`` block, which carries its own client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.tracking.client import _ACTIVE, TrackingClient, resolve_client
from workbench.tracking.run import ActiveRun, active_run, require_active_run

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import Experiment, Run
    from workbench.store import StoreHealth

__all__ = [
    "ActiveRun",
    "active_run",
    "close",
    "count_runs",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "doctor",
    "flush",
    "get_experiment",
    "get_metric_history",
    "get_run",
    "list_experiments",
    "load_artifact",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "rename_experiment",
    "restore_experiment",
    "restore_run",
    "search_runs",
    "set_tag",
    "set_tags",
    "sql",
    "start_run",
]


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    parent: ActiveRun | str | None = _ACTIVE,
    client: TrackingClient | None = None,
) -> ActiveRun:
    """Start a run in the configured store; see :meth:`workbench.Workbench.start_run`."""
    return resolve_client(client, "start_run").start_run(experiment, name, tags=tags, parent=parent)


def resume_run(run_id: str, *, client: TrackingClient | None = None) -> ActiveRun:
    """Reopen an ended run to log more to it; see :meth:`workbench.Workbench.resume_run`."""
    return resolve_client(client, "resume_run").resume_run(run_id)


def log_param(key: str, value: Any) -> None:
    """Log a param to the active run."""
    require_active_run("workbench.log_param").log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log params to the active run."""
    require_active_run("workbench.log_params").log_params(params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: float | None = None
) -> None:
    """Log a metric point to the active run."""
    require_active_run("workbench.log_metric").log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: float | None = None
) -> None:
    """Log several metric points to the active run."""
    require_active_run("workbench.log_metrics").log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    require_active_run("workbench.set_tag").set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags on the active run."""
    require_active_run("workbench.set_tags").set_tags(tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    """Copy a file or folder into the active run's artifacts."""
    return require_active_run("workbench.log_artifact").log_artifact(local_path, artifact_path)


def log_text(text: str, artifact_path: str = "notes.txt") -> str:
    """Store text as an artifact of the active run."""
    return require_active_run("workbench.log_text").log_text(text, artifact_path)


def log_dict(dictionary: Mapping[str, Any], artifact_path: str = "data.json") -> str:
    """Store a dict as an artifact of the active run."""
    return require_active_run("workbench.log_dict").log_dict(dictionary, artifact_path)


def log_figure(figure: Any, artifact_path: str = "figure.json") -> str:
    """Store a figure as an artifact of the active run."""
    return require_active_run("workbench.log_figure").log_figure(figure, artifact_path)


def log_table(table: pd.DataFrame, artifact_path: str = "table.parquet") -> str:
    """Store a DataFrame as an artifact of the active run."""
    return require_active_run("workbench.log_table").log_table(table, artifact_path)


def log_input(data: Any, name: str | None = None, context: str = "training") -> str:
    """Record a dataset used by the active run; returns its digest."""
    return require_active_run("workbench.log_input").log_input(data, name, context)


def flush(*, client: TrackingClient | None = None) -> None:
    """Block until everything logged is durable and visible to readers."""
    resolve_client(client, "flush").flush()


def doctor(*, client: TrackingClient | None = None) -> StoreHealth:
    """A health check of the current store: journals waiting, damage found and skipped."""
    return resolve_client(client, "doctor").doctor()


def close(*, client: TrackingClient | None = None) -> None:
    """Flush and release the configured store's client (before deleting its folder, say)."""
    resolve_client(client, "close").close()


def get_run(run_id: str, *, client: TrackingClient | None = None) -> Run:
    """A run snapshot; see :meth:`workbench.Workbench.get_run`."""
    return resolve_client(client, "get_run").get_run(run_id)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,  # noqa: A002
    order_by: str | Sequence[str] | None = None,
    max_results: int | None = 100_000,
    *,
    offset: int = 0,
    columns: Sequence[str] | None = None,
    include_deleted: bool = False,
    metric_stats: Sequence[str] = ("latest",),
    group_nested: bool = False,
    max_children: int = 50,
    client: TrackingClient | None = None,
) -> pd.DataFrame:
    """Search runs; see :meth:`workbench.Workbench.search_runs`."""
    return resolve_client(client, "search_runs").search_runs(
        experiment,
        filter,
        order_by,
        max_results,
        offset=offset,
        columns=columns,
        include_deleted=include_deleted,
        metric_stats=metric_stats,
        group_nested=group_nested,
        max_children=max_children,
    )


def count_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,  # noqa: A002
    *,
    include_deleted: bool = False,
    group_nested: bool = False,
    client: TrackingClient | None = None,
) -> int:
    """Count the runs ``search_runs`` finds; see :meth:`workbench.Workbench.count_runs`."""
    return resolve_client(client, "count_runs").count_runs(
        experiment, filter, include_deleted=include_deleted, group_nested=group_nested
    )


def get_metric_history(
    run_id: str | Sequence[str],
    key: str | Sequence[str] | None = None,
    *,
    client: TrackingClient | None = None,
) -> pd.DataFrame:
    """Metric points of runs as a DataFrame."""
    return resolve_client(client, "get_metric_history").get_metric_history(run_id, key)


def sql(query: str, *, client: TrackingClient | None = None, **parameters: Any) -> pd.DataFrame:
    """Read-only SQL over the store's views (``$name`` placeholders take ``parameters``)."""
    return resolve_client(client, "sql").sql(query, **parameters)


def create_experiment(
    name: str, description: str | None = None, *, client: TrackingClient | None = None
) -> Experiment:
    """Create an experiment."""
    return resolve_client(client, "create_experiment").create_experiment(name, description)


def get_experiment(
    name: str, *, include_deleted: bool = False, client: TrackingClient | None = None
) -> Experiment:
    """An experiment by name or id."""
    return resolve_client(client, "get_experiment").get_experiment(
        name, include_deleted=include_deleted
    )


def list_experiments(
    *, include_deleted: bool = False, client: TrackingClient | None = None
) -> pd.DataFrame:
    """Experiments as a DataFrame."""
    return resolve_client(client, "list_experiments").list_experiments(
        include_deleted=include_deleted
    )


def rename_experiment(
    name: str, new_name: str, *, client: TrackingClient | None = None
) -> Experiment:
    """Rename an experiment."""
    return resolve_client(client, "rename_experiment").rename_experiment(name, new_name)


def delete_experiment(name: str, *, client: TrackingClient | None = None) -> None:
    """Soft-delete an experiment."""
    resolve_client(client, "delete_experiment").delete_experiment(name)


def restore_experiment(name: str, *, client: TrackingClient | None = None) -> None:
    """Restore a soft-deleted experiment."""
    resolve_client(client, "restore_experiment").restore_experiment(name)


def delete_run(run_id: str, *, client: TrackingClient | None = None) -> None:
    """Soft-delete a run."""
    resolve_client(client, "delete_run").delete_run(run_id)


def restore_run(run_id: str, *, client: TrackingClient | None = None) -> None:
    """Restore a soft-deleted run."""
    resolve_client(client, "restore_run").restore_run(run_id)


def load_artifact(run_id: str, path: str, *, client: TrackingClient | None = None) -> Any:
    """Load a run's artifact as a Python object."""
    return resolve_client(client, "load_artifact").load_artifact(run_id, path)


def artifact_path(run_id: str, path: str, *, client: TrackingClient | None = None) -> Path:
    """Local file of a run's artifact."""
    return resolve_client(client, "artifact_path").artifact_path(run_id, path)
