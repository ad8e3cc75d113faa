"""Self-contained HTML pages for the sidebar's main-area tabs.

Each page is the HTML export of the object a person would look at in a notebook: a run
comparison (``workbench.compare(...).to_html()``), a run, a model card, a sweep, a drift report
(``DriftReport.to_html()``). JupyterLab shows it in a sandboxed iframe, so the page runs its own
scripts (plotly) and nothing else: it cannot reach JupyterLab or its credentials.

plotly.js (4.6 MB) is not inlined in every page: ``plotly_src`` names a script URL (the server
extension serves plotly.py's bundled copy at ``<base_url>workbench/static/plotly.min.js``, so
the browser caches it once). Without ``plotly_src`` pages inline it and work anywhere offline.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import workbench as wb
from workbench import _validation as v
from workbench.compare import compare
from workbench.compare.comparison import figure_html
from workbench.exceptions import InvalidParameterError

__all__ = ["VIEW_KINDS", "render_view"]

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


def _compare(ident: str, plotly_src: str | None) -> str:
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
    body = comparison.to_html(plotlyjs="none")
    return _page(f"Compare {len(ids)} runs", body, plotly_src, needs_plotly=True)


def _run(ident: str, plotly_src: str | None) -> str:
    run = wb.get_run(ident)
    figures = compare([ident]).figures()
    body = run._repr_html_() + "".join(figure_html(f) for f in figures.values())
    return _page(f"Run {run.name}", body, plotly_src, needs_plotly=bool(figures))


def _model(ident: str, plotly_src: str | None) -> str:
    card = wb.model_card(ident)
    return _page(f"Model {ident}", card.to_html(full_document=False), None, needs_plotly=False)


def _sweep(ident: str, plotly_src: str | None) -> str:
    from workbench.sweeps import plots

    sweep = wb.load_sweep(ident)
    body = sweep._repr_mimebundle_()["text/html"]
    figures = []
    if sweep.counts().get("complete", 0):
        figures.append(plots.plot_optimization_history(sweep))
        if len(sweep.metric_names) == 1:
            figures.append(plots.plot_parallel_coordinates(sweep))
    body += "".join(figure_html(f) for f in figures)
    return _page(f"Sweep {ident}", body, plotly_src, needs_plotly=bool(figures))


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
