"""Each figure is drawn from its data function: check what the traces carry, not pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from workbench.compare import (
    plot_final_metrics,
    plot_metric_history,
    plot_parallel_coordinates,
    plot_param_vs_metric,
)
from workbench.compare.plots import PALETTE, run_colors
from workbench.exceptions import InvalidParameterError


def test_metric_history_one_line_per_run_and_faint_raw_curves_when_smoothed(
    compare_runs: dict[str, Any],
) -> None:
    fig = plot_metric_history(compare_runs["ids"])
    lines = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in lines] == ["run-0", "run-1", "run-2", "run-3"]
    assert list(lines[0].x) == list(range(10))
    assert fig.layout.annotations[0].text == "loss"  # acc has one point: not a curve
    smoothed = plot_metric_history(compare_runs["ids"], smoothing=0.6, x="relative")
    assert len(smoothed.data) == 2 * len(fig.data)
    raw, line = smoothed.data[0], smoothed.data[1]
    assert raw.opacity == 0.25 and line.line.color == raw.line.color
    assert line.y[-1] != raw.y[-1]  # smoothing moved the curve
    assert "smoothing 0.6" in smoothed.layout.title.text


def test_parallel_coordinates_dimensions(compare_runs: dict[str, Any]) -> None:
    fig = plot_parallel_coordinates(compare_runs["ids"])
    (trace,) = fig.data
    labels = [d.label for d in trace.dimensions]
    assert labels == ["depth", "lr", "opt", "acc", "loss"]  # seed is equal: left out
    opt = trace.dimensions[2]
    assert list(opt.ticktext) == ["adam", "sgd"] and list(opt.values) == [1, 0, 1, 0]
    np.testing.assert_allclose(trace.line.color, [0.8, 0.82, 0.84, 0.86])
    with pytest.raises(InvalidParameterError, match="color"):
        plot_parallel_coordinates(compare_runs["ids"], color="f1")


def test_param_vs_metric_scatter_then_contour(compare_runs: dict[str, Any]) -> None:
    scatter = plot_param_vs_metric(compare_runs["ids"], "lr", "acc")
    (points,) = scatter.data
    np.testing.assert_allclose(points.x, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(points.y, [0.8, 0.82, 0.84, 0.86])
    contour = plot_param_vs_metric(compare_runs["ids"], "lr", "acc", param2="depth")
    assert [t.type for t in contour.data] == ["contour", "scatter"]
    np.testing.assert_allclose(contour.data[0].z, [0.8, 0.82, 0.84, 0.86])


def test_final_metrics_bars(compare_runs: dict[str, Any]) -> None:
    fig = plot_final_metrics(compare_runs["ids"])
    assert [t.type for t in fig.data] == ["bar", "bar"]
    acc = next(t for t in fig.data if t.name == "acc")
    assert list(acc.x) == ["run-0", "run-1", "run-2", "run-3"]
    np.testing.assert_allclose(acc.y, [0.8, 0.82, 0.84, 0.86])
    assert list(acc.marker.color) == list(PALETTE[:4])


def test_empty_views_say_why(compare_runs: dict[str, Any]) -> None:
    fig = plot_final_metrics([])
    assert "no metrics" in fig.layout.annotations[0].text
    assert "No metric history" in plot_metric_history([]).layout.annotations[0].text


def test_run_colors_cycle() -> None:
    colors = run_colors([f"r{i}" for i in range(12)])
    assert colors["r0"] == colors["r10"] == PALETTE[0]


def test_single_value_metrics_are_bars_not_dots_on_a_step_axis(store_dir: Any) -> None:
    import workbench as wb
    from workbench.compare import compare

    ids = []
    for i in range(3):
        with wb.start_run("exp", f"trial-{i}") as run:
            run.log_param("x", i)
            run.log_metrics({"auc": 0.7 + i / 10, "f1": 0.5 + i / 10})
        ids.append(run.run_id)
    wb.flush()
    comparison = compare(ids)
    figures = comparison.figures()
    assert "metric_history" not in figures  # nothing to draw over steps
    assert {"final_metrics", "parallel_coordinates"} <= set(figures)
    fig = plot_metric_history(ids)
    assert {t.type for t in fig.data} == {"bar"}  # asked for anyway: bars, one per run
    assert [list(t.x) for t in fig.data] == [["trial-0", "trial-1", "trial-2"]] * 2
    np.testing.assert_allclose(fig.data[0].y, [0.7, 0.8, 0.9])
    assert "one per run" in fig.layout.title.text
