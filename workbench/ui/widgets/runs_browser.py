"""``RunsBrowser``: a paged, filterable table over every run of a store, feeding comparisons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import panel as pn
import param

from workbench.exceptions import WorkbenchError
from workbench.ui import _runs_query as q
from workbench.ui._common import (
    LiveViewer,
    attempt_write,
    display_frame,
    get_client,
    message,
    read_only_refusal,
    store_is_read_only,
)

if TYPE_CHECKING:
    from workbench.client import Workbench

__all__ = ["RunsBrowser"]

_HIDDEN = ["run_id", "parent_id", "depth", "children"]
PAGE_SIZES = [25, 50, 100, 200]
_EMPTY_STORE = """**This store has no runs yet.** Log one from a notebook:

```python
import workbench as wb
with wb.start_run(experiment="demo") as run:
    run.log_params({"lr": 0.01})
    run.log_metric("accuracy", 0.93)
```
"""


class RunsBrowser(LiveViewer):
    """Browse the runs of a store: paging, sorting and filtering happen in the store.

    Filter and order with the workbench filter language (docs/filter.md), choose columns among
    params, metrics and tags, see nested runs under their parent, follow runs as they are
    logged (``live``), and select runs to compare them.

    Parameters
    ----------
    client
        The workbench client (default: the configured store).
    **params
        Initial values of the parameters below (``experiment``, ``filter``, ...).

    Examples
    --------
    >>> import workbench.ui
    >>> workbench.ui.extension()  # doctest: +SKIP
    >>> workbench.ui.RunsBrowser(experiment="churn", filter="metrics.auc > 0.8")  # doctest: +SKIP
    """

    experiment = param.String(default="", doc="Experiment to show; empty for all.")
    filter = param.String(default="", doc="Filter in the workbench filter language.")
    order_by = param.String(default="", doc="e.g. 'metrics.auc DESC'; newest first if empty.")
    page = param.Integer(default=1, bounds=(1, None), doc="The page shown (1-based).")
    page_size = param.Integer(default=50, bounds=(1, 1000), doc="Top-level rows per page.")
    columns = param.List(
        default=None, item_type=str, allow_None=True, doc="Columns shown; None for defaults."
    )
    group_nested = param.Boolean(default=True, doc="Show nested runs under their parent.")
    live = param.Boolean(default=False, doc="Refresh while runs are being logged.")
    refresh_s = param.Number(default=2.0, bounds=(0.2, None), doc="Live refresh period.")
    selected = param.List(default=[], item_type=str, doc="Ids of the selected runs.")
    show_comparison = param.Boolean(
        default=True, doc="Show the comparison of the selected runs below the table."
    )
    read_only = param.Boolean(
        default=True, doc="Hide actions that change the store (always, on a read-only store)."
    )
    compare_requested = param.Event(doc="Triggered by the 'Compare selected' button.")
    total = param.Integer(default=0, constant=True, doc="Top-level rows matching the filter.")

    def __init__(self, client: Workbench | None = None, **params: Any) -> None:
        resolved = get_client(client)
        if store_is_read_only(resolved):
            params["read_only"] = True
        super().__init__(**params)
        self._client = resolved
        self._page: q.RunsPage | None = None
        self._updating = False
        self._layout: pn.Column | None = None
        self._available: dict[str, list[str]] = {}
        self._available_for: str | None = None
        self._build_widgets()
        self.load()

    # -- data -------------------------------------------------------------------------------
    @property
    def query(self) -> q.RunsQuery:
        """The query the table shows."""
        return q.RunsQuery(
            experiments=(self.experiment,) if self.experiment else (),
            filter=self.filter,
            order_by=self.order_by,
            group_nested=self.group_nested,
        )

    @property
    def frame(self) -> pd.DataFrame:
        """The rows of the current page (run_id, parent_id, depth, children, columns)."""
        return self._page.frame if self._page is not None else pd.DataFrame()

    def _columns(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        return q.default_columns(self._available)

    def load(self, *, discover: bool = False) -> None:
        """Read the current page from the store (errors are shown above the table).

        ``discover`` also lists the columns again (new params, metrics or tags).
        """
        try:
            if discover or self._available_for != self.experiment:
                self._available = q.list_columns(self._client, self.query)
                self._available_for = self.experiment
            page = q.fetch_page(
                self._client,
                self.query,
                page=self.page,
                page_size=self.page_size,
                columns=self._columns(),
            )
        except WorkbenchError as exc:
            self._error.object = f"**Cannot show these runs.**\n```\n{exc}\n```"
            self._error.visible = True
            return
        self._error.visible = False
        self._show(page)

    def refresh(self) -> bool:
        """Read the page again; returns True if it changed (used by ``live``)."""
        before = None if self._page is None else (self._page.total, self._page.frame)
        self.load(discover=True)
        if before is None or self._page is None:
            return True
        total, frame = before
        return bool(total != self._page.total or not frame.equals(self._page.frame))

    def _show(self, page: q.RunsPage) -> None:
        changed = self._page is None or not (
            page.total == self._page.total and page.frame.equals(self._page.frame)
        )
        self._page = page
        with param.edit_constant(self):
            self.total = page.total
        self._updating = True
        try:
            if page.page != self.page:
                self.page = page.page
            if changed:
                self._table.value = self._display(page.frame)
            ids = list(page.frame["run_id"])
            self._table.selection = [i for i, r in enumerate(ids) if r in set(self.selected)]
        finally:
            self._updating = False
        self._update_controls()

    @staticmethod
    def _display(frame: pd.DataFrame) -> pd.DataFrame:
        shown = frame.copy()
        if "name" in shown:
            names = []
            for name, depth, children in zip(
                shown["name"], shown["depth"], shown["children"], strict=True
            ):
                if depth:
                    names.append("\u2003" * (int(depth) - 1) + "\u2514 " + str(name))
                elif children:
                    names.append(f"{name} \u25be {int(children)}")
                else:
                    names.append(str(name))
            shown["name"] = names
        if "duration_s" in shown:
            shown["duration_s"] = pd.to_numeric(shown["duration_s"], errors="coerce").round(2)
        return display_frame(shown)

    # -- widgets ----------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        experiments = ["", *q.list_experiment_names(self._client)]
        if self.experiment and self.experiment not in experiments:
            experiments.append(self.experiment)
        self._experiment = pn.widgets.Select(
            label="Experiment",
            options={(e or "(all experiments)"): e for e in experiments},
            value=self.experiment,
            width=200,
        )
        self._filter = pn.widgets.TextInput(
            label="Filter",
            value=self.filter,
            placeholder="metrics.auc > 0.9 AND params.model = 'rf'",
            sizing_mode="stretch_width",
            min_width=300,
        )
        self._order = pn.widgets.TextInput(
            label="Order by", value=self.order_by, placeholder="metrics.auc DESC", width=220
        )
        self._columns_choice = pn.widgets.MultiChoice(
            label="Columns", options=[], value=[], sizing_mode="stretch_width", min_width=300
        )
        self._nested = pn.widgets.Checkbox(label="Group nested runs", value=self.group_nested)
        self._live = pn.widgets.Checkbox(label="Live", value=self.live)
        self._error = message("", kind="danger", visible=False)
        self._refusal = message("", kind="warning", visible=False)
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(),
            selectable="checkbox",
            disabled=True,
            show_index=False,
            hidden_columns=_HIDDEN,
            sizing_mode="stretch_width",
            layout="fit_data_table",
            theme="simple",
            height=560,
            configuration={"columnDefaults": {"headerSort": False}},
        )
        self._first = pn.widgets.Button(label="\u00ab", width=45, description="First page")
        self._previous = pn.widgets.Button(label="\u2039", width=45, description="Previous page")
        self._next = pn.widgets.Button(label="\u203a", width=45, description="Next page")
        self._last = pn.widgets.Button(label="\u00bb", width=45, description="Last page")
        self._page_size = pn.widgets.Select(
            label="", options=PAGE_SIZES, value=self.page_size, width=80
        )
        self._status = pn.pane.Markdown("", margin=(5, 10))
        self._compare = pn.widgets.Button(label="Compare selected", color="primary")
        self._clear = pn.widgets.Button(label="Clear selection")
        self._delete = pn.widgets.Button(
            label="Delete selected", color="danger", visible=not self.read_only
        )
        self._comparison = pn.Column(sizing_mode="stretch_width")
        self._empty = pn.pane.Markdown(_EMPTY_STORE, visible=False)

        self._experiment.link(self, value="experiment", bidirectional=True)
        self._filter.link(self, value="filter", bidirectional=True)
        self._order.link(self, value="order_by", bidirectional=True)
        self._nested.link(self, value="group_nested", bidirectional=True)
        self._live.link(self, value="live", bidirectional=True)
        self._page_size.link(self, value="page_size", bidirectional=True)
        self._columns_choice.param.watch(self._on_columns, "value")
        self._table.param.watch(self._on_selection, "selection")
        self._first.on_click(lambda _: self._go(1))
        self._previous.on_click(lambda _: self._go(self.page - 1))
        self._next.on_click(lambda _: self._go(self.page + 1))
        self._last.on_click(lambda _: self._go(self._page.n_pages if self._page else 1))
        self._compare.on_click(self._on_compare)
        self._clear.on_click(self._on_clear)
        self._delete.on_click(self._on_delete)

    def _update_controls(self) -> None:
        page = self._page
        if page is None:
            return
        self._updating = True
        try:
            options = sorted(
                {c for cs in self._available.values() for c in cs} | set(self._columns())
            )
            self._columns_choice.options = options
            self._columns_choice.value = self._columns()
        finally:
            self._updating = False
        self._first.disabled = self._previous.disabled = page.page <= 1
        self._next.disabled = self._last.disabled = page.page >= page.n_pages
        rows = (
            f"rows {page.first_row:,}\u2013{page.last_row:,} of {page.total:,}"
            if page.total
            else "no matching runs"
        )
        self._status.object = f"Page **{page.page:,}** of {page.n_pages:,} \u00b7 {rows}"
        n = len(self.selected)
        self._compare.label = f"Compare selected ({n})"
        self._compare.disabled = n == 0
        self._clear.disabled = n == 0
        self._delete.disabled = n == 0
        self._empty.visible = page.total == 0 and not self.filter and not self.experiment

    def _go(self, page: int) -> None:
        n_pages = self._page.n_pages if self._page else 1
        self.page = min(max(1, page), n_pages)

    # -- reactions --------------------------------------------------------------------------
    @param.depends("experiment", "filter", "order_by", "group_nested", "page_size", watch=True)
    def _on_query(self) -> None:
        if self.page != 1:
            self.page = 1  # triggers _on_page
        else:
            self.load()

    @param.depends("page", watch=True)
    def _on_page(self) -> None:
        if not self._updating:
            self.load()

    @param.depends("columns", watch=True)
    def _on_columns_param(self) -> None:
        self.load()

    def _on_columns(self, event: param.parameterized.Event) -> None:
        if not self._updating and list(event.new) != self._columns():
            self.columns = list(event.new)

    def _on_selection(self, event: param.parameterized.Event) -> None:
        if self._updating or self._page is None:
            return
        ids = list(self._page.frame["run_id"])
        on_page = set(ids)
        chosen = [ids[i] for i in event.new if i < len(ids)]
        kept = [r for r in self.selected if r not in on_page]
        self.selected = kept + [r for r in chosen if r not in kept]

    @param.depends("selected", watch=True)
    def _on_selected(self) -> None:
        if self._page is not None:
            ids = list(self._page.frame["run_id"])
            wanted = [i for i, r in enumerate(ids) if r in set(self.selected)]
            if sorted(self._table.selection) != wanted:
                self._updating = True
                try:
                    self._table.selection = wanted
                finally:
                    self._updating = False
        self._update_controls()

    def _on_compare(self, _: Any) -> None:
        self.param.trigger("compare_requested")
        if self.show_comparison and self.selected:
            from workbench.ui.widgets.run_compare import RunCompare

            self._comparison.objects = [RunCompare(runs=list(self.selected), client=self._client)]

    def _on_clear(self, _: Any) -> None:
        self.selected = []

    def _on_delete(self, _: Any) -> None:
        """Delete the selected runs, or say why not (a read-only view or store)."""
        selected = list(self.selected)
        action = f"delete {len(selected)} run{'s' if len(selected) != 1 else ''}"

        def delete() -> None:
            for run_id in selected:
                self._client.delete_run(run_id)

        refused = read_only_refusal(action) if self.read_only else attempt_write(action, delete)
        self._refusal.object = refused or ""
        self._refusal.visible = refused is not None
        if refused is None:
            self.selected = []
        self.load()

    @param.depends("read_only", watch=True)
    def _on_read_only(self) -> None:
        self._delete.visible = not self.read_only

    # -- layout -----------------------------------------------------------------------------
    def __panel__(self) -> pn.Column:
        if self._layout is None:
            self.start_live()
            self._layout = pn.Column(
                pn.Row(self._experiment, self._filter, self._order, sizing_mode="stretch_width"),
                pn.Row(
                    self._columns_choice,
                    pn.Column(self._nested, self._live),
                    sizing_mode="stretch_width",
                ),
                self._error,
                self._refusal,
                self._empty,
                self._table,
                pn.Row(
                    self._first,
                    self._previous,
                    self._next,
                    self._last,
                    self._page_size,
                    self._status,
                    pn.layout.HSpacer(),
                    self._clear,
                    self._delete,
                    self._compare,
                    sizing_mode="stretch_width",
                ),
                self._comparison,
                sizing_mode="stretch_width",
                css_classes=["wb-runs-browser"],
            )
        return self._layout
