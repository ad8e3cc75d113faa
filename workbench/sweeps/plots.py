"""Sweep views as plotly figures; each takes a :class:`~workbench.sweeps.Sweep`.

The data comes from :mod:`workbench.sweeps._data` (tested on its own); these functions only
draw. ``objective`` picks one objective of a multi-objective sweep, by index or metric name.
Figures render in notebooks through plotly's own renderer (no extra JavaScript is embedded).
They use the session's default plotly template, and multi-panel views lay out their axes
directly: a named template and ``make_subplots`` each cost more than the rest of a figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench import _validation as v
from workbench.exceptions import ConflictError
from workbench.sweeps import _data

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.sweeps._result import Sweep

__all__ = [
    "plot_contour",
    "plot_intermediate_values",
    "plot_optimization_history",
    "plot_param_importances",
    "plot_pareto_front",
    "plot_slice",
    "plot_sweep_parallel_coordinates",
    "plot_timeline",
]

STATE_COLORS = {
    "complete": "#1f77b4",
    "pruned": "#ff7f0e",
    "failed": "#d62728",
    "running": "#2ca02c",
    "waiting": "#7f7f7f",
}


def _objective(sweep: Sweep, objective: int | str | None, caller: str) -> tuple[int, str]:
    names = sweep.metric_names
    if objective is None:
        return 0, names[0]
    if isinstance(objective, str) and objective in names:
        return names.index(objective), objective
    if (
        isinstance(objective, int)
        and not isinstance(objective, bool)
        and 0 <= objective < len(names)
    ):
        return objective, names[objective]
    raise v.fail("objective", caller, f"an index below {len(names)} or one of {names}", objective)


def _params(sweep: Sweep, params: Sequence[str] | None, caller: str) -> dict[str, _data.ParamInfo]:
    if params is not None and (isinstance(params, str) or not isinstance(params, Sequence)):
        raise v.fail("params", caller, "a list of param names or None", params)
    try:
        return _data.param_info(sweep._trials(), params)
    except KeyError as exc:
        raise v.fail(
            "params", caller, "params of the sweep's complete trials", params, str(exc.args[0])
        ) from None


def _figure(title: str, **layout: Any) -> go.Figure:
    import plotly.graph_objects as go

    return go.Figure(layout={"title": {"text": title}, **layout})


def _grid(rows: int, cols: int, gap: float) -> tuple[dict[str, Any], list[list[str]]]:
    """Axes for a rows x cols grid of panels, and each panel's axis suffix ("", "2", ...)."""
    layout: dict[str, Any] = {}
    cells: list[list[str]] = []
    width, height = (1 - gap * (cols - 1)) / cols, (1 - gap * (rows - 1)) / rows
    for r in range(rows):
        cells.append([])
        for c in range(cols):
            k = r * cols + c + 1
            suffix = "" if k == 1 else str(k)
            x0, y1 = c * (width + gap), 1 - r * (height + gap)
            layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": f"y{suffix}"}
            layout[f"yaxis{suffix}"] = {"domain": [y1 - height, y1], "anchor": f"x{suffix}"}
            cells[-1].append(suffix)
    return layout, cells


def _axis_for(info: _data.ParamInfo) -> dict[str, Any]:
    if info.categorical:
        return {
            "title": {"text": info.name},
            "tickvals": list(range(len(info.choices))),
            "ticktext": [str(c) for c in info.choices],
        }
    return {"title": {"text": info.name}, "type": "log" if info.log else "linear"}


def plot_optimization_history(sweep: Sweep, *, objective: int | str | None = None) -> go.Figure:
    """Objective value of every complete trial, and the best value so far."""
    import plotly.graph_objects as go

    index, label = _objective(sweep, objective, "plot_optimization_history")
    data = _data.optimization_history(sweep._trials(), sweep.directions[index], index)
    fig = _figure(
        f"Optimization history: {sweep.name}",
        xaxis={"title": {"text": "trial"}},
        yaxis={"title": {"text": label}},
    )
    fig.add_trace(
        go.Scatter(
            x=data["number"],
            y=data["value"],
            mode="markers",
            name=label,
            marker={"color": STATE_COLORS["complete"], "size": 6},
            hovertemplate="trial %{x}<br>" + label + " %{y:.6g}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=data["number"],
            y=data["best_value"],
            mode="lines",
            name="best so far",
            line={"color": "#d62728", "shape": "hv"},
        )
    )
    return fig


def _log_ticks(values: np.ndarray) -> tuple[list[float], list[str]]:
    low, high = math.floor(np.nanmin(values)), math.ceil(np.nanmax(values))
    ticks = list(range(low, high + 1))
    return [float(t) for t in ticks], [f"1e{t}" for t in ticks]


def plot_sweep_parallel_coordinates(
    sweep: Sweep, *, params: Sequence[str] | None = None, objective: int | str | None = None
) -> go.Figure:
    """One line per complete trial across the objective and every param."""
    import plotly.graph_objects as go

    caller = "plot_sweep_parallel_coordinates"
    index, label = _objective(sweep, objective, caller)
    infos = _params(sweep, params, caller)
    frame = _data.params_frame(sweep._trials(), index, list(infos))
    dimensions: list[dict[str, Any]] = [{"label": label, "values": frame["value"]}]
    for name, info in infos.items():
        values = np.array([math.nan if x is None else info.encode(x) for x in frame[name]])
        dimension: dict[str, Any] = {"label": name, "values": values}
        if info.categorical:
            dimension["tickvals"] = list(range(len(info.choices)))
            dimension["ticktext"] = [str(c) for c in info.choices]
        elif info.log and np.isfinite(values).any():
            dimension["tickvals"], dimension["ticktext"] = _log_ticks(values)
        dimensions.append(dimension)
    reverse = sweep.directions[index] == "minimize"
    fig = _figure(f"Parallel coordinates: {sweep.name}")
    fig.add_trace(
        go.Parcoords(
            dimensions=dimensions,
            line={
                "color": frame["value"],
                "colorscale": "Blues",
                "reversescale": reverse,
                "showscale": True,
                "colorbar": {"title": {"text": label}},
            },
        )
    )
    return fig


def plot_param_importances(
    sweep: Sweep, *, params: Sequence[str] | None = None, objective: int | str | None = None
) -> go.Figure:
    """Share of the objective's variation each param explains (random-forest impurity)."""
    import plotly.graph_objects as go

    caller = "plot_param_importances"
    index, label = _objective(sweep, objective, caller)
    infos = _params(sweep, params, caller)
    scores = _data.param_importances(sweep._trials(), index, list(infos) if params else None)
    scores = scores.sort_values()
    fig = _figure(
        f"Param importances for {label}: {sweep.name}",
        xaxis={"title": {"text": "importance"}},
        yaxis={"title": {"text": "param"}},
    )
    fig.add_trace(
        go.Bar(
            x=scores.to_numpy(),
            y=list(scores.index),
            orientation="h",
            text=[f"{s:.2f}" for s in scores],
            textposition="outside",
            marker={"color": STATE_COLORS["complete"]},
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    return fig


def plot_slice(
    sweep: Sweep, *, params: Sequence[str] | None = None, objective: int | str | None = None
) -> go.Figure:
    """The objective against each param, one panel per param (colour: trial number)."""
    import plotly.graph_objects as go

    caller = "plot_slice"
    index, label = _objective(sweep, objective, caller)
    infos = _params(sweep, params, caller)
    data = _data.slice_frame(sweep._trials(), index, list(infos))
    layout, cells = _grid(1, max(1, len(infos)), gap=0.02)
    traces = []
    for col, (name, info) in enumerate(infos.items()):
        suffix = cells[0][col]
        part = data[data["param"] == name]
        traces.append(
            go.Scatter(
                x=part["x"].astype(str) if info.categorical else part["x"],
                y=part["value"],
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                mode="markers",
                name=name,
                showlegend=False,
                marker={
                    "color": part["number"],
                    "colorscale": "Blues",
                    "showscale": col == 0,
                    "colorbar": {"title": {"text": "trial"}},
                    "size": 6,
                },
                customdata=part["number"],
                hovertemplate=name + " %{x}<br>" + label + " %{y:.6g}<br>trial %{customdata}"
                "<extra></extra>",
            )
        )
        axis = layout[f"xaxis{suffix}"]
        axis["title"] = {"text": name}
        if info.categorical:
            axis["type"] = "category"
        elif info.log:
            axis["type"] = "log"
        if col:
            layout[f"yaxis{suffix}"].update(matches="y", showticklabels=False)
    layout["yaxis"]["title"] = {"text": label}
    return go.Figure(data=traces, layout={"title": {"text": f"Slice: {sweep.name}"}, **layout})


def plot_contour(
    sweep: Sweep,
    *,
    params: Sequence[str] | None = None,
    objective: int | str | None = None,
    resolution: int = 100,
) -> go.Figure:
    """The objective interpolated over pairs of params, with the trials as points.

    Two params give one panel; more give one panel per pair (lower triangle).
    """
    import plotly.graph_objects as go

    caller = "plot_contour"
    index, label = _objective(sweep, objective, caller)
    infos = _params(sweep, params, caller)
    names = list(infos)
    if len(names) < 2:
        raise v.fail("params", caller, "at least two params", names)
    trials = sweep._trials()
    size = len(names) - 1
    layout, cells = _grid(size, size, gap=0.05 if size > 1 else 0.0)
    reverse = sweep.directions[index] == "maximize"
    traces: list[Any] = []
    for row in range(size):
        for col in range(size):
            suffix = cells[row][col]
            if col > row:  # the upper triangle stays empty
                layout[f"xaxis{suffix}"]["visible"] = False
                layout[f"yaxis{suffix}"]["visible"] = False
                continue
            data = _data.contour(trials, names[col], names[row + 1], index, resolution=resolution)
            axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
            traces.append(
                go.Contour(
                    x=_display(data.x_grid, data.x),
                    y=_display(data.y_grid, data.y),
                    z=data.z,
                    colorscale="Blues",
                    reversescale=reverse,
                    showscale=not traces,
                    colorbar={"title": {"text": label}},
                    connectgaps=False,
                    hoverinfo="skip",
                    **axes,
                )
            )
            traces.append(
                go.Scatter(
                    x=_display(data.points["x"].to_numpy(), data.x),
                    y=_display(data.points["y"].to_numpy(), data.y),
                    mode="markers",
                    marker={"color": "black", "size": 4, "opacity": 0.6},
                    customdata=data.points[["number", "value"]].to_numpy(),
                    hovertemplate="trial %{customdata[0]}<br>"
                    + label
                    + " %{customdata[1]:.6g}<extra></extra>",
                    showlegend=False,
                    **axes,
                )
            )
            layout[f"xaxis{suffix}"].update(_axis_for(data.x))
            layout[f"yaxis{suffix}"].update(_axis_for(data.y))
    title = {"text": f"Contour of {label}: {sweep.name}"}
    return go.Figure(data=traces, layout={"title": title, **layout})


def _display(values: np.ndarray, info: _data.ParamInfo) -> np.ndarray:
    """Encoded coordinates back to axis units (log params: 10**x on a log axis)."""
    return np.power(10.0, values) if info.log and not info.categorical else values


def plot_intermediate_values(sweep: Sweep) -> go.Figure:
    """Values reported with ``trial.report`` by step, one line per trial, coloured by state."""
    import plotly.graph_objects as go

    data = _data.intermediate_values(sweep._trials())
    fig = _figure(
        f"Intermediate values: {sweep.name}",
        xaxis={"title": {"text": "step"}},
        yaxis={"title": {"text": "intermediate value"}},
    )
    for state, part in data.groupby("state", sort=False):
        # One trace per state with gaps between trials: 1,000 trials stay 3 traces.
        xs: list[Any] = []
        ys: list[Any] = []
        numbers: list[Any] = []
        for number, trial in part.groupby("number", sort=True):
            xs += [*trial["step"].tolist(), None]
            ys += [*trial["value"].tolist(), None]
            numbers += [number] * len(trial) + [None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=str(state),
                line={"color": STATE_COLORS.get(str(state), "#7f7f7f"), "width": 1},
                marker={"size": 3},
                customdata=numbers,
                hovertemplate="trial %{customdata}<br>step %{x}: %{y:.6g}<extra></extra>",
            )
        )
    return fig


def plot_pareto_front(sweep: Sweep, *, objectives: Sequence[int | str] | None = None) -> go.Figure:
    """Complete trials in objective space, Pareto-optimal ones highlighted (2 or 3 axes)."""
    import plotly.graph_objects as go

    caller = "plot_pareto_front"
    if not sweep.is_multi_objective:
        raise ConflictError(
            f"Sweep {sweep.name!r} has one objective, so it has no Pareto front. Use "
            "plot_optimization_history(sweep)."
        )
    chosen = (
        list(objectives) if objectives is not None else list(range(min(3, len(sweep.directions))))
    )
    if not 2 <= len(chosen) <= 3:
        raise v.fail("objectives", caller, "2 or 3 objectives", objectives)
    picked = [_objective(sweep, o, caller) for o in chosen]
    data = _data.pareto_front(sweep._trials(), sweep.directions)
    fig = _figure(f"Pareto front: {sweep.name}")
    best = data["is_pareto"].to_numpy(dtype=bool)
    for mask, name, color in ((~best, "dominated", "#bbbbbb"), (best, "Pareto front", "#d62728")):
        part = data[mask]
        axes = [part[f"value_{i}"] for i, _ in picked]
        common = {
            "mode": "markers",
            "name": name,
            "marker": {"color": color, "size": 6 if len(picked) == 2 else 4},
            "customdata": part["number"],
            "hovertemplate": "trial %{customdata}<extra></extra>",
        }
        if len(picked) == 2:
            fig.add_trace(go.Scatter(x=axes[0], y=axes[1], **common))
        else:
            fig.add_trace(go.Scatter3d(x=axes[0], y=axes[1], z=axes[2], **common))
    labels = [label for _, label in picked]
    if len(picked) == 2:
        fig.update_layout(
            xaxis={"title": {"text": labels[0]}}, yaxis={"title": {"text": labels[1]}}
        )
    else:
        fig.update_layout(
            scene={
                "xaxis": {"title": {"text": labels[0]}},
                "yaxis": {"title": {"text": labels[1]}},
                "zaxis": {"title": {"text": labels[2]}},
            }
        )
    return fig


def plot_timeline(sweep: Sweep) -> go.Figure:
    """When each trial ran, one bar per trial, coloured by state (parallel workers overlap)."""
    import plotly.graph_objects as go

    data = _data.timeline(sweep._trials())
    fig = _figure(
        f"Timeline: {sweep.name}",
        xaxis={"title": {"text": "time"}, "type": "date"},
        yaxis={"title": {"text": "trial"}},
        barmode="overlay",
    )
    for state, part in data.groupby("state", sort=False):
        duration_ms = (part["end"] - part["start"]).dt.total_seconds() * 1000
        fig.add_trace(
            go.Bar(
                base=part["start"],
                x=duration_ms,
                y=part["number"],
                orientation="h",
                name=str(state),
                marker={"color": STATE_COLORS.get(str(state), "#7f7f7f")},
                hovertemplate="trial %{y}<br>%{base} (%{x:.0f} ms)<extra></extra>",
            )
        )
    return fig
