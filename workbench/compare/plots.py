"""Comparison figures (plotly), each drawn from one pure function of :mod:`._data`.

Every function takes what :func:`workbench.compare` takes (run ids, a ``search_runs``
DataFrame, a sweep) or a :class:`~workbench.compare.RunComparison`, and returns a
``plotly.graph_objects.Figure``. A run keeps its colour in every figure of a comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench import _validation as v
from workbench.compare import _data

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.compare.comparison import RunComparison
    from workbench.tracking.client import TrackingClient

__all__ = [
    "plot_final_metrics",
    "plot_metric_history",
    "plot_parallel_coordinates",
    "plot_param_vs_metric",
]

TEMPLATE = "plotly_white"
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_X_TITLES = {"step": "step", "time": "time (UTC)", "relative": "seconds since start"}


def run_colors(labels: Sequence[str]) -> dict[str, str]:
    """A colour per run label, in order, cycling through a 10-colour palette."""
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def _comparison(runs: Any, client: TrackingClient | None) -> RunComparison:
    from workbench.compare.comparison import RunComparison, compare

    return runs if isinstance(runs, RunComparison) else compare(runs, client=client)


def _figure(title: str, **layout: Any) -> go.Figure:
    import plotly.graph_objects as go

    return go.Figure(layout={"title": {"text": title}, "template": TEMPLATE, **layout})


def _empty(title: str, message: str) -> go.Figure:
    fig = _figure(title)
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def plot_metric_history(
    runs: Any,
    *,
    keys: Sequence[str] | None = None,
    x: str = "step",
    smoothing: float = 0.0,
    client: TrackingClient | None = None,
) -> go.Figure:
    """Metric curves of the runs overlaid, one panel per metric.

    Metrics with one value per run have no curve to draw: when no chosen metric has more
    than one point in a run, the values are drawn as bars, one panel per metric (as
    :func:`plot_final_metrics`).

    Parameters
    ----------
    runs
        Run ids, a ``search_runs`` DataFrame, a sweep, or a ``RunComparison``.
    keys
        Metrics to draw (default: every metric with more than one point in some run; all
        metrics when none has).
    x
        ``"step"``, ``"time"`` or ``"relative"`` (seconds since each run started).
    smoothing
        TensorBoard-style EMA weight in ``[0, 1)``. When above 0 the raw curve is drawn faint
        behind the smoothed one.
    """
    comparison = _comparison(runs, client)
    if keys is None:
        keys = _data.curve_keys(comparison.history()) or None
    curves = comparison.curves(keys=keys, x=x, smoothing=smoothing)
    return draw_metric_history(curves, comparison.labels, x=x, smoothing=smoothing)


def draw_metric_history(
    curves: pd.DataFrame, labels: Sequence[str], *, x: str = "step", smoothing: float = 0.0
) -> go.Figure:
    """Draw :func:`._data.metric_curves` output (used by the widgets, which cache the data)."""
    from plotly.subplots import make_subplots

    title = "Metric history"
    if curves.empty:
        return _empty(title, "No metric history logged by these runs.")
    if curves.groupby(["key", "run"], sort=False).size().max() <= 1:
        return _single_values(curves, labels)
    keys = list(dict.fromkeys(curves["key"]))
    colors = run_colors(labels)
    fig = make_subplots(
        rows=len(keys),
        cols=1,
        subplot_titles=keys,
        shared_xaxes=x != "step",
        vertical_spacing=min(0.08, 0.3 / max(len(keys), 1)),
    )
    shown: set[str] = set()
    for row, key in enumerate(keys, start=1):
        for run, points in curves[curves["key"] == key].groupby("run", sort=False):
            color = colors.get(str(run), PALETTE[0])
            legend = str(run) not in shown
            shown.add(str(run))
            if smoothing:
                fig.add_scatter(
                    x=points["x"],
                    y=points["value"],
                    mode="lines",
                    line={"color": color, "width": 1},
                    opacity=0.25,
                    name=str(run),
                    legendgroup=str(run),
                    showlegend=False,
                    hoverinfo="skip",
                    row=row,
                    col=1,
                )
            fig.add_scatter(
                x=points["x"],
                y=points["smoothed"],
                mode="lines+markers" if len(points) < 2 else "lines",
                line={"color": color},
                name=str(run),
                legendgroup=str(run),
                showlegend=legend,
                customdata=points["value"],
                hovertemplate=f"{run}<br>{key}: %{{y:.6g}} (raw %{{customdata:.6g}})"
                "<br>x: %{x}<extra></extra>",
                row=row,
                col=1,
            )
    fig.update_xaxes(title_text=_X_TITLES[x], row=len(keys), col=1)
    fig.update_layout(
        title={"text": title + (f" (smoothing {smoothing:g})" if smoothing else "")},
        template=TEMPLATE,
        height=max(320, 260 * len(keys)),
        hovermode="closest",
    )
    return fig


def _single_values(curves: pd.DataFrame, labels: Sequence[str]) -> go.Figure:
    """Metrics with one value per run, as bars (a curve of one point is a dot on a made-up
    x axis)."""
    table = pd.DataFrame(
        {"run": curves["run"], "metric": curves["key"], "value": curves["value"].astype(float)}
    )
    fig = draw_final_metrics(table, labels)
    fig.update_layout(title={"text": "Metric values (one per run, no history to draw)"})
    return fig


def _dimension(table: pd.DataFrame, column: str) -> dict[str, Any]:
    values = table[column]
    label = column.split(".", 1)[1]
    if pd.api.types.is_numeric_dtype(values):
        return {"label": label, "values": values.to_numpy()}
    categories = sorted(values.unique())
    codes = values.map({c: i for i, c in enumerate(categories)})
    return {
        "label": label,
        "values": codes.to_numpy(),
        "tickvals": list(range(len(categories))),
        "ticktext": categories,
    }


def plot_parallel_coordinates(
    runs: Any,
    *,
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    color: str | None = None,
    client: TrackingClient | None = None,
) -> go.Figure:
    """Parallel coordinates: one line per run through its params and metrics.

    Defaults: the params that differ between the runs and every metric; lines are coloured
    by ``color`` (a metric name, default the first of ``metrics``).
    """
    comparison = _comparison(runs, client)
    table = _data.parallel_coordinates_table(comparison.runs, params=params, metrics=metrics)
    return draw_parallel_coordinates(table, color=color)


def draw_parallel_coordinates(table: pd.DataFrame, *, color: str | None = None) -> go.Figure:
    """Draw :func:`._data.parallel_coordinates_table` output."""
    import plotly.graph_objects as go

    title = "Parallel coordinates"
    axes = [c for c in table.columns if c.startswith(("params.", "metrics."))]
    if table.empty or not axes:
        return _empty(title, "No params or metrics to compare.")
    metrics = table.attrs.get("metrics", [])
    if color is not None and color not in metrics:
        raise v.fail("color", "plot_parallel_coordinates", f"one of the metrics {metrics}", color)
    color = color or (metrics[0] if metrics else None)
    line: dict[str, Any] = {"color": PALETTE[0]}
    if color is not None:
        line = {
            "color": table[f"metrics.{color}"].to_numpy(),
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": {"text": color}},
        }
    fig = _figure(title, height=420, margin={"l": 80, "r": 80, "t": 80, "b": 40})
    fig.add_trace(go.Parcoords(line=line, dimensions=[_dimension(table, c) for c in axes]))
    return fig


def plot_param_vs_metric(
    runs: Any,
    param: str,
    metric: str,
    *,
    param2: str | None = None,
    client: TrackingClient | None = None,
) -> go.Figure:
    """A param against a metric (scatter), or two params against a metric (contour).

    With ``param2`` the metric is drawn as a contour over the two params (plotly interpolates
    between the runs) with the runs as points on top.
    """
    comparison = _comparison(runs, client)
    table = _data.param_vs_metric(comparison.runs, param, metric, param2=param2)
    return draw_param_vs_metric(table, comparison.labels)


def draw_param_vs_metric(table: pd.DataFrame, labels: Sequence[str]) -> go.Figure:
    """Draw :func:`._data.param_vs_metric` output."""
    import plotly.graph_objects as go

    param, param2, metric = (table.attrs.get(k) for k in ("param", "param2", "metric"))
    title = f"{metric} vs {param}" + (f" and {param2}" if param2 else "")
    if table.empty:
        return _empty(title, "No run has both the param(s) and the metric.")
    colors = run_colors(labels)
    if param2 is None:
        fig = _figure(title, xaxis_title=param, yaxis_title=metric, height=380)
        fig.add_trace(
            go.Scatter(
                x=table["x"],
                y=table["metric"],
                mode="markers",
                marker={"size": 10, "color": [colors.get(r, PALETTE[0]) for r in table["run"]]},
                text=table["run"],
                hovertemplate="%{text}<br>" + f"{param}: %{{x}}<br>{metric}: %{{y:.6g}}"
                "<extra></extra>",
                showlegend=False,
            )
        )
        return fig
    fig = _figure(title, xaxis_title=param, yaxis_title=param2, height=420)
    numeric = pd.api.types.is_numeric_dtype(table["x"]) and pd.api.types.is_numeric_dtype(
        table["y"]
    )
    if numeric and table["x"].nunique() > 1 and table["y"].nunique() > 1:
        fig.add_trace(
            go.Contour(
                x=table["x"],
                y=table["y"],
                z=table["metric"],
                colorscale="Viridis",
                connectgaps=True,
                colorbar={"title": {"text": metric}},
                hoverinfo="skip",
                opacity=0.85,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=table["x"],
            y=table["y"],
            mode="markers",
            marker={"size": 9, "color": "white", "line": {"color": "black", "width": 1}},
            text=table["run"],
            customdata=table["metric"],
            hovertemplate="%{text}<br>"
            + f"{param}: %{{x}}<br>{param2}: %{{y}}<br>{metric}: %{{customdata:.6g}}"
            "<extra></extra>",
            showlegend=False,
        )
    )
    return fig


def plot_final_metrics(
    runs: Any, *, metrics: Sequence[str] | None = None, client: TrackingClient | None = None
) -> go.Figure:
    """Bar charts of the runs' final (latest) metric values, one panel per metric."""
    comparison = _comparison(runs, client)
    table = _data.final_metrics_long(comparison.runs, keys=metrics)
    return draw_final_metrics(table, comparison.labels)


def draw_final_metrics(table: pd.DataFrame, labels: Sequence[str]) -> go.Figure:
    """Draw :func:`._data.final_metrics_long` output."""
    from plotly.subplots import make_subplots

    title = "Final metrics"
    if table.empty:
        return _empty(title, "These runs logged no metrics.")
    keys = list(dict.fromkeys(table["metric"]))
    columns = min(len(keys), 3)
    rows = -(-len(keys) // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=keys)
    colors = run_colors(labels)
    for i, key in enumerate(keys):
        part = table[table["metric"] == key]
        fig.add_bar(
            x=part["run"],
            y=part["value"],
            marker_color=[colors.get(r, PALETTE[0]) for r in part["run"]],
            text=[f"{x:.4g}" for x in part["value"]],
            textposition="auto",
            name=key,
            showlegend=False,
            hovertemplate="%{x}<br>" + f"{key}: %{{y:.6g}}<extra></extra>",
            row=i // columns + 1,
            col=i % columns + 1,
        )
    fig.update_layout(title={"text": title}, template=TEMPLATE, height=max(320, 280 * rows))
    return fig
