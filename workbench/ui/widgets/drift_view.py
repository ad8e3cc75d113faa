"""``DriftView``: a drift report's verdict, per-column table and distribution plots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import panel as pn
import param

from workbench.exceptions import WorkbenchError
from workbench.ui._common import error_text, figure_pane, get_client, message

if TYPE_CHECKING:
    from workbench.client import Workbench

__all__ = ["DriftView"]


class DriftView(pn.viewable.Viewer):
    """A drift report: dataset verdict, one row per column, and a column's distributions.

    Parameters
    ----------
    report
        A :class:`workbench.monitoring.DriftReport`, or the run id of a logged report.
    client
        The workbench client used to load a report by run id (default: the configured store).
    """

    report = param.Parameter(default=None, doc="The DriftReport shown.")
    column = param.String(default="", doc="The column whose distributions are drawn.")

    def __init__(
        self, report: Any = None, *, client: Workbench | None = None, **params: Any
    ) -> None:
        self._client = client
        self._error: str | None = None
        if isinstance(report, str):
            report = self._load(report)
        super().__init__(report=report, **params)
        self._layout = pn.Column(sizing_mode="stretch_width", css_classes=["wb-drift-view"])
        self._render()

    def _load(self, run_id: str) -> Any:
        try:
            from workbench.monitoring import DriftReport

            data = get_client(self._client).load_artifact(run_id, "report.json")
            report = DriftReport.from_dict(data)
            report.run_id = run_id
            return report
        except (WorkbenchError, ImportError, KeyError, TypeError, ValueError) as exc:
            self._error = error_text(exc)
            return None

    def _drifting_first(self) -> list[str]:
        cols = self.report.columns
        tested = [c for c in cols.index if c in self.report.distributions]
        drifted = [c for c in tested if bool(cols.loc[c, "drifted"])]
        return drifted + [c for c in tested if c not in drifted]

    @param.depends("report", watch=True)
    def _render(self) -> None:
        if self.report is None:
            text = self._error or "No report selected."
            self._layout.objects = [message(f"**No drift report to show.** {text}", kind="light")]
            return
        report = self.report
        columns = self._drifting_first()
        if columns and self.column not in columns:
            with param.parameterized.discard_events(self):
                self.column = columns[0]
        summary = pn.pane.HTML(
            report._repr_mimebundle_()["text/html"],
            sizing_mode="stretch_width",
            max_height=640,
            styles={"overflow": "auto"},
        )
        parts: list[Any] = [summary]
        if columns:
            picker = pn.widgets.Select.from_param(
                self.param.column, options=columns, label="Column", width=260
            )
            parts += [pn.Row(picker), self._plot]
        self._layout.objects = parts

    @param.depends("report", "column")
    def _plot(self) -> Any:
        if self.report is None or not self.column:
            return None
        return figure_pane(lambda: self.report.plot_column(self.column), f"column {self.column!r}")

    def __panel__(self) -> pn.Column:
        return self._layout
