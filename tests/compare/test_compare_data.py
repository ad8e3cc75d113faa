"""The pure data functions behind every comparison figure."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench.compare import _data
from workbench.exceptions import InvalidParameterError

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["a1", "b2", "c3"],
            "name": ["base", "wide", "base"],
            "experiment": ["e", "e", "e"],
            "start_time": [T0, T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=20)],
            "params.lr": [0.1, 0.01, 0.1],
            "params.layers": [2, 4, 2],
            "params.opt": ["adam", "adam", "adam"],
            "params.note": [None, "x", None],
            "metrics.acc": [0.8, 0.9, np.nan],
            "metrics.loss": [0.5, 0.3, 0.4],
            "tags.team": ["a", "a", "b"],
        }
    )


def history_frame() -> pd.DataFrame:
    rows = []
    for run, offset in (("a1", 0), ("b2", 10)):
        for step in range(4):
            rows.append(
                {
                    "run_id": run,
                    "key": "loss",
                    "step": step,
                    "value": float(10 - step),
                    "timestamp": T0 + dt.timedelta(seconds=offset + 2 * step + 1),
                }
            )
    rows.append({"run_id": "a1", "key": "acc", "step": 0, "value": 0.8, "timestamp": T0})
    rows.append({"run_id": "zz", "key": "loss", "step": 0, "value": 1.0, "timestamp": T0})
    return pd.DataFrame(rows)


def test_run_labels_disambiguate_repeated_names() -> None:
    assert _data.run_labels(runs_frame()) == ["base (a1)", "wide", "base (c3)"]
    assert _data.run_labels(runs_frame().iloc[:0]) == []


def test_param_table_keeps_only_differing_params_unless_asked() -> None:
    table = _data.param_table(runs_frame())
    assert list(table.index) == ["layers", "lr", "note"]  # opt is equal everywhere
    assert list(table.columns) == ["base (a1)", "wide", "base (c3)"]
    assert table.loc["lr", "wide"] == 0.01
    everything = _data.param_table(runs_frame(), differing_only=False)
    assert list(everything.index) == ["layers", "lr", "note", "opt"]


def test_param_table_treats_one_and_one_point_zero_as_equal_and_missing_as_different() -> None:
    runs = pd.DataFrame(
        {"run_id": ["a", "b"], "name": ["a", "b"], "params.n": [1, 1.0], "params.m": [None, 3]}
    )
    assert list(_data.param_table(runs).index) == ["m"]


def test_single_run_shows_every_param() -> None:
    assert len(_data.param_table(runs_frame().iloc[:1])) == 4


def test_metric_table_and_final_metrics_long() -> None:
    table = _data.metric_table(runs_frame())
    assert list(table.index) == ["acc", "loss"]
    assert table.loc["loss", "wide"] == pytest.approx(0.3)
    assert np.isnan(table.loc["acc", "base (c3)"])
    long = _data.final_metrics_long(runs_frame(), keys=["acc"])
    assert list(long.columns) == ["run_id", "run", "metric", "value"]
    assert long["run_id"].tolist() == ["a1", "b2"]  # the NaN is dropped
    with pytest.raises(InvalidParameterError, match="auc"):
        _data.final_metrics_long(runs_frame(), keys=["auc"])


def reference_ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing loop (tensorboard/plugins/scalar vz_line_chart)."""
    last, out = 0.0, []
    for count, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**count))
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.95])
def test_ema_smooth_matches_tensorboard(weight: float) -> None:
    rng = np.random.default_rng(0)
    values = list(rng.normal(size=50).cumsum())
    smoothed = _data.ema_smooth(values, weight)
    expected = values if weight == 0 else reference_ema(values, weight)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-10)


def test_ema_smooth_keeps_constant_series_constant_and_rejects_bad_weights() -> None:
    np.testing.assert_allclose(_data.ema_smooth([2.0] * 5, 0.9), [2.0] * 5)
    assert _data.ema_smooth([], 0.5).size == 0
    for bad in (1.0, -0.1, "0.5"):
        with pytest.raises(InvalidParameterError, match="weight"):
            _data.ema_smooth([1.0], bad)  # type: ignore[arg-type]


def test_metric_curves_on_steps_with_smoothing() -> None:
    curves = _data.metric_curves(history_frame(), runs_frame(), keys=["loss"], smoothing=0.5)
    assert list(curves.columns) == ["run_id", "run", "key", "step", "x", "value", "smoothed"]
    assert set(curves["run_id"]) == {"a1", "b2"}  # zz is not among the runs
    a1 = curves[curves["run_id"] == "a1"]
    assert a1["x"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(a1["smoothed"], reference_ema([10, 9, 8, 7], 0.5))
    assert curves["run"].iloc[0] == "base (a1)"


def test_metric_curves_on_time_and_relative_time() -> None:
    by_time = _data.metric_curves(history_frame(), runs_frame(), keys=["loss"], x="time")
    assert by_time["x"].iloc[0] == T0 + dt.timedelta(seconds=1)
    relative = _data.metric_curves(history_frame(), runs_frame(), keys=["loss"], x="relative")
    # seconds since each run's start_time (b2 started 10 s after a1, and logged 10 s later)
    assert relative.loc[relative["run_id"] == "a1", "x"].tolist() == [1.0, 3.0, 5.0, 7.0]
    assert relative.loc[relative["run_id"] == "b2", "x"].tolist() == [1.0, 3.0, 5.0, 7.0]


def test_metric_curves_validates_arguments_and_handles_no_history() -> None:
    with pytest.raises(InvalidParameterError, match="'x'"):
        _data.metric_curves(history_frame(), runs_frame(), x="epoch")
    with pytest.raises(InvalidParameterError, match="smoothing"):
        _data.metric_curves(history_frame(), runs_frame(), smoothing=1.5)
    with pytest.raises(InvalidParameterError, match="nope"):
        _data.metric_curves(history_frame(), runs_frame(), keys=["nope"])
    empty = _data.metric_curves(history_frame().iloc[:0], runs_frame())
    assert empty.empty and "smoothed" in empty.columns


def test_curve_keys_prefers_series_over_single_values() -> None:
    assert _data.curve_keys(history_frame()) == ["loss"]
    assert _data.curve_keys(history_frame()[history_frame()["key"] == "acc"]) == []  # bars
    assert _data.curve_keys(history_frame().iloc[:0]) == []


def test_parallel_coordinates_table_types_and_defaults() -> None:
    table = _data.parallel_coordinates_table(runs_frame())
    assert table.attrs["params"] == ["layers", "lr", "note"]
    assert table.attrs["metrics"] == ["acc", "loss"]
    assert table["params.lr"].dtype == float
    assert table["params.note"].tolist() == ["(none)", "x", "(none)"]
    chosen = _data.parallel_coordinates_table(runs_frame(), params=["opt"], metrics=["loss"])
    assert list(chosen.columns) == ["run_id", "run", "params.opt", "metrics.loss"]
    with pytest.raises(InvalidParameterError, match="params"):
        _data.parallel_coordinates_table(runs_frame(), params="lr")  # type: ignore[arg-type]


def test_param_vs_metric_scatter_and_two_params() -> None:
    table = _data.param_vs_metric(runs_frame(), "lr", "acc")
    assert table["run_id"].tolist() == ["a1", "b2"]  # c3 has no acc
    assert table["x"].tolist() == [0.1, 0.01]
    assert table.attrs == {"param": "lr", "param2": None, "metric": "acc"}
    two = _data.param_vs_metric(runs_frame(), "lr", "loss", param2="layers")
    assert two[["x", "y", "metric"]].to_numpy().tolist() == [
        [0.1, 2.0, 0.5],
        [0.01, 4.0, 0.3],
        [0.1, 2.0, 0.4],
    ]
    categorical = _data.param_vs_metric(runs_frame(), "opt", "loss")
    assert categorical["x"].tolist() == ["adam"] * 3
    with pytest.raises(InvalidParameterError, match="metric"):
        _data.param_vs_metric(runs_frame(), "lr", "f1")


def test_format_value() -> None:
    assert _data.format_value(0.30000000000000004) == "0.3"
    assert _data.format_value(None) == "-"
    assert _data.format_value(float("nan")) == "-"
    assert _data.format_value(3) == "3"
    assert _data.format_value("adam") == "adam"
