"""The `workbench` command, run as a real subprocess against a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def populated(store_dir: Path) -> dict[str, str]:
    ids = {}
    for i, model in enumerate(("rf", "lr", "rf")):
        with wb.start_run("cli", f"run-{i}") as run:
            run.log_params({"model": model, "i": i})
            run.log_metric("auc", 0.8 + i / 100)
        ids[f"run-{i}"] = run.run_id
    wb.flush()
    return ids


def test_runs_list_filters_and_orders(store_dir: Path, populated: dict[str, str]) -> None:
    done = _cli(
        store_dir,
        "runs",
        "list",
        "-e",
        "cli",
        "-f",
        "params.model = 'rf'",
        "-o",
        "metrics.auc DESC",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == ["run-2", "run-0"]
    assert rows[0]["metrics.auc"] == pytest.approx(0.82)


def test_runs_show_and_sql_and_experiments(store_dir: Path, populated: dict[str, str]) -> None:
    shown = _cli(store_dir, "runs", "show", populated["run-1"])
    assert shown.returncode == 0 and "model = lr" in shown.stdout and "auc = 0.81" in shown.stdout
    sql = _cli(store_dir, "sql", "select count(*) as n from runs", "--format", "csv")
    assert sql.stdout.split() == ["n", "3"]
    experiments = _cli(store_dir, "experiments", "list", "--format", "json")
    assert [(e["name"], e["runs"]) for e in json.loads(experiments.stdout)] == [("cli", 3)]


def test_errors_exit_2_with_the_message(store_dir: Path, populated: dict[str, str]) -> None:
    done = _cli(store_dir, "runs", "list", "-f", "params.model = ")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "^" in done.stderr
    missing = _cli(store_dir, "runs", "show", "nope")
    assert missing.returncode == 2 and "No run with id 'nope'" in missing.stderr
    write = _cli(store_dir, "sql", "delete from wb_runs")
    assert write.returncode == 2 and "read-only" in write.stderr


def test_delete_and_restore_through_the_cli(store_dir: Path, populated: dict[str, str]) -> None:
    assert _cli(store_dir, "runs", "delete", populated["run-0"]).returncode == 0
    assert len(wb.search_runs("cli")) == 2
    assert _cli(store_dir, "runs", "restore", populated["run-0"]).returncode == 0
    assert _cli(store_dir, "experiments", "rename", "cli", "cli2").returncode == 0
    assert len(wb.search_runs("cli2")) == 3
