"""``RunCompare``: the interactive view of a :class:`~workbench.compare.RunComparison`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import panel as pn
import param

from workbench.compare import _data, plots
from workbench.compare.comparison import RunComparison, compare
from workbench.exceptions import WorkbenchError
from workbench.ui._common import error_text, figure_pane, get_client, message

if TYPE_CHECKING:
    from workbench.client import Workbench

__all__ = ["RunCompare"]

_NONE = "(none)"
_X_LABELS = {"step": "step", "time": "time", "relative": "relative"}


class RunCompare(pn.viewable.Viewer):
    """Compare runs: params that differ, final metrics, curves, parallel coordinates, scatter.

    Give either ``comparison`` (from ``workbench.compare``) or ``runs`` (run ids); setting
    ``runs`` later reads those runs. Every figure is a plotly figure from
    :mod:`workbench.compare.plots`.

    Parameters
    ----------
    comparison
        A ``RunComparison`` to show.
    client
        The workbench client used to read ``runs`` (default: the configured store).
    """

    runs = param.List(default=[], item_type=str, doc="Ids of the runs to compare.")
    comparison = param.ClassSelector(class_=RunComparison, allow_None=True, doc="What is shown.")
    metrics = param.List(default=[], item_type=str, doc="Metrics drawn as curves (all if empty).")
    x: str = param.Selector(  # type: ignore[assignment]
        default="step", objects=list(_data.X_AXES), doc="x axis of the curves."
    )
    smoothing = param.Number(default=0.0, bounds=(0.0, 0.99), doc="EMA smoothing of curves.")
    show_all_params = param.Boolean(default=False, doc="Show equal params too.")
    param_x = param.String(default="", doc="Param on the x axis of the param-vs-metric view.")
    param_y = param.String(default="", doc="Second param (contour); empty for a scatter.")
    metric = param.String(default="", doc="Metric of the param-vs-metric view.")

    def __init__(
        self,
        comparison: RunComparison | None = None,
        *,
        client: Workbench | None = None,
        **params: Any,
    ) -> None:
        if comparison is not None:
            params["comparison"] = comparison
            params.setdefault("runs", comparison.run_ids)
        super().__init__(**params)
        self._client = client if client is not None or comparison is None else comparison.client
        self._layout = pn.Column(sizing_mode="stretch_width", css_classes=["wb-run-compare"])
        self._error: str | None = None
        if self.comparison is None and self.runs:
            self._load()
        self._render()

    # -- data -------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            self._error = None
            self.comparison = compare(list(self.runs), client=get_client(self._client))
        except WorkbenchError as exc:
            self._error = error_text(exc)
            self.comparison = None

    @param.depends("runs", watch=True)
    def _on_runs(self) -> None:
        current = self.comparison.run_ids if self.comparison is not None else []
        if list(self.runs) != current:
            self._load()

    @param.depends("comparison", watch=True)
    def _on_comparison(self) -> None:
        self._render()

    # -- rendering --------------------------------------------------------------------------
    def _render(self) -> None:
        comparison = self.comparison
        if comparison is None or comparison.runs.empty:
            text = (
                f"**Cannot compare these runs.** {self._error}"
                if self._error
                else "**No runs to compare.** Select runs in the runs table (or pass run ids) "
                "to see their params, metrics and curves side by side."
            )
            self._layout.objects = [message(text, kind="warning" if self._error else "light")]
            return
        param_x, metric = comparison.default_param_and_metric()
        with param.parameterized.discard_events(self):
            if self.param_x not in _data.param_keys(comparison.runs):
                self.param_x = param_x or ""
            if self.metric not in _data.metric_keys(comparison.runs):
                self.metric = metric or ""
        self._layout.objects = [
            pn.pane.Markdown(self._header(comparison), sizing_mode="stretch_width"),
            pn.Row(
                pn.Column("### Params", self._params_view),
                pn.Column("### Final metrics", self._metrics_view),
                sizing_mode="stretch_width",
            ),
            self._curves_section(comparison),
            pn.Row(
                pn.Column(self._parallel_view, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            self._scatter_section(comparison),
            figure_pane(comparison.plot_final_metrics, "final metrics"),
        ]

    @staticmethod
    def _header(comparison: RunComparison) -> str:
        experiments = sorted({str(x) for x in comparison.runs.get("experiment", [])})
        labels = ", ".join(comparison.labels[:8]) + (" ..." if len(comparison) > 8 else "")
        where = f" of {', '.join(experiments)}" if experiments else ""
        return f"## Comparing {len(comparison)} runs{where}\n{labels}"

    @param.depends("comparison", "show_all_params")
    def _params_view(self) -> Any:
        if self.comparison is None:
            return None
        table = self.comparison.params(differing_only=not self.show_all_params)
        toggle = pn.widgets.Checkbox.from_param(self.param.show_all_params, label="Show all params")
        if table.empty:
            return pn.Column(toggle, pn.pane.Markdown("_All params are equal._"))
        shown = table.map(_data.format_value)
        return pn.Column(toggle, pn.pane.DataFrame(shown, sizing_mode="stretch_width"))

    @param.depends("comparison")
    def _metrics_view(self) -> Any:
        if self.comparison is None:
            return None
        table = self.comparison.metrics()
        if table.empty:
            return pn.pane.Markdown("_No metrics._")
        return pn.pane.DataFrame(table, float_format="{:.6g}".format, sizing_mode="stretch_width")

    def _curves_section(self, comparison: RunComparison) -> pn.Column:
        keys = sorted(comparison.history()["key"].unique()) if len(comparison) else []
        if not keys:
            return pn.Column(pn.pane.Markdown("_These runs logged no metric history._"))
        with param.parameterized.discard_events(self):
            if not set(self.metrics) <= set(keys) or not self.metrics:
                self.metrics = _data.curve_keys(comparison.history())
        controls = pn.Row(
            pn.widgets.MultiChoice.from_param(
                self.param.metrics, options=keys, label="Metrics", width=360
            ),
            pn.widgets.RadioButtonGroup.from_param(self.param.x, label="x axis", width=240),
            pn.widgets.FloatSlider.from_param(
                self.param.smoothing, label="Smoothing", step=0.01, width=220
            ),
        )
        return pn.Column(
            "### Metric curves", controls, self._curves_view, sizing_mode="stretch_width"
        )

    @param.depends("comparison", "metrics", "x", "smoothing")
    def _curves_view(self) -> Any:
        comparison = self.comparison
        if comparison is None:
            return None

        def figure() -> Any:
            curves = comparison.curves(
                keys=self.metrics or None, x=self.x, smoothing=self.smoothing
            )
            return plots.draw_metric_history(
                curves, comparison.labels, x=self.x, smoothing=self.smoothing
            )

        return figure_pane(figure, "metric curves")

    @param.depends("comparison")
    def _parallel_view(self) -> Any:
        comparison = self.comparison
        if comparison is None or len(comparison) < 2:
            return pn.pane.Markdown("_Parallel coordinates need at least two runs._")
        return figure_pane(comparison.plot_parallel_coordinates, "parallel coordinates")

    def _scatter_section(self, comparison: RunComparison) -> pn.Column:
        params = _data.param_keys(comparison.runs)
        metrics = _data.metric_keys(comparison.runs)
        if not params or not metrics:
            return pn.Column(pn.pane.Markdown("_No params or metrics for a param-vs-metric view._"))
        controls = pn.Row(
            pn.widgets.Select.from_param(
                self.param.param_x, options=params, label="Param", width=200
            ),
            pn.widgets.Select.from_param(
                self.param.param_y,
                options={_NONE: "", **{p: p for p in params}},
                label="Second param",
                width=200,
            ),
            pn.widgets.Select.from_param(
                self.param.metric, options=metrics, label="Metric", width=200
            ),
        )
        return pn.Column(
            "### Param vs metric", controls, self._scatter_view, sizing_mode="stretch_width"
        )

    @param.depends("comparison", "param_x", "param_y", "metric")
    def _scatter_view(self) -> Any:
        comparison = self.comparison
        if comparison is None or not self.param_x or not self.metric:
            return None
        second = self.param_y if self.param_y and self.param_y != self.param_x else None
        return figure_pane(
            lambda: comparison.plot_param_vs_metric(self.param_x, self.metric, param2=second),
            "param vs metric",
        )

    def __panel__(self) -> pn.Column:
        return self._layout
