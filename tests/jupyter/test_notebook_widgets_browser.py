"""Workbench outputs rendered live in a real JupyterLab reach nothing outside the machine.

A notebook is run cell by cell in Chromium: a comparison (plotly figures) and, after
``workbench.ui.extension()``, a Panel runs browser. Both must render, and every request the page
makes on the way (scripts, stylesheets, fonts, the kernel's websocket) must go to the loopback
JupyterLab server: no CDN, no web font.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import workbench as wb

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
pytestmark = [pytest.mark.ui, pytest.mark.slow]

CELLS = [
    "import workbench as wb\nids = list(wb.search_runs('e')['run_id'])",
    "wb.compare(ids)",
    "import workbench.ui as wbui\nwbui.extension()",
    "wbui.RunsBrowser(experiment='e')",
]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "blob:http://127.0.0.1", "data:")


@pytest.fixture
def lab_store(tmp_path: Path) -> Iterator[Path]:
    """Three runs with params and a metric history, as a notebook user would log them."""
    store = tmp_path / "store"
    client = wb.connect(store)
    for i in range(3):
        with client.start_run("e", f"run-{i}") as run:
            run.log_params({"lr": 0.1 * (i + 1)})
            for step in range(5):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
    client.flush()
    yield store
    client.close()


def _run_cell(cell: Any, page: Any, tries: int = 6) -> None:
    """Run one cell and wait until the kernel has taken it (its prompt shows ``[*]`` or a
    number). On a loaded machine the page can show the kernel idle before its session takes
    requests, and a Shift+Enter then only moves the cursor: press again until the cell runs."""
    started = cell.locator(".jp-InputArea-prompt", has_text=re.compile(r"\[(\*|\d+)\]"))
    for _ in range(tries):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            started.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the cell never ran after {tries} tries: {cell.inner_text()!r}")


def test_comparison_and_panel_widgets_render_from_the_machine_only(
    page: Any, lab: str, tmp_path: Path
) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, tmp_path / "root" / "widgets.ipynb")
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))

    page.goto(f"{lab}/lab/tree/widgets.ipynb")
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.nth(len(CELLS) - 1).wait_for()
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for()
    for i in range(len(CELLS)):
        _run_cell(cells.nth(i), page)

    try:
        comparison = cells.nth(1).locator(".jp-OutputArea-output")
        comparison.get_by_text("Params that differ").wait_for()
        figure = comparison.locator("svg.main-svg").first  # drawn by JupyterLab's plotly renderer
        figure.wait_for(state="attached")
        browser = cells.nth(3).locator(".jp-OutputArea-output")
        browser.scroll_into_view_if_needed()
        for i in range(3):  # the Panel table lists the runs: Bokeh and Panel loaded and running
            browser.get_by_text(f"run-{i}").first.wait_for(state="attached")
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-widgets.png"), full_page=True)

    assert not outside, f"the notebook page reached outside the machine: {outside[:5]}"
