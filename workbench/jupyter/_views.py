"""Self-contained HTML pages for the sidebar's main-area tabs.

Each page is the HTML export of the object a person would look at in a notebook: a run
comparison (``workbench.compare(...).to_html()``), a run, a model card, a sweep, a drift report
(``DriftReport.to_html()``). JupyterLab shows it in a sandboxed iframe, so the page runs its own
scripts (plotly) and nothing else: it cannot reach JupyterLab or its credentials.

plotly.js (4.6 MB) is not inlined in every page: ``plotly_src`` names a script URL (the server
extension serves plotly.py's bundled copy at ``<base_url>workbench/static/plotly.min.js``).
Without ``plotly_src`` pages inline it and work anywhere offline.

The sidebar itself asks for :func:`render_view_parts` instead when a view has figures: the
HTML part (tables, no script) and the figures as plotly JSON. It shows the HTML sanitized and
draws the figures in the JupyterLab page with one plotly.js, loaded once per session. A
sandboxed iframe has an opaque origin, so Chromium neither shares nor caches plotly.min.js
between iframes: each view parsed 4.6 MB of script again (4.3-9.7 s to draw a comparison,
of which 0.28 s was the server; docs/jupyter.md).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import workbench as wb
from workbench import _validation as v
from workbench.compare import compare
from workbench.compare.comparison import figure_html
from workbench.exceptions import InvalidParameterError

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["FIGURE_KINDS", "VIEW_KINDS", "render_view", "render_view_parts"]

MAX_COMPARED_RUNS = 50
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 13px;
       margin: 12px 16px; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; }
h1 { font-size: 18px; } h2 { font-size: 15px; }
"""


def _page(title: str, body: str, plotly_src: str | None, *, needs_plotly: bool) -> str:
    script = ""
    if needs_plotly:
        if plotly_src:
            script = f'<script type="text/javascript" src="{html.escape(plotly_src)}"></script>'
        else:
            from plotly.offline import get_plotlyjs

            script = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{script}</head>"
        f"<body data-workbench-view='{html.escape(title)}'>{body}</body></html>"
    )


def _compare_parts(ident: str) -> tuple[str, str, list[go.Figure]]:
    ids = [i.strip() for i in ident.split(",") if i.strip()]
    if not ids or len(ids) > MAX_COMPARED_RUNS:
        raise v.fail(
            "runs",
            "views/compare",
            f"1 to {MAX_COMPARED_RUNS} comma-separated run ids",
            ident,
            "Select runs in the sidebar, then Compare.",
        )
    for run_id in ids:
        wb.get_run(run_id)  # RunNotFoundError (404) names the missing id
    comparison = compare(ids)
    return (
        f"Compare {len(ids)} runs",
        comparison.summary_html(),
        list(comparison.figures().values()),
    )


def _run_parts(ident: str) -> tuple[str, str, list[go.Figure]]:
    run = wb.get_run(ident)
    return f"Run {run.name}", run._repr_html_(), list(compare([ident]).figures().values())


def _sweep_parts(ident: str) -> tuple[str, str, list[go.Figure]]:
    from workbench.sweeps import plots

    sweep = wb.load_sweep(ident)
    figures = []
    if sweep.counts().get("complete", 0):
        figures.append(plots.plot_optimization_history(sweep))
        if len(sweep.metric_names) == 1:
            figures.append(plots.plot_sweep_parallel_coordinates(sweep))
    return f"Sweep {ident}", sweep._repr_mimebundle_()["text/html"], figures


# Views with figures: a title, an HTML part and plotly figures.
FIGURE_KINDS: dict[str, Callable[[str], tuple[str, str, list[go.Figure]]]] = {
    "compare": _compare_parts,
    "run": _run_parts,
    "sweep": _sweep_parts,
}


def _with_figures(kind: str) -> Callable[[str, str | None], str]:
    def render(ident: str, plotly_src: str | None) -> str:
        title, body, figures = FIGURE_KINDS[kind](ident)
        body += "".join(figure_html(f) for f in figures)
        return _page(title, body, plotly_src, needs_plotly=bool(figures))

    return render


_compare = _with_figures("compare")
_run = _with_figures("run")
_sweep = _with_figures("sweep")


def _model(ident: str, plotly_src: str | None) -> str:
    card = wb.model_card(ident)
    return _page(f"Model {ident}", card.to_html(full_document=False), None, needs_plotly=False)


def _drift(ident: str, plotly_src: str | None) -> str:
    report = wb.load_drift_report(ident)
    # The static page (SVG plots, tens of KB) is the one the report keeps; it needs no script.
    return report.to_html(interactive=False)


VIEW_KINDS: dict[str, Callable[[str, str | None], str]] = {
    "compare": _compare,
    "run": _run,
    "model": _model,
    "sweep": _sweep,
    "drift": _drift,
}


def render_view(kind: str, ident: str, *, plotly_src: str | None = None) -> str:
    """The HTML page of one object: ``kind`` is compare (ids joined by commas), run (an id),
    model (a model URI such as ``churn@champion`` or ``churn/3``), sweep (a name) or drift (the
    run id of a kept drift report)."""
    render = VIEW_KINDS.get(kind)
    if render is None:
        raise InvalidParameterError(
            f"Unknown view {kind!r}; the views are {', '.join(sorted(VIEW_KINDS))}."
        )
    if not ident:
        raise v.fail("id", f"views/{kind}", "a non-empty identifier", ident)
    return render(ident, plotly_src)


def render_view_parts(kind: str, ident: str) -> dict[str, Any]:
    """The parts of a view with figures (compare, run, sweep), for the sidebar to draw in the
    JupyterLab page: ``{"kind", "title", "html", "figures"}``, ``html`` without scripts (the
    sidebar sanitizes it anyway) and ``figures`` as plotly JSON (``data``, ``layout``)."""
    parts = FIGURE_KINDS.get(kind)
    if parts is None:
        raise InvalidParameterError(
            f"View {kind!r} has no figures to draw in the page; the views with figures are "
            f"{', '.join(sorted(FIGURE_KINDS))} (every view is also a page: views/{kind}/<id>)."
        )
    if not ident:
        raise v.fail("id", f"views/{kind}", "a non-empty identifier", ident)
    title, body, figures = parts(ident)
    return {
        "kind": kind,
        "title": title,
        "html": body,
        "figures": [json.loads(f.to_json()) for f in figures],
    }
