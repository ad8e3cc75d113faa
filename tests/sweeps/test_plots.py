"""Every sweep view returns a plotly figure built from its data function."""

from __future__ import annotations

from pathlib import Path

import optuna
import plotly.graph_objects as go
import pytest

import workbench as wb
from workbench.sweeps import Sweep, plots, sweep


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    for step in range(3):
        trial.report(x * x + step, step)
    if trial.number == 2:
        raise optuna.TrialPruned()
    return (x - 1) ** 2 + abs(lr) + (kind == "b")


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    client = wb.Workbench(tmp_path_factory.mktemp("plots") / "store")
    return sweep(_objective, n_trials=20, name="plots", seed=0, client=client, progress=False)


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    client = wb.Workbench(tmp_path_factory.mktemp("pareto") / "store")

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        return x, 1 - x + y, y

    return sweep(
        objective,
        n_trials=20,
        name="pareto",
        directions=["minimize", "minimize", "maximize"],
        client=client,
        progress=False,
    )


def test_optimization_history(single: Sweep) -> None:
    fig = plots.plot_optimization_history(single)
    assert isinstance(fig, go.Figure)
    points, best = fig.data
    assert len(points.x) == single.counts()["complete"]
    assert min(best.y) == pytest.approx(single.study.best_value)


@pytest.mark.parametrize(
    "plot",
    [
        plots.plot_sweep_parallel_coordinates,
        plots.plot_param_importances,
        plots.plot_slice,
        plots.plot_contour,
        plots.plot_intermediate_values,
        plots.plot_timeline,
    ],
)
def test_every_view_is_a_figure(single: Sweep, plot: object) -> None:
    fig = plot(single)  # type: ignore[operator]
    assert isinstance(fig, go.Figure) and fig.data
    assert single.name in fig.layout.title.text


def test_views_follow_the_param_kinds(single: Sweep) -> None:
    parallel = plots.plot_sweep_parallel_coordinates(single).data[0]
    labels = [d.label for d in parallel.dimensions]
    assert labels == ["objective", "kind", "lr", "x"]
    assert list(parallel.dimensions[1].ticktext) == ["a", "b"]
    assert next(iter(parallel.dimensions[2].ticktext)).startswith("1e-")
    slices = plots.plot_slice(single)
    assert slices.layout.xaxis2.type == "log" and slices.layout.xaxis.type == "category"
    importances = plots.plot_param_importances(single).data[0]
    assert sorted(importances.y) == ["kind", "lr", "x"]
    contour = plots.plot_contour(single, params=["x", "lr"])
    assert contour.layout.yaxis.type == "log" and len(contour.data) == 2
    matrix = plots.plot_contour(single)
    assert sum(isinstance(t, go.Contour) for t in matrix.data) == 3  # pairs of 3 params
    intermediate = plots.plot_intermediate_values(single)
    assert {t.name for t in intermediate.data} == {"complete", "pruned"}


def test_pareto_front_in_two_and_three_dimensions(multi: Sweep, single: Sweep) -> None:
    three = plots.plot_pareto_front(multi)
    assert {type(t) for t in three.data} == {go.Scatter3d}
    two = plots.plot_pareto_front(multi, objectives=[0, "objective_1"])
    front = next(t for t in two.data if t.name == "Pareto front")
    assert len(front.x) >= 1
    with pytest.raises(wb.ConflictError, match="no Pareto front"):
        plots.plot_pareto_front(single)
    with pytest.raises(wb.InvalidParameterError, match="'objectives'"):
        plots.plot_pareto_front(multi, objectives=[0])
    history = plots.plot_optimization_history(multi, objective="objective_2")
    assert history.layout.yaxis.title.text == "objective_2"


def test_bad_view_arguments(single: Sweep) -> None:
    with pytest.raises(wb.InvalidParameterError, match=r"'objective'.*\['objective'\]"):
        plots.plot_slice(single, objective=3)
    with pytest.raises(wb.InvalidParameterError, match="nope"):
        plots.plot_slice(single, params=["nope"])
    with pytest.raises(wb.InvalidParameterError, match="at least two params"):
        plots.plot_contour(single, params=["x"])


def test_a_sweep_without_complete_trials_still_draws(tmp_path: Path) -> None:
    client = wb.Workbench(tmp_path / "store")

    def pruned(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        raise optuna.TrialPruned()

    s = sweep(pruned, n_trials=2, name="empty", client=client, progress=False)
    assert isinstance(plots.plot_optimization_history(s), go.Figure)
    assert isinstance(plots.plot_timeline(s), go.Figure)
    assert "<svg" not in s._repr_mimebundle_()["text/html"]
