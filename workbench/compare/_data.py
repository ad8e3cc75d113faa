"""Pure data preparation behind every comparison view: DataFrames in, DataFrames out.

Nothing here reads the store or draws: the inputs are a runs table (the DataFrame of
``search_runs``: ``run_id``, ``name``, ``params.*``, ``metrics.*``, ``tags.*`` columns) and, for
curves, a metric history (the DataFrame of ``get_metric_history``: ``run_id``, ``key``, ``step``,
``value``, ``timestamp``). :mod:`workbench.compare.plots` draws what these return, and tests check
these functions, not pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench._columns import column_kind

__all__ = [
    "X_AXES",
    "curve_keys",
    "ema_smooth",
    "final_metrics_long",
    "format_value",
    "metric_curves",
    "metric_keys",
    "metric_table",
    "parallel_coordinates_table",
    "param_keys",
    "param_table",
    "param_vs_metric",
    "run_labels",
]

X_AXES = ("step", "time", "relative")
PARAM_PREFIX = "params."
METRIC_PREFIX = "metrics."
_MISSING = "\x00missing"


def run_labels(runs: pd.DataFrame) -> list[str]:
    """One readable, unique label per run: its name, with an id prefix where names repeat."""
    if runs.empty:
        return []
    names = (
        runs["name"].astype(str).tolist() if "name" in runs else runs["run_id"].astype(str).tolist()
    )
    ids = runs["run_id"].astype(str).tolist()
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    labels = [f"{n} ({i[:8]})" if seen[n] > 1 else n for n, i in zip(names, ids, strict=True)]
    if len(set(labels)) < len(labels):  # same name and same id prefix: fall back to full ids
        labels = [f"{n} ({i})" for n, i in zip(names, ids, strict=True)]
    return labels


def format_value(value: Any) -> str:
    """A param or metric value as short text: floats with 6 significant digits, '-' if missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return f"{float(value):.6g}"
    return str(value)


def param_keys(runs: pd.DataFrame) -> list[str]:
    """The param names present in a runs table, sorted."""
    return sorted(c[len(PARAM_PREFIX) :] for c in runs.columns if c.startswith(PARAM_PREFIX))


def metric_keys(runs: pd.DataFrame) -> list[str]:
    """The metric names (latest values) present in a runs table, sorted."""
    return sorted(c[len(METRIC_PREFIX) :] for c in runs.columns if c.startswith(METRIC_PREFIX))


def _normalized(value: Any) -> Any:
    """A hashable form in which 1 == 1.0 and every kind of missing value is one value."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (list, dict)):
        return repr(value)
    return value


def _kv_table(runs: pd.DataFrame, prefix: str, keys: list[str]) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            label: [runs[prefix + k].iloc[i] for k in keys]
            for i, label in enumerate(run_labels(runs))
        },
        index=pd.Index(keys, name=prefix.rstrip(".")),
        dtype=object,
    )
    return table


def param_table(runs: pd.DataFrame, *, differing_only: bool = True) -> pd.DataFrame:
    """Params side by side: one row per param, one column per run (labelled by run name).

    With ``differing_only`` (the default) only params whose values differ between the runs are
    kept; a run that did not log a param counts as a different value. With a single run every
    param is shown.
    """
    keys = param_keys(runs)
    table = _kv_table(runs, PARAM_PREFIX, keys)
    if differing_only and len(runs) > 1 and keys:
        differs = [len({_normalized(x) for x in table.loc[k]}) > 1 for k in keys]
        table = table.loc[[k for k, d in zip(keys, differs, strict=True) if d]]
    return table


def metric_table(runs: pd.DataFrame, *, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Final (latest) metric values: one row per metric, one column per run."""
    present = metric_keys(runs)
    chosen = present if keys is None else _check_keys(keys, present, "metric", "metric_table")
    table = _kv_table(runs, METRIC_PREFIX, chosen)
    return table.astype(float) if len(table.columns) else table


def final_metrics_long(runs: pd.DataFrame, *, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Final metric values in long form: ``run_id``, ``run``, ``metric``, ``value`` (no NaN)."""
    present = metric_keys(runs)
    chosen = present if keys is None else _check_keys(keys, present, "metric", "final_metrics")
    labels = run_labels(runs)
    rows = [
        {"run_id": run_id, "run": label, "metric": key, "value": float(value)}
        for key in chosen
        for run_id, label, value in zip(
            runs["run_id"], labels, runs[METRIC_PREFIX + key], strict=True
        )
        if pd.notna(value)
    ]
    return pd.DataFrame(rows, columns=["run_id", "run", "metric", "value"])


def _check_keys(keys: Sequence[str], present: list[str], kind: str, caller: str) -> list[str]:
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise v.fail(f"{kind}s", caller, f"a list of {kind} names", keys)
    missing = [k for k in keys if k not in present]
    if missing:
        raise v.fail(
            f"{kind}s", caller, f"names of {kind}s the runs logged", missing, f"Known: {present}."
        )
    return list(keys)


def ema_smooth(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average of a series.

    ``smoothed[t] = sum(weight**i * values[t - i]) / sum(weight**i)`` for ``i`` in ``0..t``:
    the first point is not pulled towards zero, unlike a plain EMA started at 0. ``weight`` 0
    returns the values unchanged; it must be below 1.
    """
    if not (isinstance(weight, (int, float)) and 0 <= weight < 1):
        raise v.fail("weight", "ema_smooth", "a number in [0, 1)", weight)
    array = np.asarray(values, dtype=float)
    if weight == 0 or array.size == 0:
        return array.copy()
    smoothed: np.ndarray = pd.Series(array).ewm(alpha=1 - weight, adjust=True).mean().to_numpy()
    return smoothed


def metric_curves(
    history: pd.DataFrame,
    runs: pd.DataFrame,
    *,
    keys: Sequence[str] | None = None,
    x: str = "step",
    smoothing: float = 0.0,
) -> pd.DataFrame:
    """Metric series of several runs aligned on one x axis, with an EMA-smoothed copy.

    Parameters
    ----------
    history
        ``get_metric_history`` output for the runs.
    runs
        The runs table (for labels and start times); runs missing from it are dropped.
    keys
        Metrics to keep (default: all in ``history``).
    x
        ``"step"``, ``"time"`` (UTC timestamp) or ``"relative"`` (seconds since the run
        started).
    smoothing
        TensorBoard-style EMA weight in ``[0, 1)``; 0 leaves ``smoothed`` equal to ``value``.

    Returns
    -------
    DataFrame with ``run_id``, ``run``, ``key``, ``step``, ``x``, ``value``, ``smoothed``, ordered
    by run (in the order of ``runs``), key and x.
    """
    caller = "metric_curves"
    if x not in X_AXES:
        raise v.fail("x", caller, f"one of {X_AXES}", x)
    if not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise v.fail("smoothing", caller, "a number in [0, 1)", smoothing)
    columns = ["run_id", "run", "key", "step", "x", "value", "smoothed"]
    order = {run_id: i for i, run_id in enumerate(runs["run_id"])}
    labels = dict(zip(runs["run_id"], run_labels(runs), strict=True))
    frame = history[history["run_id"].isin(order)]
    if keys is not None:
        present = sorted(history["key"].unique())
        frame = frame[frame["key"].isin(_check_keys(keys, present, "metric", caller))]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.assign(run=frame["run_id"].map(labels), _order=frame["run_id"].map(order))
    if x == "step":
        frame["x"] = frame["step"]
    elif x == "time":
        frame["x"] = frame["timestamp"]
    else:
        starts = frame.groupby("run_id")["timestamp"].transform("min")
        if "start_time" in runs:
            known = frame["run_id"].map(dict(zip(runs["run_id"], runs["start_time"], strict=True)))
            starts = known.where(known.notna(), starts)
        frame["x"] = (frame["timestamp"] - starts).dt.total_seconds()
    frame = frame.sort_values(["_order", "key", "x", "step"], kind="stable")
    frame["smoothed"] = frame["value"].astype(float)
    if smoothing:
        frame["smoothed"] = frame.groupby(["run_id", "key"], sort=False)["value"].transform(
            lambda s: pd.Series(ema_smooth(s.to_numpy(), smoothing), index=s.index)
        )
    return frame[columns].reset_index(drop=True)


def curve_keys(history: pd.DataFrame) -> list[str]:
    """The metrics worth drawing as curves: those with more than one point in some run,
    sorted. Empty when every metric has one value per run: those are compared as bars
    (:func:`workbench.compare.plot_final_metrics`), not as dots on a made-up step axis."""
    if history.empty:
        return []
    counts = history.groupby(["key", "run_id"]).size().groupby(level="key").max()
    return sorted(str(k) for k in counts[counts > 1].index)


def _is_numeric(series: pd.Series) -> bool:
    """Numbers, or text that reads as numbers (params are stored as text); booleans are not."""
    kind = column_kind(series)
    if kind in ("integer", "float") or pd.api.types.is_complex_dtype(series.dtype):
        return True
    if kind == "boolean":
        return False
    converted = pd.to_numeric(series.dropna(), errors="coerce")
    return bool(converted.notna().all()) and not any(isinstance(x, bool) for x in series.dropna())


def parallel_coordinates_table(
    runs: pd.DataFrame,
    *,
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per run and one column per param and metric, ready for parallel coordinates.

    By default the params that differ between the runs and every metric. Numeric columns are
    floats; other params are strings (missing values become ``"(none)"``). The ``run_id`` and
    ``run`` columns come first; ``attrs["params"]`` and ``attrs["metrics"]`` name the axes.
    """
    caller = "parallel_coordinates_table"
    if params is None:
        params = list(param_table(runs).index)
    else:
        params = _check_keys(params, param_keys(runs), "param", caller)
    metrics = (
        metric_keys(runs)
        if metrics is None
        else _check_keys(metrics, metric_keys(runs), "metric", caller)
    )
    table = pd.DataFrame({"run_id": runs["run_id"].to_numpy(), "run": run_labels(runs)})
    for key in params:
        column = runs[PARAM_PREFIX + key].reset_index(drop=True)
        if _is_numeric(column):
            table[f"params.{key}"] = pd.to_numeric(column, errors="coerce").astype(float)
        else:
            table[f"params.{key}"] = column.map(lambda x: "(none)" if pd.isna(x) else str(x))
    for key in metrics:
        table[f"metrics.{key}"] = pd.to_numeric(
            runs[METRIC_PREFIX + key].reset_index(drop=True), errors="coerce"
        ).astype(float)
    table.attrs["params"] = list(params)
    table.attrs["metrics"] = list(metrics)
    return table


def param_vs_metric(
    runs: pd.DataFrame, param: str, metric: str, *, param2: str | None = None
) -> pd.DataFrame:
    """A param (or two) against a metric: ``run_id``, ``run``, ``x``, [``y``,] ``metric``.

    Runs missing the param(s) or the metric are dropped. Numeric params stay numeric;
    others are strings (the plot then uses a categorical axis).
    """
    caller = "param_vs_metric"
    known_params = param_keys(runs)
    _check_keys([param] if param2 is None else [param, param2], known_params, "param", caller)
    _check_keys([metric], metric_keys(runs), "metric", caller)
    table = pd.DataFrame({"run_id": runs["run_id"].to_numpy(), "run": run_labels(runs)})
    axes = [("x", param)] + ([("y", param2)] if param2 is not None else [])
    for axis, key in axes:
        column = runs[PARAM_PREFIX + key].reset_index(drop=True)
        table[axis] = (
            pd.to_numeric(column, errors="coerce").astype(float)
            if _is_numeric(column)
            else column.map(lambda x: None if pd.isna(x) else str(x))
        )
    table["metric"] = pd.to_numeric(
        runs[METRIC_PREFIX + metric].reset_index(drop=True), errors="coerce"
    ).astype(float)
    table = table.dropna(subset=[a for a, _ in axes] + ["metric"]).reset_index(drop=True)
    table.attrs.update({"param": param, "param2": param2, "metric": metric})
    return table
