"""How a ``Sweep`` shows itself in a notebook: a summary table and a small history chart.

The chart is a hand-written SVG (a few KB), not a plotly figure: an HTML plotly output must
carry plotly.js inline (≈4.7 MB per output, saved into the notebook), load it from a CDN (blank
offline), or use RequireJS (absent in JupyterLab 4); a plotly mime bundle would replace the
summary rather than sit next to it. SVG renders everywhere (JupyterLab, VS Code, nbviewer,
GitHub, papermill outputs) without JavaScript. The interactive figure is one call away:
``workbench.sweeps.plot_optimization_history(sweep)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from workbench._html import render, safe
from workbench.sweeps import _data
from workbench.sweeps._trial import RUN_ID_ATTR

if TYPE_CHECKING:
    from workbench.sweeps._result import Sweep

__all__ = ["history_svg", "sweep_html"]

WIDTH, HEIGHT, PAD = 360, 150, 28
MAX_POINTS = 1000


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _param(value: object) -> str:
    return _fmt(value) if isinstance(value, float) else repr(value)


def history_svg(numbers: list[int], values: list[float], best: list[float]) -> str:
    """An SVG scatter of ``values`` by trial number with the best-so-far step line."""
    if not numbers:
        return ""
    step = max(1, math.ceil(len(numbers) / MAX_POINTS))
    xs, ys, bs = numbers[::step], values[::step], best[::step]
    x0, x1 = min(numbers), max(numbers)
    y0, y1 = min(values), max(values)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def px(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * (WIDTH - 2 * PAD)

    def py(y: float) -> float:
        return HEIGHT - PAD + (y - y0) / (y1 - y0) * (2 * PAD - HEIGHT)

    dots = [(f"{px(x):.1f}", f"{py(y):.1f}") for x, y in zip(xs, ys, strict=True)]
    steps = [*zip(xs, bs, strict=True), (numbers[-1], best[-1])]
    path = f"M{px(steps[0][0]):.1f} {py(steps[0][1]):.1f}" + "".join(
        f"H{px(x):.1f}V{py(b):.1f}" for x, b in steps[1:]
    )
    return render(
        "sweep_history.svg.j2",
        width=WIDTH,
        height=HEIGHT,
        pad=PAD,
        x0=x0,
        x1=x1,
        y0=_fmt(y0),
        y1=_fmt(y1),
        dots=dots,
        path=path,
    )


def sweep_html(sweep: Sweep) -> str:
    """The notebook summary of a sweep."""
    counts = sweep.counts()
    trials = sweep._trials()
    directions = zip(sweep.metric_names, sweep.directions, strict=True)
    states = ", ".join(f"{n} {k}" for k, n in counts.items() if n and k != "total")
    rows: list[tuple[str, Any]] = [
        ("experiment", sweep.experiment),
        ("directions", ", ".join(f"{n}: {d}" for n, d in directions)),
        ("trials", f"{counts['total']} ({states})"),
        ("storage", sweep.storage_label),
    ]
    chart = ""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete and not sweep.is_multi_objective:
        best = sweep.study.best_trial
        run_id = best.user_attrs.get(RUN_ID_ATTR)
        value = render("_inline.html.j2", tag="b", text=_fmt(best.value or 0.0))
        rows.append(("best value", safe(f"{value} (trial {best.number})")))
        rows.append(("best params", ", ".join(f"{k}={_param(v)}" for k, v in best.params.items())))
        if run_id:
            rows.append(("best run", safe(render("_inline.html.j2", tag="code", text=str(run_id)))))
        data = _data.optimization_history(trials, sweep.directions[0])
        chart = history_svg(
            data["number"].tolist(), data["value"].tolist(), data["best_value"].tolist()
        )
    elif complete:
        front = sweep.study.best_trials
        rows.append(("Pareto front", f"{len(front)} trial(s): {[t.number for t in front][:20]}"))
    return render("sweep.html.j2", name=sweep.name, rows=rows, chart=safe(chart))
