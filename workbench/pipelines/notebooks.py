"""Run a notebook as a pipeline step: papermill executes it, workbench records the execution.

    result = workbench.run_notebook("notebooks/01_track.ipynb", {"n_estimators": 50})
    result.run_id, result.status, result.output, result.runs, result.metrics

From a terminal or CI (exit code 0: ok, 1: the notebook or a quality gate in it failed)::

    workbench run-notebook notebooks/01_track.ipynb -p n_estimators 50 --output out.ipynb

The execution is one run in experiment ``pipelines`` (tags ``workbench.kind=notebook``,
``notebook.path``): params are the notebook's parameters, the executed notebook is the artifact
``notebook.ipynb``, ``duration_s`` is a metric, and a failure ends the run ``failed`` with the
cell's error. The kernel gets ``WORKBENCH_STORE`` (the same store), ``WORKBENCH_NOTEBOOK`` (so
every run it starts records the notebook in its context) and ``WORKBENCH_PARENT_RUN`` (this
run's id, for notebooks that want to nest their runs under it). Runs the notebook started are
found afterwards (their context names the notebook, and they started during the execution),
listed in tag ``notebook.runs`` and artifact ``notebook_runs.json``, and their latest metrics
are copied onto the execution's run (the newest run wins when two log the same key).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import _validation as v
from workbench.exceptions import NotebookFailedError
from workbench.tracking.client import TrackingClient, resolve_client

__all__ = ["DEFAULT_EXPERIMENT", "NotebookFailedError", "NotebookRun", "run_notebook"]

DEFAULT_EXPERIMENT = "pipelines"
KIND_TAG = "workbench.kind"
ARTIFACT = "notebook.ipynb"
_MAX_TAG = 5000
_env_lock = threading.Lock()  # the kernel inherits os.environ: one execution sets it at a time


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of :func:`run_notebook`.

    Attributes
    ----------
    run_id
        The run recording the execution.
    notebook
        The notebook that was executed.
    output
        The executed notebook (``output=`` if given, else the stored artifact's file).
    status
        ``"finished"`` or ``"failed"``.
    duration_s
        Wall time of the execution.
    parameters
        The parameters injected into the notebook.
    runs
        Ids of the runs the notebook started, oldest first.
    metrics
        Latest metrics of those runs (the newest run wins for a key logged twice).
    error
        What failed: the exception and message of the failing cell (``None`` when it ran).
    gate_failed
        True when the failure is a quality gate (``GateFailedError``) inside the notebook.
    """

    run_id: str
    notebook: Path
    output: Path
    status: str
    duration_s: float
    parameters: Mapping[str, Any] = field(default_factory=dict)
    runs: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    gate_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    @property
    def exit_code(self) -> int:
        """0 when the notebook ran, 1 when it (or a gate in it) failed."""
        return 0 if self.ok else 1

    def __repr__(self) -> str:
        return (
            f"NotebookRun(notebook={self.notebook.name!r}, status={self.status!r}, "
            f"run_id={self.run_id!r}, duration_s={self.duration_s:.1f}, runs={len(self.runs)})"
        )


@contextmanager
def _kernel_environment(variables: Mapping[str, str]) -> Iterator[None]:
    with _env_lock:
        saved = {k: os.environ.get(k) for k in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _param_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, default=str)


def _check_parameters(parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping) or not all(
        isinstance(k, str) and k.isidentifier() for k in parameters
    ):
        raise v.fail(
            "parameters",
            "run_notebook",
            "a mapping of Python identifiers to values",
            parameters,
            "e.g. run_notebook('train.ipynb', {'n_estimators': 100}).",
        )
    return dict(parameters)


def _error_text(exc: BaseException) -> tuple[str, bool]:
    """A one-paragraph explanation of a failed execution, and whether a gate failed."""
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill.PapermillExecutionError: an exception in a cell
        evalue = str(getattr(exc, "evalue", "")).strip()
        cell = getattr(exc, "exec_count", None)
        where = f" at In [{cell}]" if cell is not None else ""
        return f"{ename}{where}: {evalue}", ename == "GateFailedError"
    return f"{type(exc).__name__}: {exc}", False


def _notebook_runs(client: TrackingClient, notebook: Path, since: float, own: str) -> list[str]:
    """Runs started by the notebook's kernel: their context names the notebook, and they
    started during this execution."""
    frame = client.sql(
        "SELECT run_id FROM runs WHERE run_id != $own AND epoch(start_time) >= $since "
        "AND context->>'notebook' = $notebook ORDER BY start_time, run_id",  # both dialects
        own=own,
        since=since - 1.0,
        notebook=str(notebook),
    )
    return [str(r) for r in frame["run_id"]]


def _latest_metrics(client: TrackingClient, run_ids: list[str]) -> dict[str, float]:
    if not run_ids:
        return {}
    frame = client.sql(
        "SELECT m.key, m.value FROM metrics m JOIN runs r USING (run_id) "
        "WHERE m.run_id IN (SELECT unnest($ids::VARCHAR[])) AND m.value IS NOT NULL "
        "ORDER BY r.start_time, r.run_id",
        ids=run_ids,
    )
    return {str(k): float(x) for k, x in frame.itertuples(index=False)}


def run_notebook(
    path: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    output: str | os.PathLike[str] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    kernel_name: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    client: TrackingClient | None = None,
) -> NotebookRun:
    """Execute a notebook with papermill and record the execution as a run.

    Parameters
    ----------
    path
        The ``.ipynb`` file. Its cell tagged ``parameters`` holds the defaults.
    parameters
        Values injected after the ``parameters`` cell (papermill's rules).
    output
        Where to write the executed notebook (default: only into the store, as the run's
        artifact ``notebook.ipynb``).
    experiment
        Experiment of the execution's run (default ``pipelines``).
    kernel_name
        Kernel to use (default: the notebook's).
    cwd
        Working directory of the kernel (default: the notebook's folder, as in JupyterLab).
    timeout
        Seconds one cell may run (default: no limit).
    client
        The workbench client whose store records the execution (default: the configured
        store's, :func:`workbench.connect`). The kernel logs to the same store.

    Returns
    -------
    NotebookRun
        On success. On failure :class:`NotebookFailedError` is raised; its ``result`` is the
        same record (``gate_failed`` when a ``GateFailedError`` stopped the notebook).
    """
    caller = "run_notebook"
    notebook = Path(path).expanduser().resolve() if isinstance(path, (str, os.PathLike)) else None
    if notebook is None or notebook.suffix != ".ipynb" or not notebook.is_file():
        raise v.fail("path", caller, "an existing .ipynb file", str(path))
    params = _check_parameters(parameters)
    v.check_name(experiment, caller, name="experiment")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise v.fail("timeout", caller, "a positive number of seconds or None", timeout)
    import papermill  # type: ignore[import-untyped]  # no stubs; see pyproject mypy overrides

    client = resolve_client(client, caller)
    workdir = Path(cwd) if cwd is not None else notebook.parent
    with tempfile.TemporaryDirectory(prefix="workbench-notebook-") as scratch:
        target = Path(output).expanduser().resolve() if output else Path(scratch) / notebook.name
        target.parent.mkdir(parents=True, exist_ok=True)
        run = client.start_run(
            experiment,
            notebook.stem,
            tags={KIND_TAG: "notebook", "notebook.path": str(notebook)},
        )
        with run:
            run.log_params({k: _param_value(x) for k, x in params.items()})
            started = time.time()
            error: str | None = None
            gate_failed = False
            location, secrets = client.store.for_child_process()
            variables = {
                **secrets,
                "WORKBENCH_STORE": location,
                "WORKBENCH_NOTEBOOK": str(notebook),
                "WORKBENCH_PARENT_RUN": run.run_id,
            }
            client.flush()  # the kernel reads what this process wrote
            try:
                with _kernel_environment(variables):
                    papermill.execute_notebook(
                        str(notebook),
                        str(target),
                        parameters=params,
                        kernel_name=kernel_name,
                        cwd=str(workdir),
                        progress_bar=False,
                        log_output=False,
                        execution_timeout=timeout,
                    )
            except Exception as exc:  # a failing cell, a dead kernel, a missing kernel, ...
                error, gate_failed = _error_text(exc)
            duration = time.time() - started
            found = _notebook_runs(client, notebook, started, run.run_id)
            metrics = _latest_metrics(client, found)
            run.log_metrics({**metrics, "duration_s": duration})
            tags = {"notebook.runs": ",".join(found)[:_MAX_TAG], "notebook.n_runs": len(found)}
            if output:
                tags["notebook.output"] = str(target)
            if gate_failed:
                tags["notebook.gate_failed"] = "true"
            run.set_tags(tags)
            run.log_dict({"runs": found}, "notebook_runs.json")
            logged = target.is_file()
            if logged:
                run.log_artifact(target, ARTIFACT)
            status = "failed" if error else "finished"
            run.end(status, error)
        client.flush()
    stored = client.artifact_path(run.run_id, ARTIFACT) if logged and not output else target
    result = NotebookRun(
        run_id=run.run_id,
        notebook=notebook,
        output=stored,
        status=status,
        duration_s=duration,
        parameters=params,
        runs=tuple(found),
        metrics=metrics,
        error=error,
        gate_failed=gate_failed,
    )
    if error:
        kind = "A quality gate failed in" if gate_failed else "Failed to execute"
        raise NotebookFailedError(
            f"{kind} notebook {notebook.name} (run {run.run_id}; executed notebook: "
            f"{stored}):\n{error}",
            result=result,
        )
    return result
