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

from typing import Any

from workbench._version import __version__
from workbench.client import Workbench, connect
from workbench.compare import (
    RunComparison,
    compare,
    plot_final_metrics,
    plot_metric_history,
    plot_parallel_coordinates,
    plot_param_vs_metric,
)
from workbench.config import set_store
from workbench.entities import ArtifactRef, Dataset, DatasetInput, Experiment, Run, RunStatus
from workbench.exceptions import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    ConflictError,
    ExperimentNotFoundError,
    FilterSyntaxError,
    InvalidParameterError,
    ModelNotFoundError,
    NoActiveRunError,
    NotAWorkbenchStoreError,
    NotFoundError,
    RunNotActiveError,
    RunNotFoundError,
    SignatureMismatchError,
    StoreBusyError,
    StoreError,
    StoreVersionError,
    UnsafeLoadWarning,
    UnsafeModelError,
    WorkbenchError,
)
from workbench.monitoring import (
    DriftReport,
    DriftTimeline,
    EvaluationResult,
    GateFailedError,
    GateResult,
    LoopStep,
    MetricThreshold,
    Monitor,
    MonitorPolicy,
    check_gate,
    drift_over_time,
    drift_report,
    estimate_performance,
    evaluate,
    load_drift_report,
    monitor,
    plot_drift_over_time,
)
from workbench.pipelines import NotebookFailedError, NotebookRun, run_notebook
from workbench.registry import (
    ModelCard,
    ModelSignature,
    ModelVersion,
    alias_history,
    delete_alias,
    delete_model_version,
    get_model_version,
    list_model_versions,
    list_models,
    load_model,
    model_card,
    register_model,
    rollback,
    set_alias,
    update_model,
)
from workbench.store import DuckDBStore, Store, get_store
from workbench.sweeps import Sweep, SweepWorkerError, list_sweeps, load_sweep, sweep, trial_run
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
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ConflictError",
    "Dataset",
    "DatasetInput",
    "DriftReport",
    "DriftTimeline",
    "DuckDBStore",
    "EvaluationResult",
    "Experiment",
    "ExperimentNotFoundError",
    "FilterSyntaxError",
    "GateFailedError",
    "GateResult",
    "InvalidParameterError",
    "LoopStep",
    "MetricThreshold",
    "ModelCard",
    "ModelNotFoundError",
    "ModelSignature",
    "ModelVersion",
    "Monitor",
    "MonitorPolicy",
    "NoActiveRunError",
    "NotAWorkbenchStoreError",
    "NotFoundError",
    "NotebookFailedError",
    "NotebookRun",
    "Run",
    "RunComparison",
    "RunNotActiveError",
    "RunNotFoundError",
    "RunStatus",
    "SignatureMismatchError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StoreVersionError",
    "Sweep",
    "SweepWorkerError",
    "UnsafeLoadWarning",
    "UnsafeModelError",
    "Workbench",
    "WorkbenchError",
    "__version__",
    "active_run",
    "alias_history",
    "artifact_path",
    "autolog",
    "check_gate",
    "close",
    "compare",
    "connect",
    "create_experiment",
    "delete_alias",
    "delete_experiment",
    "delete_model_version",
    "delete_run",
    "drift_over_time",
    "drift_report",
    "estimate_performance",
    "evaluate",
    "flush",
    "get_experiment",
    "get_metric_history",
    "get_model_version",
    "get_run",
    "get_store",
    "list_experiments",
    "list_model_versions",
    "list_models",
    "list_sweeps",
    "load_artifact",
    "load_drift_report",
    "load_model",
    "load_sweep",
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
    "model_card",
    "monitor",
    "plot_drift_over_time",
    "plot_final_metrics",
    "plot_metric_history",
    "plot_parallel_coordinates",
    "plot_param_vs_metric",
    "register_model",
    "rename_experiment",
    "restore_experiment",
    "restore_run",
    "resume_run",
    "rollback",
    "run_notebook",
    "search_runs",
    "set_alias",
    "set_store",
    "set_tag",
    "set_tags",
    "sql",
    "start_run",
    "sweep",
    "trial_run",
    "update_model",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext workbench``: the ``%wb`` magics (IPython is imported only here)."""
    from workbench.jupyter.magics import load_ipython_extension as load

    load(ipython)
