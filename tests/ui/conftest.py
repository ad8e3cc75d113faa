"""Fixtures for the Panel widgets and the served dashboard: a populated store, a server, Chromium.

Browser tests follow the recipe in ARCHITECTURE.md: Debian's /usr/bin/chromium driven by
playwright (never ``playwright install``), the dashboard as a direct child process on a free
127.0.0.1 port, readiness polled, waits on DOM selectors. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import CHROMIUM, CHROMIUM_ARGS
from _ui_store import populate


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ui: drives the served dashboard in a real Chromium (playwright); slow"
    )
    # bokeh 3.9 calls DataFrame.reset_index(inplace=True), deprecated in pandas 3.1.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:The inplace keyword in DataFrame.reset_index is deprecated:DeprecationWarning",
    )


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with runs, nested runs, a sweep, a registered model and a drift report."""
    path = tmp_path_factory.mktemp("ui") / "store"
    info = populate(path)
    import workbench as wb

    wb.connect(path).store.close()  # give the file back to other processes now
    return {"path": path, **info}


@pytest.fixture(scope="session")
def panel_ready() -> None:
    import panel as pn

    pn.extension("tabulator", "plotly")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through playwright (a missing browser fails: these tests must run)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/apt-packages.txt)"
    )
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
