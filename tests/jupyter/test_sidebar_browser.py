"""The Workbench sidebar in a real JupyterLab, driven by Chromium (ARCHITECTURE.md's recipe).

Notebooks 01 and 05 are executed with papermill on a fresh store; JupyterLab is started on a free
loopback port; the sidebar must show their runs (and a run logged while it is open), insert a
snippet into the open notebook, and open a comparison and a drift report in main-area tabs.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.pipelines import run_notebook

pytestmark = [pytest.mark.ui, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def lab_store(tmp_path: Path) -> Iterator[Path]:
    """A fresh store holding what two papermill-executed notebooks logged."""
    store = tmp_path / "store"
    wb.set_store(store)
    try:
        run_notebook(REPO / "notebooks" / "01_track.ipynb")
        run_notebook(REPO / "notebooks" / "05_drift.ipynb")
        yield store
    finally:
        wb.connect(store).close()
        wb.set_store(None)


LONG_SWEEP = "a-sweep-whose-name-is-longer-than-the-sidebar-is-wide"


def test_sidebar_shows_notebook_runs_and_opens_views(page: Any, lab: str, lab_store: Path) -> None:
    from workbench.sweeps import sweep

    sweep(
        lambda trial: trial.suggest_float("x", 0.0, 1.0),
        n_trials=3,
        name=LONG_SWEEP,
        experiment="long-names",
        seed=0,
        progress=False,
        client=wb.connect(lab_store),
    )
    wb.connect(lab_store).flush()
    plotly_requests: list[str] = []
    page.on(
        "request", lambda r: plotly_requests.append(r.url) if "plotly.min.js" in r.url else None
    )
    page.goto(f"{lab}/lab/tree/scratch.ipynb")
    page.wait_for_selector(".jp-LabShell")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    news = page.locator(".jp-Notification-Toast-Close, .jp-toast-button").filter(has_text="No")
    if news.count():  # JupyterLab asks once whether to fetch its news; decline
        news.first.click()
    page.click('li.lm-TabBar-tab[data-id="workbench-sidebar"]')
    sidebar = page.locator("#workbench-sidebar")
    sidebar.locator(".wb-store").filter(has_text=str(lab_store)).wait_for()

    # trials of a sweep with a long name can be told apart: the middle is cut, not the end,
    # and each shows its trial number; the full name is the title
    page.select_option("#workbench-sidebar select.wb-experiment", "long-names")
    sidebar.locator(".wb-trial").nth(2).wait_for()
    trials = sidebar.locator(".wb-run").filter(has=page.locator(".wb-trial"))
    assert sorted(trials.locator(".wb-trial").all_inner_texts()) == ["#0", "#1", "#2"]
    shown = trials.locator(".wb-run-name").all_inner_texts()
    assert len(set(shown)) == 3 and all("…" in n for n in shown)
    assert sorted(n[-2:] for n in shown) == ["-0", "-1", "-2"]
    titles = [trials.nth(i).locator(".wb-run-name").get_attribute("title") for i in range(3)]
    assert sorted(titles) == [f"{LONG_SWEEP}-{i}" for i in range(3)]

    # the runs the papermill-executed notebooks logged
    page.select_option("#workbench-sidebar select.wb-experiment", "seattle-weather")
    logreg = sidebar.locator(".wb-run").filter(has_text="logreg")
    logreg.wait_for()
    assert sidebar.locator(".wb-run").count() == 2
    report = sidebar.locator(".wb-report").filter(has_text="2015 vs 2012-2013")
    report.wait_for()

    # live: a run logged now (another process would do the same) shows up by itself
    client = wb.connect(lab_store)
    with client.start_run("seattle-weather", "logged-while-open") as run:
        run.log_metric("accuracy", 0.5)
    client.flush()
    sidebar.locator(".wb-run").filter(has_text="logged-while-open").wait_for(timeout=20_000)

    # a snippet into the open notebook (a new cell below the active, non-empty one)
    logreg.hover()
    logreg.locator("button", has_text="Code").click()
    run_id = logreg.get_attribute("data-run-id")
    page.locator(".jp-Notebook .jp-Cell .cm-content").filter(
        has_text=f'run = workbench.get_run("{run_id}")'
    ).wait_for()

    # the filter language in the search box
    page.fill("#workbench-sidebar input.wb-filter", "params.C = 1.0")
    page.press("#workbench-sidebar input.wb-filter", "Enter")
    page.wait_for_function("document.querySelectorAll('#workbench-sidebar .wb-run').length === 1")
    page.fill("#workbench-sidebar input.wb-filter", "")
    page.press("#workbench-sidebar input.wb-filter", "Enter")
    sidebar.locator(".wb-run").filter(has_text="logged-while-open").wait_for()
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-sidebar.png"))

    # compare the two notebook runs in a main-area tab
    for name in ("logreg", "RandomForestClassifier"):
        sidebar.locator(".wb-run").filter(has_text=name).locator("input.wb-select").check()
    sidebar.locator("button.wb-compare").click()
    # drawn in the page (no iframe loading plotly.js per view), tables sanitized
    compare = page.locator('.wb-view[data-kind="compare"]')
    compare.get_by_text("Params that differ").wait_for()
    compare.locator(".wb-figure .main-svg").first.wait_for()  # plotly drew the figures
    assert compare.locator("iframe").count() == 0 and compare.locator("script").count() == 0
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-compare.png"))
    # a second comparison reuses the page's plotly.js: it is requested once per session
    sidebar.locator(".wb-run").filter(has_text="logreg").locator("input.wb-select").uncheck()
    sidebar.locator("button.wb-compare").click()
    page.locator(".wb-view").filter(has_text="Comparing 1 runs").locator(
        ".wb-figure .main-svg"
    ).first.wait_for()
    assert len(plotly_requests) == 1, plotly_requests

    # the drift report the notebook kept
    report.hover()
    report.locator("button", has_text="Open").click()
    drift = page.frame_locator('iframe[data-kind="drift"]')
    drift.get_by_text("2015 vs 2012-2013").first.wait_for()
    drift.get_by_text("Columns").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-drift.png"))

    tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel").all_inner_texts()
    assert any("Compare 2 runs" in t for t in tabs) and any("Drift" in t for t in tabs)
    assert page.locator('iframe[data-kind="drift"]').get_attribute("sandbox") == "allow-popups"
