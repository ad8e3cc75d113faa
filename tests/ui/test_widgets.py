"""The Panel widgets built and rendered headless (bokeh models, no browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import panel as pn
import pytest

import workbench as wb
from workbench.ui import (
    Dashboard,
    DeploymentLike,
    DeploymentView,
    DriftView,
    ModelView,
    RunCompare,
    RunsBrowser,
    SweepView,
)
from workbench.ui import _runs_query as q

pytestmark = pytest.mark.usefixtures("panel_ready")


def render(viewer: Any) -> Any:
    """Build the bokeh model tree, as a notebook or a server would."""
    root = pn.panel(viewer).get_root()
    assert root is not None
    return root


def texts(viewer: Any) -> str:
    """All Markdown/HTML/Alert text under a viewer's layout."""
    found: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, pn.viewable.Viewer):
            obj = obj.__panel__()
        if isinstance(obj, (pn.pane.Markdown, pn.pane.HTML, pn.pane.Alert)):
            found.append(str(obj.object))
        for child in getattr(obj, "objects", []) or []:
            walk(child)
        if isinstance(obj, pn.Tabs):
            for child in obj:
                walk(child)

    walk(viewer)
    return "\n".join(found)


@pytest.fixture
def client(ui_store: dict[str, Any]) -> Any:
    return wb.connect(ui_store["path"])


# -- RunsBrowser ------------------------------------------------------------------------------
def test_runs_browser_groups_nested_runs_under_their_parent(client: Any) -> None:
    browser = RunsBrowser(client)
    render(browser)
    frame = browser.frame
    names = frame["name"].tolist()
    parent = names.index("parent-run")
    assert names[parent + 1 : parent + 4] == ["fold-2", "fold-1", "fold-0"]
    assert frame["depth"].iloc[parent : parent + 4].tolist() == [0, 1, 1, 1]
    assert frame["children"].iloc[parent] == 3
    top_level = int((frame["depth"] == 0).sum())
    assert browser.total == top_level
    browser.group_nested = False
    assert (
        browser.total
        == len(browser.frame)
        == len(wb.connect(client.store.location).sql("select run_id from runs"))
    )


def test_runs_browser_filters_orders_and_reports_bad_filters(client: Any) -> None:
    browser = RunsBrowser(
        client, experiment="churn", order_by="metrics.auc DESC", columns=["name", "metrics.auc"]
    )
    auc = browser.frame["metrics.auc"].tolist()
    assert auc == sorted(auc, reverse=True) and len(auc) == 8
    browser.filter = "params.C > 0.35"
    assert sorted(browser.frame["name"]) == ["churn-3", "churn-4", "churn-5"]
    before = browser.frame
    browser.filter = "params.C >"
    assert browser._error.visible and "FilterSyntaxError" not in browser._error.object
    assert "Expected a value" in browser._error.object
    assert browser.frame.equals(before)  # the last good page stays
    browser.filter = ""
    assert not browser._error.visible


def test_runs_browser_pages_in_the_store(client: Any) -> None:
    browser = RunsBrowser(client, experiment="churn", page_size=3)
    assert browser.total == 8 and len(browser.frame) == 3
    first = browser.frame["run_id"].tolist()
    browser._next.clicks += 1
    assert browser.page == 2 and browser.frame["run_id"].tolist() != first
    browser._last.clicks += 1
    assert browser.page == 3 and len(browser.frame) == 2
    assert "rows 7\u20138 of 8" in browser._status.object
    browser.page_size = 5  # any change of the query goes back to page 1
    assert browser.page == 1 and len(browser.frame) == 5


def test_runs_browser_columns_and_selection_across_pages(client: Any) -> None:
    browser = RunsBrowser(client, experiment="churn", page_size=4, columns=["name", "params.C"])
    assert [c for c in browser.frame.columns if "." in c] == ["params.C"]
    assert browser._table.value["params.C"].notna().sum() >= 2
    browser._table.selection = [0, 1]
    first_two = browser.frame["run_id"].tolist()[:2]
    assert browser.selected == first_two
    browser.page = 2
    browser._table.selection = [0]
    assert browser.selected == [*first_two, browser.frame["run_id"].iloc[0]]
    assert browser._compare.label == "Compare selected (3)"
    browser.page = 1
    assert browser._table.selection == [0, 1]  # selection survives paging
    events = []
    browser.param.watch(lambda e: events.append(e), "compare_requested")
    browser._compare.clicks += 1
    assert events and "wb-run-compare" in browser._comparison.objects[0].css_classes
    browser._clear.clicks += 1
    assert browser.selected == [] and browser._table.selection == []


def test_runs_browser_read_only_hides_writes(client: Any) -> None:
    assert not RunsBrowser(client)._delete.visible
    assert RunsBrowser(client, read_only=False)._delete.visible


def test_runs_browser_live_refresh_sees_new_runs(store_dir: Path) -> None:
    with wb.start_run("live", "first") as run:
        run.log_metric("m", 1.0)
    browser = RunsBrowser(wb.connect(), live=True, refresh_s=0.5)
    render(browser)
    assert browser._callback is not None
    assert browser.total == 1 and not browser.refresh()
    with wb.start_run("live", "second") as run:
        run.log_metric("new_metric", 2.0)
    wb.flush()
    assert browser.refresh() and browser.total == 2
    assert "metrics.new_metric" in browser._columns_choice.options
    browser.live = False
    assert browser._callback is None


def test_runs_browser_empty_store_says_how_to_start(store_dir: Path) -> None:
    browser = RunsBrowser(wb.connect())
    assert browser.total == 0 and browser._empty.visible
    assert "no runs yet" in browser._empty.object


def test_page_query_matches_search_runs(client: Any) -> None:
    page = q.fetch_page(
        client,
        q.RunsQuery(filter="metrics.auc > 0.75", order_by="metrics.auc", group_nested=False),
        page=1,
        page_size=100,
        columns=["name", "metrics.auc"],
    )
    expected = client.search_runs(filter="metrics.auc > 0.75", order_by="metrics.auc")
    assert page.frame["run_id"].tolist() == expected["run_id"].tolist()
    assert page.frame["metrics.auc"].tolist() == pytest.approx(expected["metrics.auc"].tolist())


# -- RunCompare -------------------------------------------------------------------------------
def test_run_compare_reacts_to_its_controls(client: Any, ui_store: dict[str, Any]) -> None:
    view = RunCompare(runs=ui_store["churn"][:3], client=client)
    render(view)
    assert len(view.comparison) == 3 and view.metrics == ["loss"]
    curves = view._curves_view()
    assert len(curves.object.data) == 3
    view.smoothing = 0.5
    assert len(view._curves_view().object.data) == 6
    view.param_y = "max_iter"  # equal everywhere: contour needs two varying params
    assert view._scatter_view().object.data[0].type == "scatter"
    view.param_x, view.param_y = "C", "penalty"
    assert view._scatter_view().object.data[-1].type == "scatter"
    assert "max_iter" not in texts(view._params_view())
    view.show_all_params = True
    table = view._params_view().objects[1].object
    assert "max_iter" in table.index
    view.runs = ui_store["churn"][:2]
    assert len(view.comparison) == 2


def test_run_compare_empty_and_unknown_runs(client: Any) -> None:
    assert "No runs to compare" in texts(RunCompare(client=client))
    assert "Cannot compare" in texts(RunCompare(runs=["nope"], client=client))


# -- sweeps, models, drift, deployments ------------------------------------------------------
def test_sweep_view(client: Any) -> None:
    view = SweepView("lr-search", client=client, live=False)
    render(view)
    text = texts(view)
    assert "Sweep lr-search" in text and "6 trials" in text
    figures = [o for o in view._layout.objects[1] if isinstance(o, pn.pane.Plotly)]
    assert len(figures) == 4
    assert not view.refresh()  # nothing changed
    assert "No sweep to show" in texts(SweepView("missing", client=client, live=False))


def test_model_view(client: Any) -> None:
    view = ModelView("churn-model@champion", client=client)
    render(view)
    assert view.model == "churn-model" and view.version == 2
    assert "Model churn-model v2 (champion)" in texts(view)
    view.version = 1
    assert "Model churn-model v1" in texts(view)
    assert "Point alias" not in str(view._layout.objects)
    writable = ModelView("churn-model", client=client, read_only=False)
    assert any(isinstance(o, pn.Row) for o in writable._layout.objects)
    assert "Cannot show model" in texts(ModelView("nope", client=client))


def test_drift_view(client: Any, ui_store: dict[str, Any]) -> None:
    view = DriftView(ui_store["report"], client=client)
    render(view)
    assert view.column == "num_0"  # drifted columns first
    assert "weekly-drift" in texts(view)
    assert view._plot().object.data
    assert "No drift report" in texts(DriftView("nope", client=client))


class FakeDeployment:
    name = "churn-api"
    status = "running"
    url = "http://127.0.0.1:8000"
    traffic: ClassVar[dict[str, float]] = {"churn-model/2": 0.9, "churn-model/1": 0.1}

    def latency(self) -> pd.DataFrame:
        times = pd.date_range("2026-01-01", periods=3, freq="min")
        return pd.DataFrame(
            {
                "timestamp": times,
                "p50_ms": [3, 4, 3],
                "p95_ms": [9, 12, 8],
                "p99_ms": [20, 25, 18],
                "requests": [100, 120, 90],
            }
        )


def test_deployment_view_without_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.ui.widgets import deployment_view

    monkeypatch.setattr(deployment_view, "serving_api", lambda: None)
    assert "not available yet" in texts(DeploymentView("churn-api"))
    assert deployment_view.list_deployments() is None


def test_deployment_view_of_an_unknown_deployment(client: Any) -> None:
    assert "No deployment to show" in texts(DeploymentView("nope", client=client))


def test_traffic_and_latency_tables() -> None:
    from workbench.ui.widgets.deployment_view import latency_table, traffic_table

    t0 = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    log = pd.DataFrame(
        {
            "request_id": ["a", "a", "b", "c", "d"],  # request a scored two rows
            "received_at": [
                t0,
                t0,
                t0 + pd.Timedelta(seconds=30),
                t0 + pd.Timedelta(minutes=1),
                t0 + pd.Timedelta(minutes=1, seconds=5),
            ],
            "model_version": [2, 2, 2, 1, 2],
            "role": ["champion", "champion", "champion", "canary", "champion"],
            "latency_ms": [10.0, 10.0, 30.0, 5.0, 7.0],
        }
    )
    traffic = traffic_table(log)
    assert traffic.to_dict("list") == {
        "model_version": [2, 1],
        "role": ["champion", "canary"],
        "requests": [3, 1],
        "share": [0.75, 0.25],
    }
    latency = latency_table(log)
    assert latency["requests"].tolist() == [2, 2]
    assert latency["p50_ms"].tolist() == [20.0, 6.0]
    assert traffic_table(pd.DataFrame()).empty and latency_table(pd.DataFrame()).empty


def test_deployment_view_of_a_deployment_like_object() -> None:
    fake = FakeDeployment()
    assert isinstance(fake, DeploymentLike)
    view = DeploymentView(fake)
    render(view)
    assert "Deployment churn-api" in texts(view)
    figures = view._layout.objects[2].objects
    assert [len(f.object.data) for f in figures] == [1, 4]
    assert "does not look like a deployment" in texts(DeploymentView(object()))


# -- Dashboard --------------------------------------------------------------------------------
def test_dashboard_builds_every_page(client: Any) -> None:
    dashboard = Dashboard(client)
    render(dashboard)
    for page in ["runs", "compare", "sweeps", "models", "deployments", "drift"]:
        dashboard.page = page
        assert "This page failed" not in texts(dashboard._main), page
    assert dashboard.sweep == "lr-search" and dashboard.model == "churn-model"
    assert isinstance(dashboard.template(), pn.template.BootstrapTemplate)


def test_dashboard_selection_opens_the_comparison(client: Any, ui_store: dict[str, Any]) -> None:
    dashboard = Dashboard(client, experiment="churn", filter="params.C < 0.25")
    browser = dashboard._pages["runs"]
    assert browser.filter == "params.C < 0.25" and browser.total == 2
    browser._table.selection = [0, 1]
    browser._compare.clicks += 1
    assert dashboard.page == "compare"
    assert sorted(dashboard.run_ids) == sorted(ui_store["churn"][:2])
    assert len(dashboard._pages["compare"].comparison) == 2
    dashboard.filter = "params.C > 0.5"  # the URL drives the browser too
    assert browser.filter == "params.C > 0.5"


def test_dashboard_on_an_empty_store(store_dir: Path) -> None:
    dashboard = Dashboard(wb.connect())
    assert dashboard._pages["runs"]._empty.visible
    messages = {}
    for page in ["compare", "sweeps", "models", "drift"]:
        dashboard.page = page
        messages[page] = texts(dashboard._main)
    assert "No runs to compare" in messages["compare"]
    assert "No sweeps yet" in messages["sweeps"]
    assert "No registered models yet" in messages["models"]
    assert "No drift reports yet" in messages["drift"]


def test_create_app(client: Any) -> None:
    from workbench.ui.app import _from_args, create_app

    assert isinstance(create_app(client), pn.template.BootstrapTemplate)
    assert isinstance(_from_args(["--store", client.store.location]), pn.template.BootstrapTemplate)
