"""workbench: the ML lifecycle in your notebook, on one embedded DuckDB store.

Track a run::

    import workbench as wb

    with wb.start_run(experiment="churn") as run:
        run.log_params({"C": 1.0, "penalty": "l2"})
        run.log_metric("auc", 0.91)

    wb.search_runs("churn", filter="metrics.auc > 0.9")   # a pandas DataFrame
    wb.sql("select key, avg(value) from metrics group by key")

The store is ``./.workbench/`` by default (see :mod:`workbench.config`).
"""

from __future__ import annotations

from workbench._version import __version__
from workbench.client import Workbench, connect
from workbench.config import set_store
from workbench.entities import ArtifactRef, Dataset, DatasetInput, Experiment, Run, RunStatus
from workbench.exceptions import (
    ArtifactNotFoundError,
    ConflictError,
    ExperimentNotFoundError,
    FilterSyntaxError,
    InvalidParameterError,
    NoActiveRunError,
    NotAWorkbenchStoreError,
    NotFoundError,
    RunNotActiveError,
    RunNotFoundError,
    StoreBusyError,
    StoreError,
    StoreVersionError,
    WorkbenchError,
)
from workbench.store import DuckDBStore, Store, get_store
from workbench.tracking.autolog import autolog
from workbench.tracking.fluent import (
    active_run,
    artifact_path,
    close,
    create_experiment,
    delete_experiment,
    delete_run,
    flush,
    get_experiment,
    get_metric_history,
    get_run,
    list_experiments,
    load_artifact,
    log_artifact,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    rename_experiment,
    restore_experiment,
    restore_run,
    resume_run,
    search_runs,
    set_tag,
    set_tags,
    sql,
    start_run,
)
from workbench.tracking.run import ActiveRun

__all__ = [
    "ActiveRun",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ConflictError",
    "Dataset",
    "DatasetInput",
    "DuckDBStore",
    "Experiment",
    "ExperimentNotFoundError",
    "FilterSyntaxError",
    "InvalidParameterError",
    "NoActiveRunError",
    "NotAWorkbenchStoreError",
    "NotFoundError",
    "Run",
    "RunNotActiveError",
    "RunNotFoundError",
    "RunStatus",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StoreVersionError",
    "Workbench",
    "WorkbenchError",
    "__version__",
    "active_run",
    "artifact_path",
    "autolog",
    "close",
    "connect",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "flush",
    "get_experiment",
    "get_metric_history",
    "get_run",
    "get_store",
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
    "resume_run",
    "search_runs",
    "set_store",
    "set_tag",
    "set_tags",
    "sql",
    "start_run",
]
