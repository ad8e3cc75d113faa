"""Where drift and evaluation data come from: the single extension point for inputs.

:func:`resolve_data` turns what a user passes as ``reference`` / ``current`` / ``data`` into a
DataFrame plus a short description of its source:

* a pandas DataFrame;
* a path to a ``.csv``, ``.parquet``/``.pq``, ``.json`` or ``.jsonl`` file;
* a model URI (``churn@champion``, ``churn/3``, ``models:/churn/3``): the model version's
  training dataset, found through the registry's lineage (the training run's ``log_input`` with
  context ``training``) when that dataset was logged from a file that still holds the same
  content, or, for a version a monitor retrained, the rows its retrain run stored
  (``monitor/training.parquet``);
* any object with a ``to_frame()`` method, such as a deployment's request-log window;
* ``"deployment:NAME"``: the request log of a served model, once :mod:`workbench.serving`
  provides ``read_request_log(name)``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import _validation as v
from workbench.exceptions import InvalidParameterError
from workbench.tracking.client import TrackingClient, resolve_client

__all__ = ["TRAINING_ROWS", "resolve_data"]

#: The artifact in which a monitor's retrain run keeps the rows it trained on.
TRAINING_ROWS = "monitor/training.parquet"

_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".json", ".jsonl")
_DEPLOYMENT_PREFIX = "deployment:"
_MODEL_URI_RE = re.compile(
    r"^(models:/)?[A-Za-z0-9][A-Za-z0-9_.\-]*(/(\d+|latest)|@[A-Za-z][A-Za-z0-9_\-]*)?$"
)
_ACCEPTED = (
    "a DataFrame, a .csv/.parquet/.json file, a model URI such as 'churn@champion' (its "
    "training data), an object with to_frame() (a request-log window) or 'deployment:NAME'"
)


def resolve_data(
    obj: Any, *, name: str, caller: str, client: TrackingClient | None = None
) -> tuple[pd.DataFrame, str]:
    """The DataFrame ``obj`` stands for and a description of where it came from (model URIs and
    request logs are read from ``client``'s store; default: the current store)."""
    if isinstance(obj, pd.DataFrame):
        return obj, f"DataFrame ({len(obj):,} rows)"
    if isinstance(obj, (str, os.PathLike)):
        text = os.fspath(obj)
        if text.startswith(_DEPLOYMENT_PREFIX):
            deployment = text[len(_DEPLOYMENT_PREFIX) :]
            return _deployment_log(deployment, name=name, caller=caller, client=client)
        path = Path(text)
        if path.is_file():
            return _read_file(path, name=name, caller=caller), str(path)
        if path.suffix.lower() in _TABLE_SUFFIXES or not _MODEL_URI_RE.match(text):
            raise v.fail(name, caller, "an existing data file", text, "No such file.")
        return _model_training_data(text, name=name, caller=caller, client=client)
    to_frame = getattr(obj, "to_frame", None)
    if callable(to_frame):
        frame = to_frame()
        if isinstance(frame, pd.DataFrame):
            return frame, f"{type(obj).__name__} ({len(frame):,} rows)"
    raise v.fail(name, caller, _ACCEPTED, obj)


def _read_file(path: Path, *, name: str, caller: str) -> pd.DataFrame:
    from workbench.tracking._datasets import read_table

    frame = read_table(path)
    if frame is None:
        raise v.fail(name, caller, "a .csv, .parquet, .pq, .json or .jsonl file", str(path))
    return frame


def _model_training_data(
    uri: str, *, name: str, caller: str, client: TrackingClient | None
) -> tuple[pd.DataFrame, str]:
    from workbench import registry

    version = registry.get_model_version(uri, client=client)
    inputs = [i for i in version.lineage.get("inputs", ()) if i.get("context") == "training"]
    if not inputs:
        raise InvalidParameterError(
            f"Model {version.uri} has no training dataset in its lineage: its training run "
            f"({version.run_id}) logged no input with context 'training'. Pass the reference "
            "data explicitly, or log it with run.log_input(path, context='training')."
        )
    dataset = inputs[0]
    source = dataset.get("source")
    if not source or not Path(source).is_file():
        stored = _stored_training_rows(version, client)
        if stored is not None:
            return stored
        where = "from a DataFrame, whose rows are not stored" if not source else f"from {source}"
        raise InvalidParameterError(
            f"The training dataset of model {version.uri} ({dataset.get('name')!r}, digest "
            f"{str(dataset.get('digest'))[:12]}) was logged {where}. Pass the reference data "
            "explicitly (a DataFrame or a file)."
        )
    from workbench.tracking._datasets import _hash_file

    if _hash_file(Path(source)) != dataset.get("digest"):
        raise InvalidParameterError(
            f"The training data file of model {version.uri} ({source}) has changed since "
            "training (its content digest differs). Pass the reference data explicitly."
        )
    frame = _read_file(Path(source), name=name, caller=caller)
    return frame, f"training data of model {version.uri} ({source})"


def _stored_training_rows(
    version: Any, wb: TrackingClient | None
) -> tuple[pd.DataFrame, str] | None:
    """The rows a monitor's retrain run trained ``version`` on (artifact ``TRAINING_ROWS``):
    the run that registered it, or the retrain run that ran the notebook which did."""
    from workbench.exceptions import WorkbenchError

    client = resolve_client(wb, "resolve_data")
    candidates = [version.run_id]
    try:
        found = client.search_runs(
            filter=(
                "tags.`workbench.kind` = 'retrain' AND "
                f"tags.`workbench.registered_version` = '{version.uri}'"
            ),
            max_results=5,
        )
        candidates += [r for r in found.get("run_id", []) if r != version.run_id]
    except WorkbenchError:
        pass
    for run_id in candidates:
        try:
            paths = {a.path for a in client.get_run(run_id).artifacts}
        except WorkbenchError:
            continue
        if TRAINING_ROWS in paths:
            frame = client.load_artifact(run_id, TRAINING_ROWS)
            where = f"{TRAINING_ROWS} of run {run_id}"
            return frame, f"training data of model {version.uri} ({where})"
    return None


def _deployment_log(
    deployment: str, *, name: str, caller: str, client: TrackingClient | None
) -> tuple[pd.DataFrame, str]:
    """The rows a deployment scored (its ``requests`` view), with the predictions it returned."""
    from workbench.serving import read_request_log

    frame = read_request_log(deployment, client=client)
    if not len(frame):
        raise InvalidParameterError(
            f"The {name!r} parameter of {caller}: the request log of deployment {deployment!r} "
            "is not available yet: the requests view holds no successful request of it with "
            "its payload. List deployments with `workbench deployments list`, or query "
            "workbench.sql('select deployment_id, count(*) from requests group by all')."
        )
    return frame, f"request log of deployment {deployment!r} ({len(frame):,} rows)"
