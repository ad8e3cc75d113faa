"""The data behind the sweep views, checked on hand-made trials (no store, no figure)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from workbench.sweeps import _data

X = FloatDistribution(-10, 10)
LR = FloatDistribution(1e-5, 1e-1, log=True)
KIND = CategoricalDistribution(["a", "b", "c"])
T0 = dt.datetime(2026, 1, 1, 12, 0, 0)


def _trial(
    number: int,
    value: float | list[float] | None,
    state: TrialState = TrialState.COMPLETE,
    **params: object,
) -> FrozenTrial:
    distributions = {"x": X, "lr": LR, "kind": KIND, "n": IntDistribution(1, 10)}
    trial = create_trial(
        state=state,
        value=value if not isinstance(value, list) else None,
        values=value if isinstance(value, list) else None,
        params=params,
        distributions={k: distributions[k] for k in params},
        intermediate_values={0: 5.0 + number, 1: 4.0 + number} if state != TrialState.FAIL else {},
    )
    trial.number = number
    trial.datetime_start = T0 + dt.timedelta(seconds=number)
    trial.datetime_complete = T0 + dt.timedelta(seconds=number + 0.5)
    return trial


@pytest.fixture
def trials() -> list[FrozenTrial]:
    return [
        _trial(0, 5.0, x=1.0, lr=1e-3, kind="a"),
        _trial(1, 3.0, x=2.0, lr=1e-2, kind="b"),
        _trial(2, None, TrialState.FAIL, x=3.0, lr=1e-4, kind="a"),
        _trial(3, 4.0, x=-1.0, lr=1e-5, kind="c"),
        _trial(4, None, TrialState.PRUNED, x=0.0, lr=1e-1, kind="b"),
        _trial(5, 1.0, x=0.5, lr=1e-1, kind="a"),
    ]


def test_optimization_history_keeps_the_best_so_far(trials: list[FrozenTrial]) -> None:
    low = _data.optimization_history(trials, "minimize")
    assert low["number"].tolist() == [0, 1, 3, 5]
    assert low["value"].tolist() == [5.0, 3.0, 4.0, 1.0]
    assert low["best_value"].tolist() == [5.0, 3.0, 3.0, 1.0]
    high = _data.optimization_history(trials, "maximize")
    assert high["best_value"].tolist() == [5.0, 5.0, 5.0, 5.0]
    assert _data.optimization_history([], "minimize").empty


def test_params_frame_and_infos(trials: list[FrozenTrial]) -> None:
    frame = _data.params_frame(trials)
    assert frame.columns.tolist() == ["number", "value", "kind", "lr", "x"]
    assert frame["number"].tolist() == [0, 1, 3, 5]
    infos = _data.param_info(trials)
    assert infos["lr"].log and not infos["x"].log and infos["kind"].categorical
    assert infos["lr"].encode(1e-3) == pytest.approx(-3)
    assert infos["kind"].encode("c") == 2
    with pytest.raises(KeyError, match="nope"):
        _data.param_info(trials, ["nope"])


def test_slice_frame_is_long(trials: list[FrozenTrial]) -> None:
    frame = _data.slice_frame(trials, params=["x", "kind"])
    assert frame["param"].tolist() == ["x"] * 4 + ["kind"] * 4
    assert frame[frame["param"] == "x"]["x"].tolist() == [1.0, 2.0, -1.0, 0.5]


def test_param_importances_find_the_param_that_matters() -> None:
    rng = np.random.default_rng(0)
    trials = []
    for i in range(80):
        x, noise = rng.uniform(-10, 10), rng.uniform(-10, 10)
        trial = create_trial(
            value=x * x,
            params={"x": x, "noise": noise},
            distributions={"x": X, "noise": X},
        )
        trial.number = i
        trials.append(trial)
    scores = _data.param_importances(trials)
    assert scores.index.tolist() == ["x", "noise"]
    assert scores.sum() == pytest.approx(1.0)
    assert scores["x"] > 0.8
    assert _data.param_importances(trials[:1]).empty


def test_contour_interpolates_on_log_and_linear_axes(trials: list[FrozenTrial]) -> None:
    data = _data.contour(trials, "x", "lr", resolution=20)
    assert data.x_grid.shape == (20,) and data.z.shape == (20, 20)
    assert data.y_grid.min() == pytest.approx(-5) and data.y_grid.max() == pytest.approx(-1)
    assert len(data.points) == 4
    assert np.isfinite(data.z).any()
    finite = data.z[np.isfinite(data.z)]
    assert finite.min() >= 1.0 - 1e-9 and finite.max() <= 5.0 + 1e-9  # linear: within the data
    categorical = _data.contour(trials, "kind", "x", resolution=10)
    assert categorical.x_grid.tolist() == [0.0, 1.0, 2.0]


def test_intermediate_values_by_trial_and_step(trials: list[FrozenTrial]) -> None:
    frame = _data.intermediate_values(trials)
    assert frame[frame["number"] == 4][["step", "value", "state"]].values.tolist() == [
        [0, 9.0, "pruned"],
        [1, 8.0, "pruned"],
    ]
    assert 2 not in set(frame["number"])


def test_pareto_front_respects_each_direction() -> None:
    points = [[1.0, 1.0], [2.0, 3.0], [0.5, 0.5], [3.0, 0.1], [0.5, 2.0]]
    trials = []
    for i, values in enumerate(points):
        trial = create_trial(values=values, params={}, distributions={})
        trial.number = i
        trials.append(trial)
    both_min = _data.pareto_front(trials, ["minimize", "minimize"])
    assert both_min[both_min["is_pareto"]]["number"].tolist() == [2, 3]
    min_max = _data.pareto_front(trials, ["minimize", "maximize"])
    assert min_max[min_max["is_pareto"]]["number"].tolist() == [1, 4]  # (0.5, 2) beats (0.5, .5)
    assert _data.pareto_front([], ["minimize", "minimize"]).empty


def test_timeline_uses_now_for_running_trials(trials: list[FrozenTrial]) -> None:
    running = _trial(6, None, TrialState.RUNNING, x=0.0)
    running.datetime_complete = None
    now = T0 + dt.timedelta(seconds=60)
    frame = _data.timeline([*trials, running], now=now)
    assert frame["state"].tolist()[-1] == "running"
    assert frame["end"].iloc[-1] == now
    duration = (frame["end"] - frame["start"]).dt.total_seconds()
    assert duration.iloc[0] == pytest.approx(0.5)
    assert not math.isnan(duration.sum())


@pytest.mark.parametrize("k", [2, 3])
def test_fast_dominance_matches_the_definition(k: int) -> None:
    rng = np.random.default_rng(k)
    for _ in range(200):
        cost = rng.integers(0, 5, size=(int(rng.integers(1, 40)), k)).astype(float)
        le = (cost[None] <= cost[:, None]).all(axis=2)
        lt = (cost[None] < cost[:, None]).any(axis=2)
        assert (_data._dominated(cost) == (le & lt).any(axis=1)).all()


def test_interpolation_matches_scipy_griddata() -> None:
    from scipy.interpolate import griddata

    rng = np.random.default_rng(1)
    xy, values = rng.uniform(size=(200, 2)), rng.normal(size=200)
    gx, gy = np.meshgrid(np.linspace(0, 1, 30), np.linspace(0, 1, 30))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    expected = griddata(xy, values, (gx, gy), method="linear").ravel()
    got = _data._interpolate(xy, values, grid)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.allclose(got[~np.isnan(got)], expected[~np.isnan(expected)])
    on_a_line = np.column_stack([np.arange(5.0), np.arange(5.0)])
    assert np.isfinite(_data._interpolate(on_a_line, np.arange(5.0), grid)).all()
