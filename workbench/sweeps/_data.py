"""The data behind every sweep view, as DataFrames and NamedTuples (no plotting here).

Each function takes Optuna ``FrozenTrial`` s (``sweep.study.get_trials()``) and plain options,
so it can be tested and reused (dashboard, exports) without drawing anything. ``index`` selects
the objective of a multi-objective sweep.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "ContourData",
    "ParamInfo",
    "contour",
    "intermediate_values",
    "optimization_history",
    "param_importances",
    "param_info",
    "params_frame",
    "pareto_front",
    "slice_frame",
    "timeline",
]

STATE_LABELS = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}


class ParamInfo(NamedTuple):
    """How a param is distributed: numeric (maybe log-scaled) or categorical."""

    name: str
    categorical: bool
    log: bool
    choices: tuple[Any, ...] = ()

    def encode(self, value: Any) -> float:
        """A number for plotting and models: log10 for log params, the index for categories."""
        if self.categorical:
            return float(self.choices.index(value)) if value in self.choices else math.nan
        number = float(value)
        return math.log10(number) if self.log and number > 0 else number


def _info(name: str, distribution: BaseDistribution) -> ParamInfo:
    if isinstance(distribution, CategoricalDistribution):
        return ParamInfo(name, True, False, tuple(distribution.choices))
    if isinstance(distribution, (FloatDistribution, IntDistribution)):
        return ParamInfo(name, False, bool(distribution.log))
    return ParamInfo(name, False, False)


def _complete(trials: Sequence[FrozenTrial], index: int = 0) -> list[FrozenTrial]:
    """Complete trials with a finite value for objective ``index``."""
    return [
        t
        for t in trials
        if t.state == TrialState.COMPLETE
        and t.values is not None
        and len(t.values) > index
        and math.isfinite(t.values[index])
    ]


def param_info(
    trials: Sequence[FrozenTrial], params: Sequence[str] | None = None
) -> dict[str, ParamInfo]:
    """The params seen in complete trials (or the ``params`` asked for), sorted by name."""
    seen: dict[str, BaseDistribution] = {}
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            for name, distribution in trial.distributions.items():
                seen.setdefault(name, distribution)
    names = sorted(seen) if params is None else list(params)
    missing = [n for n in names if n not in seen]
    if missing:
        raise KeyError(f"No complete trial has param(s) {missing}; params: {sorted(seen)}.")
    return {n: _info(n, seen[n]) for n in names}


def optimization_history(
    trials: Sequence[FrozenTrial], direction: str, index: int = 0
) -> pd.DataFrame:
    """Complete trials in order: ``number``, ``value``, ``best_value`` (best so far), ``time``."""
    done = sorted(_complete(trials, index), key=lambda t: t.number)
    values = pd.Series([t.values[index] for t in done], dtype=float)
    best = values.cummax() if direction == "maximize" else values.cummin()
    return pd.DataFrame(
        {
            "number": pd.Series([t.number for t in done], dtype=int),
            "value": values,
            "best_value": best,
            "time": pd.Series([t.datetime_complete for t in done], dtype="datetime64[us]"),
        }
    )


def params_frame(
    trials: Sequence[FrozenTrial], index: int = 0, params: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per complete trial: ``number``, ``value`` and each param's raw value."""
    infos = param_info(trials, params)
    done = _complete(trials, index)
    data: dict[str, Any] = {
        "number": [t.number for t in done],
        "value": [t.values[index] for t in done],
    }
    for name in infos:
        data[name] = [t.params.get(name) for t in done]
    return pd.DataFrame(data)


def _encoded(frame: pd.DataFrame, infos: dict[str, ParamInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            n: [math.nan if x is None else info.encode(x) for x in frame[n]]
            for n, info in infos.items()
        }
    )


def param_importances(
    trials: Sequence[FrozenTrial],
    index: int = 0,
    params: Sequence[str] | None = None,
    *,
    seed: int = 0,
) -> pd.Series:
    """How much each param explains the objective: mean decrease in impurity of a random forest.

    The same estimate as Optuna's ``MeanDecreaseImpurityImportanceEvaluator`` (64 trees), on
    the params every complete trial has; sums to 1, largest first. Empty with fewer than two
    trials.
    """
    from sklearn.ensemble import RandomForestRegressor

    frame = params_frame(trials, index, params)
    infos = param_info(trials, params)
    if params is None:  # the params every complete trial has (conditional ones left out)
        infos = {n: i for n, i in infos.items() if frame[n].notna().all()}
    X = _encoded(frame, infos)
    keep = X.notna().all(axis=1).to_numpy()
    if keep.sum() < 2 or not infos:
        return pd.Series(dtype=float, name="importance")
    forest = RandomForestRegressor(n_estimators=64, max_depth=64, random_state=seed)
    forest.fit(X.to_numpy()[keep], frame["value"].to_numpy()[keep])
    scores = forest.feature_importances_
    total = scores.sum()
    normalized = scores / total if total > 0 else np.full(len(scores), 1 / len(scores))
    result = pd.Series(normalized, index=list(infos), name="importance")
    return result.sort_values(ascending=False)


def slice_frame(
    trials: Sequence[FrozenTrial], index: int = 0, params: Sequence[str] | None = None
) -> pd.DataFrame:
    """Long format for slice plots: ``param``, ``x`` (raw value), ``value``, ``number``."""
    frame = params_frame(trials, index, params)
    parts = []
    for name in frame.columns[2:]:
        part = frame[["number", "value", name]].rename(columns={name: "x"})
        part = part[part["x"].notna()]
        part.insert(0, "param", name)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["param", "number", "value", "x"])
    return pd.concat(parts, ignore_index=True)


class ContourData(NamedTuple):
    """Objective interpolated over two params (axes in encoded units: log10 / category index)."""

    x: ParamInfo
    y: ParamInfo
    x_grid: np.ndarray
    y_grid: np.ndarray
    z: np.ndarray  # shape (len(y_grid), len(x_grid)); NaN outside the trials' hull
    points: pd.DataFrame  # number, x, y (encoded), value


def contour(
    trials: Sequence[FrozenTrial],
    x_param: str,
    y_param: str,
    index: int = 0,
    *,
    resolution: int = 100,
) -> ContourData:
    """Linear interpolation of the objective on a ``resolution`` x ``resolution`` grid."""
    infos = param_info(trials, [x_param, y_param])
    frame = params_frame(trials, index, [x_param, y_param])
    encoded = _encoded(frame, infos)
    points = pd.DataFrame(
        {
            "number": frame["number"],
            "x": encoded[x_param],
            "y": encoded[y_param],
            "value": frame["value"],
        }
    ).dropna()
    xi, yi = infos[x_param], infos[y_param]
    x_grid = _axis(points["x"], xi, resolution)
    y_grid = _axis(points["y"], yi, resolution)
    z = np.full((len(y_grid), len(x_grid)), np.nan)
    if len(points) >= 3 and len(x_grid) > 1 and len(y_grid) > 1:
        gx, gy = np.meshgrid(x_grid, y_grid)
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        xy, values = points[["x", "y"]].to_numpy(), points["value"].to_numpy()
        z = _interpolate(xy, values, grid).reshape(gx.shape)
    return ContourData(xi, yi, x_grid, y_grid, z, points)


def _interpolate(xy: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation on the Delaunay triangulation of ``xy`` (NaN outside its hull).

    What ``scipy.interpolate.griddata(method="linear")`` computes, written out with the
    triangulation's barycentric transform: griddata's timing varied 10x here (12-215 ms for
    1,000 points on a 100 x 100 grid), this stays near 10 ms.
    """
    from scipy.interpolate import NearestNDInterpolator
    from scipy.spatial import Delaunay, QhullError

    try:
        triangulation = Delaunay(xy)
    except QhullError:  # all points on a line: nearest neighbour instead
        return np.asarray(NearestNDInterpolator(xy, values)(grid), dtype=float)
    simplex = triangulation.find_simplex(grid)
    transform = triangulation.transform[simplex]
    barycentric = np.einsum("ijk,ik->ij", transform[:, :2, :], grid - transform[:, 2, :])
    weights = np.column_stack([barycentric, 1 - barycentric.sum(axis=1)])
    z = (values[triangulation.simplices[simplex]] * weights).sum(axis=1)
    z[simplex < 0] = np.nan
    return np.asarray(z, dtype=float)


def _axis(values: pd.Series, info: ParamInfo, resolution: int) -> np.ndarray:
    if info.categorical:
        return np.arange(len(info.choices), dtype=float)
    if values.empty:
        return np.array([], dtype=float)
    low, high = float(values.min()), float(values.max())
    if low == high:
        return np.array([low])
    return np.linspace(low, high, resolution)


def intermediate_values(trials: Sequence[FrozenTrial]) -> pd.DataFrame:
    """Every reported value: ``number``, ``state``, ``step``, ``value`` (by trial, then step)."""
    rows = [
        (t.number, STATE_LABELS[t.state], int(step), float(value))
        for t in trials
        for step, value in sorted(t.intermediate_values.items())
    ]
    return pd.DataFrame(rows, columns=["number", "state", "step", "value"]).astype(
        {"number": int, "step": int, "value": float}
    )


def pareto_front(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> pd.DataFrame:
    """Complete trials with their values and ``is_pareto`` (not dominated by another trial)."""
    n = len(directions)
    done = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE
        and t.values is not None
        and len(t.values) == n
        and all(math.isfinite(x) for x in t.values)
    ]
    values = np.array([t.values for t in done], dtype=float).reshape(len(done), n)
    signs = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    cost = values * signs
    dominated = _dominated(cost)
    frame = pd.DataFrame(values, columns=[f"value_{i}" for i in range(n)])
    frame.insert(0, "number", [t.number for t in done])
    frame["is_pareto"] = ~dominated
    return frame


def _dominated(cost: np.ndarray) -> np.ndarray:
    """Which rows another row dominates (<= everywhere, < somewhere; all minimized)."""
    n = len(cost)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if cost.shape[1] == 2:
        # O(n log n): sorted by (first, second), row i is dominated iff an earlier row has a
        # smaller second value, or a row with a smaller first value has a second value <= its.
        order = np.lexsort((cost[:, 1], cost[:, 0]))
        first, second = cost[order, 0], cost[order, 1]
        prefix_min = np.minimum.accumulate(np.concatenate(([np.inf], second)))
        group_start = np.searchsorted(first, first, side="left")
        sorted_dominated = (prefix_min[:n] < second) | (prefix_min[group_start] <= second)
        result = np.empty(n, dtype=bool)
        result[order] = sorted_dominated
        return result
    dominated = np.zeros(n, dtype=bool)
    for start in range(0, n, 256):  # O(n^2 k) in blocks of 256 rows to bound memory
        block = cost[start : start + 256]
        le = np.all(cost[None, :, :] <= block[:, None, :], axis=2)
        lt = np.any(cost[None, :, :] < block[:, None, :], axis=2)
        dominated[start : start + 256] = np.any(le & lt, axis=1)
    return dominated


def timeline(trials: Sequence[FrozenTrial], now: dt.datetime | None = None) -> pd.DataFrame:
    """When each trial ran: ``number``, ``state``, ``start``, ``end`` (running: ``now``)."""
    now = now or dt.datetime.now()
    rows = [
        (t.number, STATE_LABELS[t.state], t.datetime_start, t.datetime_complete or now)
        for t in trials
        if t.datetime_start is not None
    ]
    frame = pd.DataFrame(rows, columns=["number", "state", "start", "end"])
    return frame.astype({"number": int, "start": "datetime64[us]", "end": "datetime64[us]"})
