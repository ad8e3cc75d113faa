"""The JupyterLab sidebar on a team store (PostgreSQL): its REST API through a real Jupyter server
(pytest-jupyter's jp_fetch), and the sidebar itself in a real JupyterLab driven by Chromium.

The store holds what the dashboard's browser tests use (``_ui_store.populate``: runs, nested
runs, a sweep whose Optuna study lives in the store's database, a model with an alias, a drift
report), logged to the team store; its artifacts are in this machine's folder of the store
(``XDG_CACHE_HOME``, shared by the test, the Jupyter server and JupyterLab).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _postgres import PostgresServer
from _ui_store import CHURN_RUNS, MODEL, SWEEP, populate
from playwright.sync_api import expect

import workbench as wb

Fetch = Any
PASSWORD = "never-shown"  # the test cluster trusts every local connection: any password works


@pytest.fixture(scope="module")
def team_store(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A filled team store; its URL with and without a password."""
    cache = tmp_path_factory.mktemp("team-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))  # this machine's journals and artifacts
        url = postgres.url(postgres.new_database())
        info = populate(url)
        wb.connect(url).close()  # everything shipped
        with_password = url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
        yield {"url": url, "with_password": with_password, **info}


@pytest.fixture
def jp_server_config(team_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The server extension reads the team store (a URL with a password, which it never shows)."""
    monkeypatch.setenv("WORKBENCH_STORE", team_store["with_password"])
    return {"ServerApp": {"jpserver_extensions": {"workbench.jupyter": True}}}


async def get(jp_fetch: Fetch, *parts: str, **params: Any) -> Any:
    response = await jp_fetch("workbench", *parts, params=params or None)
    assert response.code == 200
    return json.loads(response.body)


async def test_info_names_the_team_store_without_its_password(
    jp_fetch: Fetch, team_store: dict[str, Any]
) -> None:
    info = await get(jp_fetch, "info")
    assert info["store"] == team_store["url"].replace("postgres@", "postgres:***@", 1)
    assert PASSWORD not in json.dumps(info)


def test_the_sidebars_dashboard_gets_the_store_as_configured(
    team_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard the sidebar starts opens the store itself: it needs the URL as given,
    not the redacted one the store shows."""
    from workbench.jupyter import _dashboard

    wb.set_store(team_store["with_password"])
    assert _dashboard._store_for_child() == team_store["with_password"]
    monkeypatch.setenv("WORKBENCH_STORE", team_store["url"])
    wb.set_store(None)
    assert _dashboard._store_for_child() == team_store["url"]


@pytest.mark.slow
async def test_the_sidebars_dashboard_serves_the_team_store(jp_fetch: Fetch) -> None:
    import urllib.request

    from workbench.jupyter import _dashboard

    try:
        started = await jp_fetch("workbench", "dashboard", method="POST", body=b"")
        url = json.loads(started.body)["url"]
        with urllib.request.urlopen(url + "liveness", timeout=30) as response:
            assert response.status == 200
    finally:
        _dashboard.stop()


async def test_experiments_and_runs_of_the_team_store(
    jp_fetch: Fetch, team_store: dict[str, Any]
) -> None:
    experiments = await get(jp_fetch, "experiments")
    runs = {e["name"]: e["runs"] for e in experiments["experiments"]}
    assert {name: runs.get(name) for name in ("churn", "nested", SWEEP, "drift-reports")} == {
        "churn": CHURN_RUNS + 2,  # and the two training runs of the model
        "nested": 4,
        SWEEP: 7,  # the sweep's run and its 6 trials
        "drift-reports": 1,
    }
    first = await get(jp_fetch, "runs", experiment="churn", page="1", page_size="3")
    assert (first["total"], first["n_pages"]) == (CHURN_RUNS + 2, 3)
    seen = [r["run_id"] for r in first["runs"]]
    for page in (2, 3):
        data = await get(jp_fetch, "runs", experiment="churn", page=str(page), page_size="3")
        seen += [r["run_id"] for r in data["runs"]]
    assert set(team_store["churn"]) <= set(seen) and len(set(seen)) == CHURN_RUNS + 2
    found = await get(jp_fetch, "runs", filter="params.C > 0.35", order_by="params.C ASC")
    assert [r["name"] for r in found["runs"]] == ["churn-3", "churn-4", "churn-5"]
    assert found["runs"][0]["metrics"]["auc"] == pytest.approx(0.82)
    assert found["runs"][0]["tags"]["team"] == "growth"
    run = await get(jp_fetch, "runs", team_store["churn"][0])
    assert run["name"] == "churn-0" and run["params"]["penalty"] == "l1"
    report = await get(jp_fetch, "runs", team_store["report"])
    assert "report.json" in {a["path"] for a in report["artifacts"]}


async def test_models_sweeps_reports_and_deployments(
    jp_fetch: Fetch, team_store: dict[str, Any]
) -> None:
    (model,) = (await get(jp_fetch, "models"))["models"]
    assert model["name"] == MODEL and model["aliases"] == {"champion": 2}
    detail = await get(jp_fetch, "models", MODEL)
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["aliases"] == [{"alias": "champion", "version": 2}]
    (sweep,) = (await get(jp_fetch, "sweeps"))["sweeps"]
    assert sweep["name"] == SWEEP and PASSWORD not in sweep["storage"]
    reports = await get(jp_fetch, "reports")
    assert [r["run_id"] for r in reports["runs"]] == [team_store["report"]]
    deployments = await get(jp_fetch, "deployments")
    assert deployments["deployments"] == []


async def test_views_of_the_team_store(jp_fetch: Fetch, team_store: dict[str, Any]) -> None:
    compared = ",".join(team_store["churn"][:3])
    parts = await get(jp_fetch, "views", "compare", compared, format="json")
    assert parts["title"] == "Compare 3 runs" and len(parts["figures"]) >= 3
    sweep = await get(jp_fetch, "views", "sweep", SWEEP, format="json")
    assert f"Sweep {SWEEP}" in sweep["title"] and sweep["figures"]
    pages = {
        "run": (team_store["churn"][0], "churn-0"),
        "model": (f"{MODEL}@champion", MODEL),  # its card reads the model's files
        "drift": (team_store["report"], "weekly-drift"),  # the report's JSON artifact
    }
    for kind, (ident, text) in pages.items():
        response = await jp_fetch("workbench", "views", kind, ident)
        assert response.code == 200, kind
        assert text in response.body.decode(), kind


# -- the sidebar in a real JupyterLab ----------------------------------------------------------
@pytest.fixture
def lab_store(team_store: dict[str, Any]) -> str:
    """What conftest's ``lab`` serves: the team store (JupyterLab inherits XDG_CACHE_HOME)."""
    return str(team_store["url"])


@pytest.mark.ui
@pytest.mark.slow
def test_sidebar_shows_the_team_store(page: Any, lab: str, team_store: dict[str, Any]) -> None:
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    page.goto(f"{lab}/lab/tree/scratch.ipynb")
    page.wait_for_selector(".jp-LabShell")
    news = page.locator(".jp-Notification-Toast-Close, .jp-toast-button").filter(has_text="No")
    if news.count():  # JupyterLab asks once whether to fetch its news; decline
        news.first.click()
    page.click('li.lm-TabBar-tab[data-id="workbench-sidebar"]')
    sidebar = page.locator("#workbench-sidebar")
    sidebar.locator(".wb-store").filter(has_text=team_store["url"]).wait_for()

    page.select_option("#workbench-sidebar select.wb-experiment", "churn")
    expect(sidebar.locator(".wb-run")).to_have_count(CHURN_RUNS + 2, timeout=60_000)
    sidebar.locator(".wb-run").filter(has_text="churn-5").wait_for()
    model = sidebar.locator(".wb-model").filter(has_text=MODEL)
    model.filter(has_text="@champion").wait_for()
    report = sidebar.locator(".wb-report").filter(has_text="weekly-drift")
    report.wait_for()
    sidebar.locator(".wb-section-sweeps summary").click()
    sidebar.locator(f'.wb-sweep[data-sweep="{SWEEP}"]').wait_for()

    page.screenshot(path=str(artifacts / "jupyterlab-team-sidebar.png"))

    # compare two runs, drawn in the page
    for name in ("churn-4", "churn-5"):
        sidebar.locator(".wb-run").filter(has_text=name).locator("input.wb-select").check()
    sidebar.locator("button.wb-compare").click()
    compare = page.locator('.wb-view[data-kind="compare"]')
    compare.get_by_text("Params that differ").wait_for()
    compare.locator(".wb-figure .main-svg").first.wait_for()

    # the drift report, read from the store's artifacts
    report.hover()
    report.locator("button", has_text="Open").click()
    drift = page.frame_locator('iframe[data-kind="drift"]')
    drift.get_by_text("weekly-drift").first.wait_for()
    page.screenshot(path=str(artifacts / "jupyterlab-team-drift.png"))

    # live: a run logged to the team store now (by any machine) shows up by itself
    client = wb.connect(team_store["url"])
    with client.start_run("team-live", "logged-while-open") as run:
        run.log_metric("auc", 0.5)
    client.flush()
    page.select_option("#workbench-sidebar select.wb-experiment", "team-live")
    sidebar.locator(".wb-run").filter(has_text="logged-while-open").wait_for(timeout=20_000)
