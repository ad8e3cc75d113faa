"""Batch scoring: a model over a DataFrame or a file, with the lineage of every prediction.

``batch_predict("churn@champion", "customers.parquet", output="scores.parquet")`` resolves the
alias once (so every row is scored by the same version), checks the data against the model's
signature, predicts in chunks, and records the job as a run in the ``batch-predictions``
experiment: the input dataset (``log_input(..., context="inference")``), the model version as
params, row counts and duration as metrics, and the predictions as an artifact. Each output row
carries its lineage: the model version and the run that scored it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import _validation as v
from workbench.tracking.client import TrackingClient, resolve_client

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BATCH_EXPERIMENT", "batch_predict"]

BATCH_EXPERIMENT = "batch-predictions"
LINEAGE_COLUMNS = ("model_name", "model_version", "prediction_run_id")
_CHUNK_ROWS = 100_000


def batch_predict(
    model: str,
    data: Any,
    *,
    output: str | os.PathLike[str] | None = None,
    trusted: Any = False,
    method: str | None = None,
    experiment: str = BATCH_EXPERIMENT,
    chunk_rows: int = _CHUNK_ROWS,
    client: TrackingClient | None = None,
) -> pd.DataFrame:
    """Score every row of ``data`` with a registered model; the result keeps its lineage.

    Parameters
    ----------
    model
        ``"churn@champion"``, ``"churn/3"``, ``"churn"`` (resolved once, at the start).
    data
        A DataFrame, or a ``.parquet``/``.csv`` file.
    output
        Also write the result here (``.parquet`` or ``.csv``).
    trusted, method
        As for :func:`workbench.deploy`.
    experiment
        The experiment of the run recording the job.
    chunk_rows
        Rows per ``predict`` call (bounds memory for wide outputs).
    client
        The client whose store holds the model and records the job (default: the current
        store).

    Returns
    -------
    DataFrame
        ``data``'s columns, then the prediction column(s) (``prediction``, ``prediction_0``...,
        or the model's output columns), then ``model_name``, ``model_version`` and
        ``prediction_run_id`` (the run holding the input fingerprint and the output artifact).

    Raises
    ------
    SignatureMismatchError
        ``data`` does not fit the model's signature; every problem is listed.
    """
    import pandas as pd

    from workbench.registry import ModelRegistry

    caller = "batch_predict"
    frame, source = _read(data, caller)
    out_path = _output_path(output, caller)
    v.check_positive_int(chunk_rows, caller, name="chunk_rows")
    v.check_name(experiment, caller, name="experiment")
    wb = resolve_client(client, caller)
    registry = ModelRegistry(wb)
    version = registry.get_model_version(model)
    loaded = registry.load_model(version, trusted=trusted)
    name = method or (
        version.signature.method if version.signature and version.signature.method else "predict"
    )
    predict = getattr(loaded, name, None)
    if not callable(predict):
        raise v.fail("method", caller, f"a method of {type(loaded).__name__}", name)
    inputs = version.signature.conform(frame) if version.signature is not None else frame
    started = time.perf_counter()
    with wb.start_run(experiment, name=f"{version.name}-v{version.version}", parent=None) as run:
        run.log_params(
            {
                "model_uri": model,
                "model_name": version.name,
                "model_version": version.version,
                "model_run_id": version.run_id,
                "method": name,
            }
        )
        run.set_tag("kind", "batch_predict")
        run.log_input(source if source is not None else frame, name="input", context="inference")
        pieces = [
            _as_frame(predict(_rows(inputs, start, chunk_rows)), start)
            for start in range(0, len(frame), chunk_rows)
        ]
        predictions = pd.concat(pieces) if pieces else pd.DataFrame({"prediction": []})
        predictions.index = frame.index
        result = frame.copy()
        for column in predictions.columns:
            result[column if column not in frame.columns else f"{column}_predicted"] = predictions[
                column
            ]
        result["model_name"] = version.name
        result["model_version"] = version.version
        result["prediction_run_id"] = run.run_id
        elapsed = time.perf_counter() - started
        run.log_metrics(
            {
                "rows": float(len(frame)),
                "seconds": elapsed,
                "rows_per_second": len(frame) / elapsed if elapsed > 0 else 0.0,
            }
        )
        run.log_table(result, "predictions.parquet")
        if out_path is not None:
            _write(result, out_path)
            run.set_tag("output", str(out_path))
    return result


def _read(data: Any, caller: str) -> tuple[pd.DataFrame, str | None]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        suffix = path.suffix.lower()
        if not path.is_file():
            raise v.fail("data", caller, "a DataFrame or an existing .parquet/.csv file", str(data))
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path), str(path.resolve())
        if suffix == ".csv":
            return pd.read_csv(path), str(path.resolve())
        raise v.fail("data", caller, "a .parquet or .csv file", str(data))
    raise v.fail("data", caller, "a DataFrame or a .parquet/.csv file path", data)


def _output_path(output: Any, caller: str) -> Path | None:
    if output is None:
        return None
    if not isinstance(output, (str, os.PathLike)):
        raise v.fail("output", caller, "a .parquet or .csv path", output)
    path = Path(output)
    if path.suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise v.fail("output", caller, "a path ending in .parquet or .csv", str(output))
    return path


def _rows(inputs: Any, start: int, count: int) -> Any:
    if hasattr(inputs, "iloc"):
        return inputs.iloc[start : start + count]
    return inputs[start : start + count]


def _as_frame(output: Any, start: int) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(output, pd.DataFrame):
        frame = output.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        return frame
    if isinstance(output, pd.Series):
        return pd.DataFrame({"prediction": output.to_numpy()})
    if hasattr(output, "toarray"):
        output = output.toarray()
    array = np.asarray(output)
    if array.ndim <= 1:
        return pd.DataFrame({"prediction": array.reshape(-1)})
    if array.ndim == 2:
        return pd.DataFrame(array, columns=[f"prediction_{i}" for i in range(array.shape[1])])
    return pd.DataFrame({"prediction": list(array)})


def _write(result: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        result.to_csv(path, index=False)
    else:
        result.to_parquet(path, index=False)
