"""HTML for drift reports: self-contained pages and notebook fragments, from binned data only.

Two renderings share one layout (verdict, performance, problems, column table, one
distribution plot per column):

* static: inline SVG bars, no script at all; tens of KB. Used for notebook output, Panel, and the
  copy kept in the store.
* interactive: plotly.js embedded once in the page (about 5 MB), one small figure per column.

Nothing is loaded from the network when a page is opened; every text is HTML-escaped and every
JSON payload is escaped for ``<script>``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench._html import render, safe

if TYPE_CHECKING:
    from workbench.monitoring.report import DriftReport

__all__ = ["column_figure", "render_fragment", "render_report", "svg_bars"]

REFERENCE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"
MAX_FRAGMENT_PLOTS = 60
_CSS = """
.wb-drift{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:13px;
  color:#222;max-width:1100px}
.wb-drift h2{font-size:18px;margin:8px 0}.wb-drift h3{font-size:14px;margin:14px 0 4px}
.wb-drift .verdict{padding:6px 10px;border-radius:4px;display:inline-block;font-weight:600}
.wb-drift .drift{background:#fde2e1;color:#9b1c1c}.wb-drift .ok{background:#e3f4e8;color:#1e6b3a}
.wb-drift table{border-collapse:collapse;margin:6px 0}
.wb-drift th,.wb-drift td{border-bottom:1px solid #e5e5e5;padding:3px 8px;text-align:left}
.wb-drift td.num{text-align:right;font-variant-numeric:tabular-nums}
.wb-drift tr.drifted td{background:#fff4f2}.wb-drift .muted{color:#777}
.wb-drift .plots{display:flex;flex-wrap:wrap;gap:10px}
.wb-drift .plot{border:1px solid #eee;border-radius:4px;padding:4px 6px}
.wb-drift .legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return str(value)


def _verdict(report: DriftReport) -> dict[str, str]:
    word = "Dataset drift detected" if report.dataset_drift else "No dataset drift"
    extra = [
        f"{label} drift: {'yes' if value else 'no'}."
        for label, value in (
            ("Target", report.target_drift),
            ("Prediction", report.prediction_drift),
        )
        if value is not None
    ]
    changed = len(report.schema_changes)
    cols = report.columns
    return {
        "css": "drift" if report.dataset_drift else "ok",
        "text": (
            f"{word}: {report.n_drifted} of {report.n_tested} tested features drifted "
            f"(share {report.share_drifted:.2f}, threshold {report.drift_share:g})."
        ),
        "extra": " ".join(extra),
        "skipped": ", ".join(report.skipped_columns),
        "schema": f" ({changed} schema changes)" if changed else "",
        "unreliable": ", ".join(str(c) for c in cols.index[cols["status"] == "small_sample"]),
    }


def _meta(report: DriftReport) -> dict[str, Any]:
    return {
        "reference": report.sources.get("reference", "reference"),
        "current": report.sources.get("current", "current"),
        "reference_rows": f"{report.reference_rows:,}",
        "current_rows": f"{report.current_rows:,}",
        "stamp": report.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "run_id": report.run_id,
    }


def _table(
    frame: pd.DataFrame, *, index_label: str, row_class: Sequence[str] = ()
) -> dict[str, Any]:
    """A frame as the template's table: header, and per row its class and (text, numeric) cells."""
    rows = []
    for n, (index, row) in enumerate(frame.iterrows()):
        cells = []
        for value in row:
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = _number(value) if numeric else ("" if value is None else str(value))
            cells.append((text, numeric))
        rows.append((str(index), row_class[n] if row_class else "", cells))
    return {"head": [index_label, *(str(c) for c in frame.columns)], "rows": rows}


def _column_table(report: DriftReport) -> dict[str, Any]:
    cols = report.columns
    shown = cols[["role", "kind", "test", "statistic", "p_value", "threshold", "drifted", "status"]]
    shown = shown.assign(
        drifted=["yes" if d else "" for d in shown["drifted"]],
        test=[t if t is not None else "—" for t in shown["test"]],
    )
    classes = ["drifted" if d else "" for d in cols["drifted"]]
    return _table(shown, index_label="column", row_class=classes)


def _problems(report: DriftReport) -> list[tuple[str, str, str]]:
    return [(str(c), str(row["status"]), str(row["note"])) for c, row in report.problems.iterrows()]


def _labels(distribution: Mapping[str, Any]) -> list[str]:
    if distribution["type"] == "categorical":
        return [str(x) for x in distribution["labels"]]
    edges = distribution["edges"]
    return [f"{edges[i]:.4g} – {edges[i + 1]:.4g}" for i in range(len(edges) - 1)]


def svg_bars(distribution: Mapping[str, Any], *, width: int = 340, height: int = 120) -> str:
    """Reference vs current shares as grouped SVG bars (no script)."""
    ref, cur = distribution["reference"], distribution["current"]
    labels = _labels(distribution)
    n = max(len(ref), 1)
    top = max([*ref, *cur, 1e-12])
    plot_h = height - 18
    slot = width / n
    bar = max(slot / 2 - 0.5, 0.5)
    rects = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        for j, (value, color) in enumerate(((r, REFERENCE_COLOR), (c, CURRENT_COLOR))):
            h = plot_h * value / top
            side = "reference" if j == 0 else "current"
            rects.append(
                {
                    "x": f"{i * slot + j * bar:.1f}",
                    "y": f"{plot_h - h:.1f}",
                    "w": f"{bar:.1f}",
                    "h": f"{h:.1f}",
                    "color": color,
                    "title": f"{labels[i]}: {side} {value:.3%}",
                }
            )
    numeric = distribution["type"] == "numeric"
    edges = distribution.get("edges") or [None]
    shown = ", ".join(labels[:6]) + (" …" if len(labels) > 6 else "")
    return render(
        "drift_bars.svg.j2",
        width=width,
        height=height,
        plot_h=plot_h,
        rects=rects,
        low=f"{edges[0]:.4g}" if numeric else None,
        high=f"{edges[-1]:.4g}" if numeric else None,
        shown=shown[:70],
    )


def _plot_title(column: str, row: pd.Series) -> str:
    verdict = "drift" if row["drifted"] else "no drift"
    score = row["p_value"] if not math.isnan(row["p_value"]) else row["statistic"]
    return f"{column} — {row['test']} {_number(score)} ({verdict})"


def _static_plots(report: DriftReport, limit: int | None) -> tuple[list[Any], int]:
    """The SVG plots, drifted columns first (at most ``limit``), and how many were left out."""
    names = list(report.distributions)
    order = sorted(names, key=lambda c: not bool(report.columns.loc[c, "drifted"]))
    shown = order if limit is None else order[:limit]
    plots = [
        safe(
            render(
                "drift_plot.html.j2",
                title=_plot_title(c, report.column_row(c)),
                svg=safe(svg_bars(report.distributions[c])),
            )
        )
        for c in shown
    ]
    return plots, len(order) - len(shown)


def column_figure(column: str, distribution: Mapping[str, Any], row: pd.Series) -> Any:
    """A plotly Figure of one column's binned reference vs current shares."""
    import plotly.graph_objects as go

    labels = _labels(distribution)
    if distribution["type"] == "numeric":
        edges = distribution["edges"]
        x: list[Any] = [(edges[i] + edges[i + 1]) / 2 for i in range(len(edges) - 1)]
    else:
        x = labels
    figure = go.Figure()
    for side, color in (("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)):
        figure.add_bar(
            x=x,
            y=distribution[side],
            name=side,
            marker_color=color,
            customdata=labels,
            hovertemplate="%{customdata}<br>%{y:.2%}<extra>" + side + "</extra>",
        )
    figure.update_layout(
        title={"text": _plot_title(column, row), "font": {"size": 13}},
        barmode="group",
        height=260,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        yaxis={"tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    return figure


def _script_json(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c")  # no "</script>" or "<!--" in JSON


def _interactive_plots(report: DriftReport) -> list[Any]:
    plots = []
    for n, column in enumerate(report.distributions):
        figure = column_figure(column, report.distributions[column], report.column_row(column))
        spec = json.loads(figure.to_json())
        data, layout = safe(_script_json(spec["data"])), safe(_script_json(spec["layout"]))
        plots.append(safe(render("drift_plot.html.j2", n=n, data=data, layout=layout)))
    return plots


def _render(
    report: DriftReport, *, page: bool, plots: list[Any], more: int = 0, js: str = ""
) -> str:
    performance = None
    estimated = False
    if report.performance is not None:
        frame = report.performance.dropna(axis=1, how="all")
        performance = _table(frame, index_label="metric")
        estimated = "estimated" in frame.columns
    return render(
        "drift_report.html.j2",
        page=page,
        title=report.name or "Drift report",
        css=safe(_CSS),
        plotlyjs=safe(js),
        verdict=_verdict(report),
        meta=_meta(report),
        task=report.task,
        performance=performance,
        estimated=estimated,
        problems=_problems(report),
        columns=_column_table(report),
        reference_color=REFERENCE_COLOR,
        current_color=CURRENT_COLOR,
        plots=plots,
        more=more,
    )


def render_fragment(report: DriftReport) -> str:
    """The report as an HTML fragment with static plots (notebooks, Panel)."""
    plots, more = _static_plots(report, MAX_FRAGMENT_PLOTS)
    return _render(report, page=False, plots=plots, more=more)


def render_report(report: DriftReport, *, interactive: bool) -> str:
    """The report as a complete, self-contained HTML page."""
    if interactive and report.distributions:
        from plotly.offline import get_plotlyjs

        js = f"<script type='text/javascript'>{get_plotlyjs()}</script>"
        return _render(report, page=True, plots=_interactive_plots(report), js=js)
    plots, _ = _static_plots(report, None)
    return _render(report, page=True, plots=plots)
