"""A small store with runs to compare (params, a loss curve, final metrics)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import workbench as wb


@pytest.fixture
def compare_runs(store_dir: Path) -> dict[str, Any]:
    """Four runs of experiment 'exp' and their ids, logged into a fresh store."""
    ids = []
    for i in range(4):
        with wb.start_run("exp", f"run-{i}") as run:
            run.log_params(
                {"lr": 0.1 * (i + 1), "depth": 3 + i % 2, "opt": ("sgd", "adam")[i % 2], "seed": 1}
            )
            for step in range(10):
                run.log_metric("loss", math.exp(-step / (2 + i)), step=step)
            run.log_metric("acc", 0.8 + 0.02 * i)
        ids.append(run.run_id)
    wb.flush()
    return {"ids": ids, "client": wb.connect()}
