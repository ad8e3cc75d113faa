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

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

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


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return _esc(value)


def _verdict(report: DriftReport) -> str:
    css = "drift" if report.dataset_drift else "ok"
    word = "Dataset drift detected" if report.dataset_drift else "No dataset drift"
    text = (
        f"{word}: {report.n_drifted} of {report.n_tested} tested features drifted "
        f"(share {report.share_drifted:.2f}, threshold {report.drift_share:g})."
    )
    extra = []
    for label, value in (("Target", report.target_drift), ("Prediction", report.prediction_drift)):
        if value is not None:
            extra.append(f"{label} drift: {'yes' if value else 'no'}.")
    tail = f" <span class='muted'>{_esc(' '.join(extra))}</span>" if extra else ""
    skipped = report.skipped_columns
    untested = ""
    if skipped:
        changed = len(report.schema_changes)
        schema = f" ({changed} schema changes)" if changed else ""
        untested = (
            f"<p><b>Not tested{_esc(schema)}:</b> {_esc(', '.join(skipped))}: see "
            "“Columns to look at”.</p>"
        )
    cols = report.columns
    unreliable = [str(c) for c in cols.index[cols["status"] == "small_sample"]]
    if unreliable:
        untested += (
            f"<p><b>Unreliable verdicts (small samples):</b> {_esc(', '.join(unreliable))}: "
            "see “Columns to look at”.</p>"
        )
    return f"<p><span class='verdict {css}'>{_esc(text)}</span>{tail}</p>{untested}"


def _meta(report: DriftReport) -> str:
    ref = report.sources.get("reference", "reference")
    cur = report.sources.get("current", "current")
    stamp = report.created_at.strftime("%Y-%m-%d %H:%M UTC")
    run = f" · run {_esc(report.run_id)}" if report.run_id else ""
    return (
        f"<p class='muted'>Reference: {_esc(ref)} ({report.reference_rows:,} rows) · "
        f"Current: {_esc(cur)} ({report.current_rows:,} rows) · {stamp}{run}</p>"
    )


def _table(frame: pd.DataFrame, *, index_label: str, row_class: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in [index_label, *frame.columns])
    rows = []
    for n, (index, row) in enumerate(frame.iterrows()):
        css = f" class='{row_class[n]}'" if row_class and row_class[n] else ""
        cells = [f"<td>{_esc(index)}</td>"]
        for value in row:
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(
                f"<td class='num'>{_number(value)}</td>"
                if numeric
                else f"<td>{_esc(value if value is not None else '')}</td>"
            )
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _column_table(report: DriftReport) -> str:
    cols = report.columns
    shown = cols[["role", "kind", "test", "statistic", "p_value", "threshold", "drifted", "status"]]
    shown = shown.assign(
        drifted=["yes" if d else "" for d in shown["drifted"]],
        test=[t if t is not None else "—" for t in shown["test"]],
    )
    classes = ["drifted" if d else "" for d in cols["drifted"]]
    return _table(shown, index_label="column", row_class=classes)


def _performance(report: DriftReport) -> str:
    if report.performance is None:
        return ""
    frame = report.performance.dropna(axis=1, how="all")
    note = ""
    if "estimated" in frame.columns:
        note = (
            "<p class='muted'>estimated: expected on current data from calibrated confidence "
            "(no labels yet).</p>"
        )
    return f"<h3>Performance ({_esc(report.task)})</h3>{_table(frame, index_label='metric')}{note}"


def _problems(report: DriftReport) -> str:
    problems = report.problems
    if problems.empty:
        return ""
    items = "".join(
        f"<li><b>{_esc(c)}</b> ({_esc(row['status'])}): {_esc(row['note'])}</li>"
        for c, row in problems.iterrows()
    )
    return f"<h3>Columns to look at</h3><ul>{items}</ul>"


def _legend() -> str:
    return (
        f"<p class='legend muted'><span style='background:{REFERENCE_COLOR}'></span>reference"
        f"<span style='background:{CURRENT_COLOR}'></span>current (shares of rows)</p>"
    )


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
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        for j, (value, color) in enumerate(((r, REFERENCE_COLOR), (c, CURRENT_COLOR))):
            h = plot_h * value / top
            x = i * slot + j * bar
            side = "reference" if j == 0 else "current"
            parts.append(
                f"<rect x='{x:.1f}' y='{plot_h - h:.1f}' width='{bar:.1f}' height='{h:.1f}' "
                f"fill='{color}'><title>{_esc(labels[i])}: {side} {value:.3%}</title></rect>"
            )
    if distribution["type"] == "numeric":
        edges = distribution["edges"]
        axis = (
            f"<text x='0' y='{height - 4}' font-size='10'>{edges[0]:.4g}</text>"
            f"<text x='{width}' y='{height - 4}' font-size='10' text-anchor='end'>"
            f"{edges[-1]:.4g}</text>"
        )
    else:
        shown = ", ".join(labels[:6]) + (" …" if len(labels) > 6 else "")
        axis = f"<text x='0' y='{height - 4}' font-size='10'>{_esc(shown[:70])}</text>"
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img'>{''.join(parts)}"
        f"<line x1='0' y1='{plot_h}' x2='{width}' y2='{plot_h}' stroke='#999'/>{axis}</svg>"
    )


def _plot_title(column: str, row: pd.Series) -> str:
    verdict = "drift" if row["drifted"] else "no drift"
    score = row["p_value"] if not math.isnan(row["p_value"]) else row["statistic"]
    return f"{column} — {row['test']} {_number(score)} ({verdict})"


def _static_plots(report: DriftReport, limit: int | None) -> str:
    names = list(report.distributions)
    order = sorted(names, key=lambda c: not bool(report.columns.loc[c, "drifted"]))
    shown = order if limit is None else order[:limit]
    cells = [
        f"<div class='plot'><div>{_esc(_plot_title(c, report.column_row(c)))}</div>"
        f"{svg_bars(report.distributions[c])}</div>"
        for c in shown
    ]
    more = (
        f"<p class='muted'>{len(order) - len(shown)} more columns in the full report "
        "(save_html).</p>"
        if len(shown) < len(order)
        else ""
    )
    return f"<div class='plots'>{''.join(cells)}</div>{more}"


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


def _interactive_plots(report: DriftReport) -> str:
    cells = []
    for n, column in enumerate(report.distributions):
        figure = column_figure(column, report.distributions[column], report.column_row(column))
        spec = json.loads(figure.to_json())
        cells.append(
            f"<div class='plot' id='wb-plot-{n}' style='width:520px;height:260px'></div>"
            f"<script>Plotly.newPlot('wb-plot-{n}',{_script_json(spec['data'])},"
            f"{_script_json(spec['layout'])},{{displaylogo:false,responsive:true}});</script>"
        )
    return f"<div class='plots'>{''.join(cells)}</div>"


def _body(report: DriftReport, plots: str) -> str:
    title = _esc(report.name or "Drift report")
    return (
        f"<div class='wb-drift'><h2>{title}</h2>{_verdict(report)}{_meta(report)}"
        f"{_performance(report)}{_problems(report)}<h3>Columns</h3>{_column_table(report)}"
        f"<h3>Distributions</h3>{_legend()}{plots}</div>"
    )


def render_fragment(report: DriftReport) -> str:
    """The report as an HTML fragment with static plots (notebooks, Panel)."""
    return f"<style>{_CSS}</style>{_body(report, _static_plots(report, MAX_FRAGMENT_PLOTS))}"


def render_report(report: DriftReport, *, interactive: bool) -> str:
    """The report as a complete, self-contained HTML page."""
    head = f"<meta charset='utf-8'><title>{_esc(report.name or 'Drift report')}</title>"
    head += f"<style>{_CSS}</style>"
    if interactive and report.distributions:
        from plotly.offline import get_plotlyjs

        head += f"<script type='text/javascript'>{get_plotlyjs()}</script>"
        plots = _interactive_plots(report)
    else:
        plots = _static_plots(report, None)
    return f"<!DOCTYPE html><html><head>{head}</head><body>{_body(report, plots)}</body></html>"
