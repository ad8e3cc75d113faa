"""Fixtures for the Jupyter tests: pytest-jupyter's server fixtures, a seeded store, and a real
JupyterLab driven by Chromium (``lab``, ``page``) for the browser tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest

# pytest-jupyter's fixtures (jp_fetch, jp_serverapp, ...) and its async test hooks. Imported here
# rather than listed in pytest_plugins, which only the rootdir conftest may define.
from pytest_jupyter.jupyter_server import *  # noqa: F403
from sklearn.linear_model import LogisticRegression

import workbench as wb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from _browser import CHROMIUM, CHROMIUM_ARGS, JupyterLab  # the UI tests' browser helpers

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 60_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ui: drives a real browser (Chromium); slow")


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store with two experiments of runs, a registered model with an alias and a drift report.

    Session-scoped (a few seconds to build); tests only read it.
    """
    path = tmp_path_factory.mktemp("seeded") / "store"
    wb.set_store(path)
    try:
        rng = np.random.default_rng(0)
        ids: dict[str, list[str]] = {"iris": [], "weather": []}
        for experiment in ids:
            for i in range(7):
                with wb.start_run(experiment, f"{experiment}-{i}", tags={"team": "ml"}) as run:
                    run.log_params({"C": 0.1 * (i + 1), "solver": "lbfgs"})
                    for step in range(3):
                        run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
                    run.log_metric("accuracy", 0.5 + 0.05 * i)
                    ids[experiment].append(run.run_id)
        x = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
        y = (x["a"] > 0).astype(int)
        with wb.start_run("iris", "model-run") as run:
            run.log_input(x, name="features")
            model = LogisticRegression().fit(x, y)
            run.log_metric("accuracy", float(model.score(x, y)))
        wb.register_model("clf", run=run, model=model, input_example=x.head(3))
        wb.set_alias("clf", "champion", 1)
        wb.sweep(
            lambda trial: (trial.suggest_float("c", 0.0, 1.0) - 0.3) ** 2,
            n_trials=3,
            name="tiny",
            experiment="tiny-sweep",
            seed=0,
            progress=False,
        )
        report = wb.drift_report(x, x + 2.0, name="shifted")
        report_id = report.log()
        wb.flush()
        yield {
            "path": path,
            "runs": ids,
            "model_run": run.run_id,
            "report": report_id,
        }
    finally:
        wb.connect(path).close()
        wb.set_store(None)


@pytest.fixture
def server_store(seeded_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The seeded store, as the server extension finds it (WORKBENCH_STORE)."""
    monkeypatch.setenv("WORKBENCH_STORE", str(seeded_store["path"]))
    return seeded_store


@pytest.fixture
def jp_server_config(server_store: dict[str, Any]) -> dict[str, Any]:
    """Enable the workbench server extension (after pointing it at the seeded store)."""
    return {"ServerApp": {"jpserver_extensions": {"workbench.jupyter": True}}}


@pytest.fixture
def lab(lab_store: Path, tmp_path: Path) -> Iterator[str]:
    """JupyterLab on a free loopback port, without a token, reading ``lab_store``; its URL.

    Each browser test module defines the ``lab_store`` it needs; the server's root folder is
    ``tmp_path / "root"`` (it holds ``scratch.ipynb``, and a test may add notebooks there).
    """
    server = JupyterLab(lab_store, tmp_path)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell("import workbench")]
    nbformat.write(notebook, server.root / "scratch.ipynb")
    try:
        server.wait_ready()
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def page(lab: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/apt-packages.txt)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            yield page
        finally:
            browser.close()
