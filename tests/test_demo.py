"""The README's demo command does what it says on a fresh store."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.demo import EXPERIMENT, run_demo


@pytest.mark.slow
def test_demo_runs_the_lifecycle(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_demo()
    out = capsys.readouterr().out
    assert "6/6" in out and "done in" in out
    runs = wb.search_runs(EXPERIMENT, max_results=None)
    assert (runs["status"] == "finished").all()
    curves = wb.search_runs(EXPERIMENT, filter="tags.kind = 'curve'")
    assert len(curves) == 3
    assert len(wb.get_metric_history(curves["run_id"].iloc[0], "test_accuracy")) == 30
    assert len(wb.list_sweeps()) == 1
    champion = wb.get_model_version("breast-cancer@champion")
    assert champion.version == 1
    assert hasattr(wb.load_model("breast-cancer@champion"), "predict")
    reports = wb.search_runs("drift-reports")
    assert len(reports) == 1
