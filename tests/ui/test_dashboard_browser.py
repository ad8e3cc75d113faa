"""The served dashboard in a real Chromium: every page, the runs table, selection -> comparison.

Screenshots of each page are saved under test-artifacts/ui/. The dashboard must never reach
outside the machine (no CDN, no web font): every request it makes is checked.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import Served, screenshot
from playwright.sync_api import expect

import workbench as wb
from workbench.ui import _runs_query as q

pytestmark = [pytest.mark.ui, pytest.mark.slow]
expect.set_options(timeout=30_000)  # a loaded CI machine renders slowly; waits end early
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def served(ui_store: dict[str, Any]) -> Iterator[Served]:
    server = Served(ui_store["path"])
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh tab; fails the test if the dashboard requested anything off this machine."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []
    tab.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "blob:http://127.0.0.1", "data:"))
            else None
        ),
    )
    yield tab
    context.close()
    assert not outside, f"the dashboard reached outside the machine: {outside[:5]}"


def open_page(tab: Any, served: Served, **query: str) -> None:
    tab.goto(f"{served.url}/?{urllib.parse.urlencode(query)}")


def test_runs_page_shows_the_runs_with_nested_runs_grouped(
    page: Any, served: Served, ui_store: dict[str, Any]
) -> None:
    open_page(page, served, page="runs")
    rows = page.locator(".tabulator-row")
    expected = q.fetch_page(
        wb.connect(ui_store["path"]), q.RunsQuery(), page=1, page_size=50, columns=["name"]
    )
    expect(rows).to_have_count(len(expected.frame))
    expect(page.get_by_text("parent-run \u25be 3")).to_be_visible()
    expect(page.get_by_text("\u2514 fold-0")).to_be_visible()
    expect(page.get_by_text(f"rows 1\u2013{expected.total} of {expected.total}")).to_be_visible()
    screenshot(page, "runs")


def test_filter_and_experiment_come_from_the_url(page: Any, served: Served) -> None:
    open_page(page, served, page="runs", experiment="churn", filter="params.C > 0.35")
    expect(page.locator(".tabulator-row")).to_have_count(3)
    for name in ("churn-3", "churn-4", "churn-5"):
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    expect(page.get_by_placeholder("metrics.auc > 0.9")).to_have_value("params.C > 0.35")
    screenshot(page, "runs-filtered")


def test_select_runs_and_see_the_comparison(
    page: Any, served: Served, ui_store: dict[str, Any]
) -> None:
    open_page(page, served, page="runs", experiment="churn", filter="params.C < 0.35")
    rows = page.locator(".tabulator-row")
    expect(rows).to_have_count(3)
    for i in range(3):
        rows.nth(i).locator("input[type=checkbox]").click()
    button = page.get_by_role("button", name="Compare selected (3)")
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_text("Comparing 3 runs of churn")).to_be_visible()
    plots = page.locator(".js-plotly-plot")
    expect(plots.first).to_be_visible()
    assert plots.count() >= 4  # curves, parallel coordinates, param vs metric, bars
    page.wait_for_url(re.compile(r"page=compare"))
    runs = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["runs"][0].split(",")
    assert sorted(runs) == sorted(ui_store["churn"][:3])
    screenshot(page, "compare")


def test_a_shared_compare_link_opens_the_same_comparison(
    page: Any, served: Served, ui_store: dict[str, Any]
) -> None:
    open_page(page, served, page="compare", runs=",".join(ui_store["churn"][3:5]))
    expect(page.get_by_text("Comparing 2 runs of churn")).to_be_visible()
    expect(page.get_by_text("churn-3, churn-4")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()


@pytest.mark.parametrize(
    ("name", "marker", "min_plots"),
    [
        ("sweeps", "Sweep lr-search", 4),
        ("models", "Model churn-model v2 (champion)", 0),
        ("deployments", re.compile("No deployments yet|not available yet"), 0),
        ("drift", "No dataset drift", 1),
    ],
)
def test_every_page_renders(
    page: Any, served: Served, name: str, marker: Any, min_plots: int
) -> None:
    open_page(page, served, page=name)
    expect(page.get_by_text(marker).first).to_be_visible()
    if min_plots:
        expect(page.locator(".js-plotly-plot").nth(min_plots - 1)).to_be_visible()
    screenshot(page, name)


def test_navigation_updates_the_url(page: Any, served: Served) -> None:
    open_page(page, served, page="runs")
    expect(page.locator(".tabulator-row").first).to_be_visible()
    page.get_by_role("button", name="Models").click()
    page.wait_for_url(re.compile(r"page=models"))
    expect(page.get_by_text("Model churn-model v2 (champion)")).to_be_visible()


def test_empty_store_says_how_to_start(browser: Any, tmp_path: Path) -> None:
    server = Served(tmp_path / "empty")
    try:
        server.wait_ready()
        tab = browser.new_page(viewport={"width": 1400, "height": 800})
        tab.goto(server.url + "/?page=runs")
        expect(tab.get_by_text("This store has no runs yet.")).to_be_visible(timeout=TIMEOUT_MS)
        screenshot(tab, "empty-store")
        tab.close()
    finally:
        server.stop()
