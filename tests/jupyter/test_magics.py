"""The %wb magics in a real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import workbench as wb
from workbench.compare import RunComparison


@pytest.fixture
def shell(seeded_store: dict[str, Any]) -> Iterator[InteractiveShell]:
    wb.set_store(seeded_store["path"])
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "workbench.jupyter.magics")
    yield ip
    wb.set_store(None)
    InteractiveShell.clear_instance()


def test_runs_with_filter_and_limit(shell: InteractiveShell) -> None:
    runs = shell.run_line_magic("wb", 'runs weather --filter "metrics.accuracy > 0.6" -n 3')
    assert isinstance(runs, pd.DataFrame) and len(runs) == 3
    assert set(runs["experiment"]) == {"weather"} and (runs["metrics.accuracy"] > 0.6).all()
    everything = shell.run_line_magic("wb", "runs")
    assert len(everything) == 20  # 7 + 7 + the model's run + a report + a sweep of 3 trials


def test_run_and_variable_expansion(shell: InteractiveShell, seeded_store: dict[str, Any]) -> None:
    shell.user_ns["rid"] = seeded_store["runs"]["iris"][2]
    result = shell.run_cell("%wb run $rid")
    run = result.result
    assert isinstance(run, wb.Run) and run.name == "iris-2"


def test_compare_ids_or_search(shell: InteractiveShell, seeded_store: dict[str, Any]) -> None:
    ids = seeded_store["runs"]["iris"][:2]
    comparison = shell.run_line_magic("wb", f"compare {ids[0]} {ids[1]}")
    assert isinstance(comparison, RunComparison) and comparison.run_ids == ids
    top = shell.run_line_magic("wb", 'compare -e weather -o "metrics.accuracy DESC" -n 2')
    assert [r for r in top.labels] == ["weather-6", "weather-5"] or len(top) == 2
    assert "text/html" in top._repr_mimebundle_()


def test_registry_sweeps_drift_sql_store(
    shell: InteractiveShell, seeded_store: dict[str, Any]
) -> None:
    assert list(shell.run_line_magic("wb", "models")["name"]) == ["clf"]
    assert list(shell.run_line_magic("wb", "models clf")["version"]) == [1]
    card = shell.run_line_magic("wb", "card clf@champion")
    assert "clf" in card.to_html()
    reports = shell.run_line_magic("wb", "drift")
    assert list(reports["run_id"]) == [seeded_store["report"]]
    report = shell.run_line_magic("wb", f"drift {seeded_store['report']}")
    assert report.dataset_drift
    assert list(shell.run_line_magic("wb", "sweeps")["name"]) == ["tiny"]
    assert shell.run_line_magic("wb", "sweep tiny").counts()["complete"] == 3
    experiments = shell.run_line_magic("wb", "experiments")
    assert {"iris", "weather", "drift-reports"} <= set(experiments["name"])
    counted = shell.run_cell_magic("wb", "sql", "select count(*) as n from runs")
    assert int(counted["n"].iloc[0]) == 20
    assert shell.run_line_magic("wb", "store") == str(seeded_store["path"])


def test_help_and_usage_errors_do_not_raise(shell: InteractiveShell) -> None:
    text = shell.run_line_magic("wb", "help")
    assert "compare" in text and "runs" in text
    assert repr(text) == str(text)
    assert "usage" in shell.run_line_magic("wb", "bogus")
    assert "usage" in shell.run_line_magic("wb", "runs -n notanumber")
    with pytest.raises(wb.RunNotFoundError):
        shell.run_line_magic("wb", "run nope")


def test_load_ext_workbench(seeded_store: dict[str, Any]) -> None:
    """``%load_ext workbench`` (``workbench.load_ipython_extension``) loads the same magics."""
    import workbench

    if not hasattr(workbench, "load_ipython_extension"):
        pytest.skip("workbench/__init__.py does not define load_ipython_extension yet")
    wb.set_store(seeded_store["path"])
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "workbench")
        assert "wb" in ip.magics_manager.magics["line"]
    finally:
        wb.set_store(None)
        InteractiveShell.clear_instance()
