"""``compare(runs)``: several runs side by side, as one object that shows itself anywhere.

A :class:`RunComparison` renders in a notebook cell (``_repr_mimebundle_``: text, an HTML
summary and the figures), in Panel and the dashboard (``__panel__``), and exports to a
self-contained HTML file (``save_html``).

How figures reach a notebook (see docs/ui.md): where JupyterLab's plotly renderer is installed
(the ``jupyterlab-plotly`` extension that ships with plotly, found in the kernel's Jupyter data
paths), the default mode ``"auto"`` shows the tables as HTML and each figure as plotly's own mime
bundle (``application/vnd.plotly.v1+json``, the figure's JSON: a few KB), drawn by the renderer's
copy of plotly.js, so no output carries plotly.js. Without the renderer, figures in the HTML
output need plotly.js, which must not come from a CDN (notebooks here are offline) and must not
be copied into every output (a saved notebook would grow by 4.6 MB per cell): ``"auto"`` then
acts as ``"once"``, which embeds plotly.js in the first comparison shown by a Python process and
makes later outputs wait for it, so a saved or papermill-executed notebook carries it once.
``"mimetype"`` always uses the mime bundle, ``"none"`` never embeds plotly.js (the outputs stay
a few KB: tables, and figures wherever plotly.js is already loaded), ``"inline"`` embeds it in
every output, ``"cdn"`` links plotly's CDN. The environment variable ``WORKBENCH_PLOTLYJS`` sets
the mode too (useful for papermill runs).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench import _validation as v
from workbench._html import render, safe
from workbench.compare import _data, plots
from workbench.exceptions import RunNotFoundError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.tracking.client import TrackingClient

__all__ = [
    "PLOTLYJS_MODES",
    "RunComparison",
    "compare",
    "plotly_renderer_installed",
    "set_plotlyjs",
]

PLOTLYJS_MODES = ("auto", "mimetype", "once", "inline", "cdn", "none")
PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_LABEXTENSION = "jupyterlab-plotly"
PLOTLY_CDN = "https://cdn.plot.ly/plotly-3.0.1.min.js"
_state: dict[str, Any] = {"mode": None, "embedded": False}
_state_lock = threading.Lock()
_figure_ids = itertools.count()


def set_plotlyjs(mode: str | None) -> None:
    """How notebook outputs show figures: ``"auto"`` (default), ``"mimetype"``, ``"once"``,
    ``"inline"``, ``"cdn"``, ``"none"`` (see the module docstring); ``None`` goes back to
    ``WORKBENCH_PLOTLYJS`` or the default.

    ``"once"`` embeds it in the first comparison output of the process only; call
    ``set_plotlyjs("once")`` again to embed it in the next output (e.g. after clearing the
    output that held it).
    """
    if mode is not None and mode not in PLOTLYJS_MODES:
        raise v.fail("mode", "set_plotlyjs", f"one of {PLOTLYJS_MODES} or None", mode)
    with _state_lock:
        _state["mode"] = mode
        _state["embedded"] = False


@functools.cache
def plotly_renderer_installed() -> bool:
    """Whether JupyterLab's plotly renderer (the ``jupyterlab-plotly`` extension) is installed
    where this Python's Jupyter looks for extensions."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:  # no Jupyter here at all
        return False
    return any(
        (Path(folder) / PLOTLY_LABEXTENSION / "package.json").is_file()
        for folder in jupyter_path("labextensions")
    )


def _plotlyjs_mode() -> str:
    """The mode in force, with ``"auto"`` resolved to ``"mimetype"`` or ``"once"``."""
    mode = _state["mode"] or os.environ.get("WORKBENCH_PLOTLYJS", "auto").strip().lower()
    if mode not in PLOTLYJS_MODES:
        mode = "auto"
    if mode == "auto":
        return "mimetype" if plotly_renderer_installed() else "once"
    return str(mode)


def figure_bundle(fig: go.Figure, title: str = "figure") -> dict[str, Any]:
    """Plotly's mime bundle for ``fig`` (drawn by JupyterLab's plotly renderer), with a text
    line for frontends without it."""
    spec = json.loads(fig.to_json())
    spec["config"] = {"responsive": True, "displaylogo": False}
    return {PLOTLY_MIME: spec, "text/plain": f"<plotly figure: {title}>"}


def _plotlyjs_for_output() -> str:
    """The script to put before the figures of one notebook output ("" for none)."""
    mode = _plotlyjs_mode()
    with _state_lock:
        if mode == "once" and _state["embedded"]:
            return ""
        if mode == "once":
            _state["embedded"] = True
    if mode in ("once", "inline"):
        from plotly.offline import get_plotlyjs

        return f'<script type="text/javascript">{get_plotlyjs()}</script>'
    if mode == "cdn":
        return f'<script type="text/javascript" src="{PLOTLY_CDN}"></script>'
    return ""


def figure_html(fig: go.Figure, *, height: int | None = None) -> str:
    """A ``<div>`` drawing ``fig`` with whatever plotly.js the page has, waiting up to 60 s.

    Unlike plotly's own ``to_html(include_plotlyjs=False)``, it does not fail when plotly.js
    arrives after the figure (a later output rendered first, or the first output still loading).
    """
    div_id = f"wb-fig-{os.getpid()}-{next(_figure_ids)}"
    spec = fig.to_json().replace("</", "<\\/")
    height = height or int(fig.layout.height or 420)
    return (
        f'<div id="{div_id}" class="wb-figure" style="height:{height}px;width:100%"></div>'
        '<script type="text/javascript">(function(){'
        f'var id="{div_id}", fig={spec}, tries=0;'
        "function draw(){var el=document.getElementById(id);if(!el){return;}"
        "if(window.Plotly){window.Plotly.newPlot(el,fig.data,fig.layout,"
        "{responsive:true,displaylogo:false});}"
        "else if(++tries<600){setTimeout(draw,100);}"
        "else{el.textContent='plotly.js is not loaded on this page: see docs/ui.md "
        "(workbench.compare.set_plotlyjs).';}}draw();})();</script>"
    )


class RunComparison:
    """Runs side by side: differing params, final metrics, curves and figures.

    Build it with :func:`compare`. Tables are DataFrames (``params()``, ``metrics()``,
    ``curves()``); figures are plotly figures (``plot_*``). The metric history is read once and
    cached; ``refresh()`` reads runs and history again (for runs still logging).

    Attributes
    ----------
    runs
        The runs table (``search_runs`` columns), one row per run, in the order given.
    client
        The workbench client the runs were read from.
    """

    def __init__(self, runs: pd.DataFrame, *, client: TrackingClient | None = None) -> None:
        self.runs = runs.reset_index(drop=True)
        self._client = client
        self._history: pd.DataFrame | None = None

    @property
    def client(self) -> TrackingClient:
        if self._client is None:
            from workbench.tracking.client import client_for

            self._client = client_for()
        return self._client

    # -- identity ---------------------------------------------------------------------------
    @property
    def run_ids(self) -> list[str]:
        return [str(r) for r in self.runs["run_id"]] if "run_id" in self.runs else []

    @property
    def labels(self) -> list[str]:
        """One unique display label per run, in order."""
        return _data.run_labels(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        if self.runs.empty:
            return "RunComparison(no runs)"
        differing = list(self.params().index)
        return (
            f"RunComparison({len(self)} runs: {', '.join(self.labels[:5])}"
            + (", ..." if len(self) > 5 else "")
            + f"; {len(differing)} differing params {differing[:5]}"
            + f"; metrics {_data.metric_keys(self.runs)[:5]})"
        )

    # -- data -------------------------------------------------------------------------------
    def params(self, *, differing_only: bool = True) -> pd.DataFrame:
        """Params side by side (only those that differ, unless ``differing_only=False``)."""
        return _data.param_table(self.runs, differing_only=differing_only)

    def metrics(self, keys: Sequence[str] | None = None) -> pd.DataFrame:
        """Final (latest) metric values side by side."""
        return _data.metric_table(self.runs, keys=keys)

    def history(self) -> pd.DataFrame:
        """Every logged metric point of the runs (read once, then cached)."""
        if self._history is None:
            self._history = (
                self.client.get_metric_history(self.run_ids)
                if self.run_ids
                else pd.DataFrame(columns=["run_id", "key", "step", "value", "timestamp"])
            )
        return self._history

    def curves(
        self, *, keys: Sequence[str] | None = None, x: str = "step", smoothing: float = 0.0
    ) -> pd.DataFrame:
        """Aligned (and optionally smoothed) metric curves; see :func:`._data.metric_curves`."""
        return _data.metric_curves(self.history(), self.runs, keys=keys, x=x, smoothing=smoothing)

    def refresh(self) -> RunComparison:
        """Read the runs and their history again (runs still logging change); returns self."""
        if self.run_ids:
            self.runs = _fetch_runs(self.client, self.run_ids)
        self._history = None
        return self

    # -- figures ----------------------------------------------------------------------------
    def plot_metric_history(self, **kwargs: Any) -> go.Figure:
        """See :func:`workbench.compare.plot_metric_history`."""
        return plots.plot_metric_history(self, **kwargs)

    def plot_parallel_coordinates(self, **kwargs: Any) -> go.Figure:
        """See :func:`workbench.compare.plot_parallel_coordinates`."""
        return plots.plot_parallel_coordinates(self, **kwargs)

    def plot_param_vs_metric(self, param: str, metric: str, **kwargs: Any) -> go.Figure:
        """See :func:`workbench.compare.plot_param_vs_metric`."""
        return plots.plot_param_vs_metric(self, param, metric, **kwargs)

    def plot_final_metrics(self, **kwargs: Any) -> go.Figure:
        """See :func:`workbench.compare.plot_final_metrics`."""
        return plots.plot_final_metrics(self, **kwargs)

    def default_param_and_metric(self) -> tuple[str | None, str | None]:
        """The param and metric a first param-vs-metric view shows: the first differing
        numeric param (else any differing param) and the first metric."""
        metrics = _data.metric_keys(self.runs)
        candidates = list(self.params().index) or _data.param_keys(self.runs)
        numeric = [p for p in candidates if _data._is_numeric(self.runs[_data.PARAM_PREFIX + p])]
        param = (numeric or candidates or [None])[0]
        return param, (metrics[0] if metrics else None)

    def figures(self) -> dict[str, go.Figure]:
        """The overview figures shown in a notebook, by name (empty views left out)."""
        figures: dict[str, go.Figure] = {}
        if self.runs.empty:
            return figures
        if _data.curve_keys(self.history()):  # single values are the final-metrics bars
            figures["metric_history"] = self.plot_metric_history()
        if _data.metric_keys(self.runs):
            figures["final_metrics"] = self.plot_final_metrics()
        if len(self) > 1 and (not self.params().empty or _data.metric_keys(self.runs)):
            figures["parallel_coordinates"] = self.plot_parallel_coordinates()
        param, metric = self.default_param_and_metric()
        if len(self) > 1 and param is not None and metric is not None:
            figures["param_vs_metric"] = self.plot_param_vs_metric(param, metric)
        return figures

    # -- output -----------------------------------------------------------------------------
    def summary_html(self) -> str:
        """The tables as HTML: differing params (all params in a toggle) and final metrics."""
        if self.runs.empty:
            return render("comparison.html.j2", n_runs=0)
        return render(
            "comparison.html.j2",
            n_runs=len(self),
            experiments=sorted({str(x) for x in self.runs.get("experiment", [])}),
            differing_title="Params that differ" if len(self) > 1 else "Params",
            differing=_table(self.params()),
            all_params=_table(self.params(differing_only=False)),
            metrics=_table(self.metrics()),
        )

    def to_html(self, *, plotlyjs: str = "inline") -> str:
        """The comparison as an HTML fragment; ``plotlyjs`` as for :func:`set_plotlyjs`
        (``"inline"``: works offline on its own)."""
        if plotlyjs not in PLOTLYJS_MODES:
            raise v.fail("plotlyjs", "RunComparison.to_html", f"one of {PLOTLYJS_MODES}", plotlyjs)
        figures = self.figures()
        script = ""
        if figures and plotlyjs == "inline":
            from plotly.offline import get_plotlyjs

            script = f'<script type="text/javascript">{get_plotlyjs()}</script>'
        elif figures and plotlyjs == "cdn":
            script = f'<script type="text/javascript" src="{PLOTLY_CDN}"></script>'
        return self.summary_html() + script + "".join(figure_html(f) for f in figures.values())

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a self-contained HTML page (plotly.js inline; opens offline)."""
        target = Path(path)
        page = render("page.html.j2", title=repr(self), body=safe(self.to_html(plotlyjs="inline")))
        target.write_text(page, encoding="utf-8")
        return target

    def _ipython_display_(self) -> None:
        """In IPython: the tables as HTML and, in the ``mimetype`` mode, each figure as plotly's
        mime bundle (one output each); otherwise :meth:`_repr_mimebundle_`."""
        from IPython import display as ipython_display

        display: Any = ipython_display.display  # untyped
        if _plotlyjs_mode() != "mimetype":
            display(self._repr_mimebundle_(), raw=True)
            return
        display({"text/plain": repr(self), "text/html": self.summary_html()}, raw=True)
        for name, figure in self.figures().items():
            display(figure_bundle(figure, name.replace("_", " ")), raw=True)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        figures = self.figures()
        script = _plotlyjs_for_output() if figures else ""
        body = self.summary_html() + script + "".join(figure_html(f) for f in figures.values())
        return {"text/plain": repr(self), "text/html": body}

    def __panel__(self) -> Any:
        """The interactive comparison widget (needs ``pip install workbench[ui]``)."""
        try:
            from workbench.ui.widgets.run_compare import RunCompare
        except ImportError as exc:
            raise ImportError(
                f"Showing a comparison in Panel requires panel ({exc}). Install it with "
                "`pip install workbench[ui]`."
            ) from None
        return RunCompare(comparison=self)


def _table(table: pd.DataFrame) -> dict[str, Any]:
    """A params or metrics table as the comparison template shows it (cells as text)."""
    rows = [
        (str(key), [_data.format_value(x) for x in row])
        for key, row in zip(table.index, table.itertuples(index=False), strict=True)
    ]
    return {"columns": [str(c) for c in table.columns], "rows": [] if table.empty else rows}


def _fetch_runs(client: TrackingClient, run_ids: Sequence[str]) -> pd.DataFrame:
    quoted = ", ".join("'" + r.replace("'", "''") + "'" for r in run_ids)
    found = client.search_runs(filter=f"run_id IN ({quoted})", max_results=None)
    missing = [r for r in run_ids if r not in set(found["run_id"])]
    if missing:
        raise RunNotFoundError(
            f"No run with id {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ". Find ids with workbench.search_runs()."
        )
    order = {r: i for i, r in enumerate(run_ids)}
    found = found.assign(_order=found["run_id"].map(order)).sort_values("_order")
    return found.drop(columns="_order").reset_index(drop=True)


def _run_ids(runs: Iterable[Any], caller: str) -> list[str]:
    ids: list[str] = []
    for item in runs:
        run_id = item if isinstance(item, str) else getattr(item, "run_id", None)
        if not isinstance(run_id, str) or not run_id:
            raise v.fail(
                "runs",
                caller,
                "run ids, Run objects, a search_runs DataFrame or a sweep",
                item,
                "e.g. workbench.compare(workbench.search_runs('churn', max_results=5)).",
            )
        ids.append(run_id)
    return list(dict.fromkeys(ids))


def compare(runs: Any, *, client: TrackingClient | None = None) -> RunComparison:
    """Compare runs: differing params, final metrics, curves, parallel coordinates, ...

    Parameters
    ----------
    runs
        Run ids (a list, or one id), ``Run`` objects, a DataFrame from ``search_runs`` (any
        DataFrame with a ``run_id`` column; rows missing params/metrics columns are read from
        the store), a sweep (anything with a ``runs()`` method returning such a DataFrame), or a
        ``RunComparison``.
    client
        The workbench client to read from (default: the sweep's, else ``workbench.connect()``).

    Returns
    -------
    RunComparison
        Shows itself in a notebook; ``plot_*`` methods return plotly figures.

    Examples
    --------
    >>> df = workbench.search_runs("churn", order_by="metrics.auc DESC", max_results=5)
    >>> workbench.compare(df)  # doctest: +SKIP
    """
    caller = "compare"
    if isinstance(runs, RunComparison):
        return runs
    if client is None and callable(getattr(runs, "runs", None)):
        client = getattr(runs, "client", None)
    from workbench.tracking.client import resolve_client

    client = resolve_client(client, caller)
    if callable(getattr(runs, "runs", None)) and not isinstance(runs, pd.DataFrame):
        runs = runs.runs()
        if not isinstance(runs, pd.DataFrame):
            raise v.fail("runs", caller, "a sweep whose runs() returns a DataFrame", runs)
    if isinstance(runs, pd.DataFrame):
        if runs.empty:
            return RunComparison(
                runs.assign(run_id=[]) if "run_id" not in runs else runs, client=client
            )
        if "run_id" not in runs:
            raise v.fail("runs", caller, "a DataFrame with a run_id column", list(runs.columns))
        has_values = any(c.startswith(("params.", "metrics.")) for c in runs.columns)
        if has_values and "name" in runs:
            return RunComparison(runs.drop_duplicates("run_id"), client=client)
        return RunComparison(_fetch_runs(client, _run_ids(runs["run_id"], caller)), client=client)
    if isinstance(runs, str) or hasattr(runs, "run_id"):
        runs = [runs]
    if not isinstance(runs, Iterable):
        raise v.fail("runs", caller, "run ids, a search_runs DataFrame or a sweep", runs)
    ids = _run_ids(runs, caller)
    if not ids:
        return RunComparison(pd.DataFrame({"run_id": []}), client=client)
    return RunComparison(_fetch_runs(client, ids), client=client)
