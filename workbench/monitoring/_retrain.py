"""Retraining for the closed loop: a Python callable, or a notebook executed with papermill.

Either way the result is a registered version of the monitored model, made in a ``retrain`` run
that records the training rows as its ``training`` input (so the version's lineage leads back to
the data of the window that fired).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.exceptions import InvalidParameterError, WorkbenchError
from workbench.registry import ModelVersion, get_model_version, register_model

if TYPE_CHECKING:
    from workbench.tracking.client import TrackingClient
    from workbench.tracking.run import ActiveRun

__all__ = ["produce_version"]


def produce_version(
    retrain: Any,
    run: ActiveRun,
    training: pd.DataFrame,
    name: str,
    features: list[str],
    client: TrackingClient,
) -> ModelVersion:
    """Call ``retrain`` on ``training`` inside ``run`` (the active run) and register its model
    in ``client``'s store."""
    if callable(retrain):
        produced = retrain(training)
    else:
        produced = _notebook_retrain(run, Path(retrain), training, name, client)
    if isinstance(produced, (str, ModelVersion)):
        version = get_model_version(produced, client=client)
        if version.name != name:
            raise InvalidParameterError(
                f"The retrain function returned {version.uri}, a version of another model; the "
                f"monitor promotes versions of {name!r}."
            )
        return version
    if not hasattr(produced, "predict"):
        raise InvalidParameterError(
            "The retrain function must return a fitted model (with predict), a model URI or a "
            f"ModelVersion. Got {type(produced).__name__} instead."
        )
    return register_model(
        name, run=run, model=produced, input_example=training[features], client=client
    )


def _notebook_retrain(
    run: ActiveRun, path: Path, training: pd.DataFrame, name: str, client: TrackingClient
) -> str:
    """Write the training rows to parquet and run the notebook on them."""
    run.set_tag("monitor.notebook", os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="workbench-retrain-") as folder:
        data = Path(folder) / "training.parquet"
        training.to_parquet(data)
        parameters = {"training_data": str(data), "model_name": name}
        return _retrain_with_notebook(path, parameters, client)


def _retrain_with_notebook(
    path: str | os.PathLike[str], parameters: Mapping[str, Any], client: TrackingClient
) -> str:
    """Execute a notebook with papermill; returns the URI of the version it registered.

    The notebook gets ``parameters`` (``training_data``: a parquet file, ``model_name``) in its
    ``parameters``-tagged cell, runs against this process's store, and must call
    ``workbench.register_model(model_name, run=run, model=...)``. With
    :func:`workbench.pipelines.run_notebook` (the execution is a run of experiment
    ``pipelines``, with the executed notebook), the result is the newest version registered by
    a run the notebook started; without it, the newest version registered while it ran.
    """
    try:
        import papermill  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise ImportError(
            "Retraining with a notebook requires papermill. Install it with "
            "`pip install papermill`, or pass a Python function as on_drift=."
        ) from None
    from workbench.registry import list_model_versions

    name = str(parameters["model_name"])
    started = pd.Timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    try:
        from workbench.pipelines import run_notebook
    except ImportError:  # only papermill: run it here
        client.flush()
        target = Path(tempfile.mkdtemp(prefix="workbench-retrain-")) / Path(path).name
        location, secrets = client.store.for_child_process()
        with _environment({**secrets, "WORKBENCH_STORE": location}):
            papermill.execute_notebook(
                os.fspath(path),
                os.fspath(target),
                parameters=dict(parameters),
                progress_bar=False,
                cwd=str(Path(path).resolve().parent),
            )
        runs = None
    else:
        runs = set(run_notebook(path, parameters, client=client).runs)
    try:
        versions = list_model_versions(name, client=client)
    except WorkbenchError:
        versions = pd.DataFrame()
    if len(versions):
        if runs is not None:
            versions = versions[versions["run_id"].isin(runs)]
        else:
            versions = versions[pd.to_datetime(versions["created_at"], utc=True) >= started]
    if not len(versions):
        raise InvalidParameterError(
            f"The notebook {os.fspath(path)!r} ran but registered no version of {name!r}. End it "
            "with workbench.register_model(model_name, run=run, model=model)."
        )
    return f"{name}/{int(versions['version'].max())}"


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by the notebook's kernel) for a block."""
    previous = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
