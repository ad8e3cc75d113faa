"""``Dashboard``: the stakeholder dashboard, composed of the same widgets as the notebook.

Pages: Runs, Compare, Sweeps, Models, Deployments, Drift. The state of a page (the page itself,
experiment, filter, order, compared runs, chosen sweep/model/report) lives in parameters that a
served dashboard mirrors into its URL, so a link opens the same view. Read-only by default:
actions that change the store (deleting runs, moving aliases) only appear with
``read_only=False`` (``workbench dashboard --allow-writes``), and never on a store opened
read-only (a read-only folder; a team store, which ``workbench dashboard`` opens read-only
unless ``--allow-writes``: :func:`dashboard_store`). An action the store refuses says why in
the page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import panel as pn
import param

from workbench.config import is_team_url, store_location
from workbench.exceptions import StoreVersionError
from workbench.ui._common import (
    INSUFFICIENT_PRIVILEGE,
    error_text,
    get_client,
    message,
    store_is_read_only,
    table,
)
from workbench.ui.widgets.deployment_view import DeploymentView, list_deployments
from workbench.ui.widgets.drift_view import DriftView
from workbench.ui.widgets.model_view import ModelView
from workbench.ui.widgets.run_compare import RunCompare
from workbench.ui.widgets.runs_browser import RunsBrowser
from workbench.ui.widgets.sweep_view import SweepView

if TYPE_CHECKING:
    from workbench.client import Workbench
    from workbench.store import Store

__all__ = ["PAGES", "URL_PARAMETERS", "Dashboard", "dashboard_store"]

PAGES = {
    "Runs": "runs",
    "Compare": "compare",
    "Sweeps": "sweeps",
    "Models": "models",
    "Deployments": "deployments",
    "Drift": "drift",
}
#: Dashboard parameter -> URL query parameter.
URL_PARAMETERS = {
    "page": "page",
    "experiment": "experiment",
    "filter": "filter",
    "order_by": "order_by",
    "runs": "runs",
    "sweep": "sweep",
    "model": "model",
    "report": "report",
    "deployment": "deployment",
}
_BROWSER_PARAMETERS = ("experiment", "filter", "order_by")
DRIFT_FILTER = "tags.`workbench.kind` = 'drift_report'"


def _listing(frame: pd.DataFrame) -> Any:
    """A compact table listing the objects of a page (10 rows a page)."""
    return table(frame, pagination="local", page_size=10, height=None)


class Dashboard(pn.viewable.Viewer):
    """All workbench views in one app: runs, comparisons, sweeps, models, deployments, drift.

    In a notebook it shows a page switcher above the page; :meth:`template` wraps it in a
    Panel template with its state in the URL (what ``workbench dashboard`` serves).

    Parameters
    ----------
    client
        The workbench client (default: the configured store).
    **params
        Initial state: ``page``, ``experiment``, ``filter``, ``runs`` (comma-separated ids), ...
    """

    page: str = param.Selector(  # type: ignore[assignment]
        default="runs", objects=list(PAGES.values()), doc="The page shown."
    )
    experiment = param.String(default="", doc="Experiment on the Runs page (empty: all).")
    filter = param.String(default="", doc="Filter on the Runs page.")
    order_by = param.String(default="", doc="Order on the Runs page.")
    runs = param.String(default="", doc="Comma-separated ids of the compared runs.")
    sweep = param.String(default="", doc="The sweep on the Sweeps page.")
    model = param.String(default="", doc="The model on the Models page.")
    report = param.String(default="", doc="Run id of the drift report on the Drift page.")
    deployment = param.String(default="", doc="The deployment on the Deployments page.")
    read_only = param.Boolean(
        default=True, constant=True, doc="Hide actions that write (always, on a read-only store)."
    )

    def __init__(self, client: Workbench | None = None, **params: Any) -> None:
        resolved = get_client(client)
        if store_is_read_only(resolved):
            params["read_only"] = True
        super().__init__(**params)
        self._client = resolved
        self._pages: dict[str, Any] = {}
        self._main = pn.Column(sizing_mode="stretch_width", css_classes=["wb-dashboard-page"])
        self._nav = pn.widgets.RadioButtonGroup.from_param(
            self.param.page,
            options=PAGES,
            color="primary",
            variant="outline",
            label="",
        )
        self._show_page()

    @property
    def run_ids(self) -> list[str]:
        """The compared runs, as a list."""
        return [r for r in (x.strip() for x in self.runs.split(",")) if r]

    # -- pages ------------------------------------------------------------------------------
    @param.depends("page", watch=True)
    def _show_page(self) -> None:
        if self.page not in self._pages:
            builder: Callable[[], Any] = getattr(self, f"_build_{self.page}")
            try:
                self._pages[self.page] = builder()
            except Exception as exc:  # one broken page must not take the dashboard down
                failure = message(f"**This page failed.** {error_text(exc)}", kind="danger")
                self._main.objects = [failure]
                return
        self._main.objects = [self._pages[self.page]]

    def _build_runs(self) -> Any:
        browser = RunsBrowser(
            self._client,
            experiment=self.experiment,
            filter=self.filter,
            order_by=self.order_by,
            selected=self.run_ids,
            show_comparison=False,
            read_only=self.read_only,
        )

        def to_dashboard(*events: param.parameterized.Event) -> None:
            self.param.update({e.name: e.new for e in events})

        def to_browser(*events: param.parameterized.Event) -> None:
            browser.param.update({e.name: e.new for e in events})

        browser.param.watch(to_dashboard, list(_BROWSER_PARAMETERS))
        self.param.watch(to_browser, list(_BROWSER_PARAMETERS))
        browser.param.watch(self._on_compare_requested, "compare_requested")
        return browser

    def _on_compare_requested(self, _: Any) -> None:
        browser = self._pages.get("runs")
        if browser is not None and browser.selected:
            self.param.update(runs=",".join(browser.selected), page="compare")

    def _build_compare(self) -> Any:
        view = RunCompare(runs=self.run_ids, client=self._client)
        self.param.watch(lambda _: setattr(view, "runs", self.run_ids), "runs")
        return view

    def _picker(
        self, name: str, options: dict[str, str], view: Callable[[str], Any], empty: str
    ) -> pn.Column:
        """A select over ``options`` (label -> value) bound to parameter ``name``, and its view."""
        if not options:
            return pn.Column(message(empty, kind="light"), sizing_mode="stretch_width")
        if getattr(self, name) not in options.values():
            with param.parameterized.discard_events(self):
                setattr(self, name, next(iter(options.values())))
        select = pn.widgets.Select(
            label=name.capitalize(), options=options, value=getattr(self, name), width=320
        )
        holder = pn.Column(view(getattr(self, name)), sizing_mode="stretch_width")
        select.param.watch(lambda e: setattr(self, name, e.new), "value")

        def update(event: param.parameterized.Event) -> None:
            select.value = event.new
            holder.objects = [view(event.new)]

        self.param.watch(update, name)
        return pn.Column(select, holder, sizing_mode="stretch_width")

    def _build_sweeps(self) -> Any:
        from workbench.sweeps import list_sweeps

        sweeps = list_sweeps(client=self._client)
        options = {str(n): str(n) for n in sweeps["name"]} if not sweeps.empty else {}
        picker = self._picker(
            "sweep",
            options,
            lambda name: SweepView(name, client=self._client),
            "**No sweeps yet.** Start one in a notebook with "
            "`workbench.sweep(objective, n_trials=50)`.",
        )
        if not sweeps.empty:
            picker.insert(0, _listing(sweeps.drop(columns=["run_id"], errors="ignore")))
        return picker

    def _build_models(self) -> Any:
        from workbench.registry import ModelRegistry

        models = ModelRegistry(self._client).list_models()
        options = {str(n): str(n) for n in models["name"]} if not models.empty else {}
        picker = self._picker(
            "model",
            options,
            lambda name: ModelView(name, client=self._client, read_only=self.read_only),
            "**No registered models yet.** Register one with "
            "`workbench.register_model(name, run=run, model=model)`.",
        )
        if not models.empty:
            picker.insert(0, _listing(models))
        return picker

    def _build_deployments(self) -> Any:
        deployments = list_deployments(self._client)
        if deployments is None:
            return DeploymentView(None, client=self._client)
        options = {
            f"{d} \u00b7 {m} \u00b7 {s}": str(d)
            for d, m, s in zip(
                deployments.get("deployment_id", []),
                deployments.get("model_uri", []),
                deployments.get("status", []),
                strict=True,
            )
        }
        picker = self._picker(
            "deployment",
            options,
            lambda name: DeploymentView(name, client=self._client),
            "**No deployments yet.** Serve a model with `workbench.deploy('churn@champion')` "
            "or `workbench serve churn@champion`.",
        )
        if options:
            picker.insert(0, _listing(deployments))
        return picker

    def _build_drift(self) -> Any:
        reports = self._client.search_runs(filter=DRIFT_FILTER, max_results=500)
        options = {
            f"{name} \u00b7 {start:%Y-%m-%d %H:%M}": str(run_id)
            for name, start, run_id in zip(
                reports.get("name", []),
                reports.get("start_time", []),
                reports.get("run_id", []),
                strict=True,
            )
        }
        return self._picker(
            "report",
            options,
            lambda run_id: DriftView(run_id, client=self._client),
            "**No drift reports yet.** Compute one with `workbench.drift_report(reference, "
            "current)` and keep it with `report.log()`.",
        )

    # -- layouts ----------------------------------------------------------------------------
    def _store_note(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"Store `{self._client.store.location}` \u00b7 {mode}"

    def __panel__(self) -> pn.Column:
        return pn.Column(
            pn.Row(self._nav, pn.pane.Markdown(self._store_note(), margin=(8, 20))),
            self._main,
            sizing_mode="stretch_width",
        )

    def template(self) -> pn.template.BootstrapTemplate:
        """The served app: a template with the page list in the sidebar, state in the URL.

        Bootstrap rather than the Fast templates: Fast's design loads a Google font, and the
        dashboard must not reach outside the machine.
        """
        nav = pn.widgets.RadioButtonGroup.from_param(
            self.param.page,
            options=PAGES,
            orientation="vertical",
            color="primary",
            variant="outline",
            label="",
            sizing_mode="stretch_width",
        )
        if pn.state.location is not None:
            pn.state.location.sync(self, URL_PARAMETERS)
        return pn.template.BootstrapTemplate(
            title="workbench",
            sidebar=[nav, pn.pane.Markdown(self._store_note())],
            main=[self._main],
            header_background="#1f4e79",
            sidebar_width=230,
        )


# -- the store a served dashboard reads ----------------------------------------------------
def dashboard_store(
    store: str | os.PathLike[str] | Store | None = None, *, read_only: bool = True
) -> str | Store:
    """What a served dashboard passes to ``workbench.set_store``/``connect``: ``store``
    (default: the configured store) as given, except a team store's URL with ``read_only``,
    which becomes that store opened read-only (a new one each call: open it once per process
    and share it between sessions).

    A read-only dashboard then never writes to a team store, whatever its role may: no journal,
    no shipper, no heartbeat, dead deployments reported ``dead`` without being stored; a
    PostgreSQL role with only SELECT grants is enough (docs/team-store.md). An empty database
    gets its schema first, as a new local store is created, if the role may create it. A local
    store is opened as before: read-only when its folder is not writable (the dashboard hides
    its actions that write either way).

    Raises
    ------
    StoreVersionError
        The team store's schema is newer than this workbench, or older (or missing) and the
        URL's role may not create or migrate it.
    """
    from workbench.store import Store, resolve_store_location

    if store is None:
        store = resolve_store_location()
    if isinstance(store, Store):
        return store
    location = store_location(store, given_as="--store")
    if not (read_only and is_team_url(location)):
        return location
    return _open_read_only(location)


def _open_read_only(url: str) -> Store:
    from workbench.store.postgres import PostgresStore

    try:
        return PostgresStore(url, read_only=True)
    except StoreVersionError as refused:
        # An empty database (or an older workbench's): create or migrate the schema once, as
        # the dashboard of a new local store creates it, if the role may; else say what to do.
        try:
            PostgresStore(url).close()
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                raise refused from None
            # PostgreSQL lists only the tables a role may read: without the grants, a store
            # with data looks empty to it.
            reason = str(exc).strip().splitlines()[0]
            raise StoreVersionError(
                f"{refused} The role of this URL may not create them ({reason}); if the store "
                "already holds data, the role lacks the read-only dashboard's grants "
                "(docs/team-store.md)."
            ) from None
        return PostgresStore(url, read_only=True)
