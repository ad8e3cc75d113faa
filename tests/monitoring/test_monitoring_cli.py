"""`workbench drift` and `workbench gate` as real subprocesses: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb
from workbench.monitoring import make_drift_dataset

# Until workbench/cli/__init__.py registers workbench.cli.monitoring, add it here.
_RUNNER = (
    "import sys\n"
    "from workbench import cli\n"
    "from workbench.cli import monitoring\n"
    "if monitoring not in cli.COMMAND_MODULES:\n"
    "    cli.COMMAND_MODULES.append(monitoring)\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    data = make_drift_dataset(1500, n_numeric=3, n_categorical=1, drift=0.75, seed=4)
    paths = {"reference": tmp_path / "ref.parquet", "current": tmp_path / "cur.csv"}
    data.reference.to_parquet(paths["reference"])
    data.current.to_csv(paths["current"], index=False)
    return paths


def test_drift_prints_verdicts_exports_and_logs(
    store_dir: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    html, out = tmp_path / "drift.html", tmp_path / "drift.json"
    args = [str(files["reference"]), str(files["current"]), "--html", str(html), "--json", str(out)]
    done = _cli(store_dir, "drift", *args, "--static-html")
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, output
    assert "DriftReport(DRIFT: 3/4 features drifted" in done.stdout, output
    assert "wasserstein" in done.stdout and "kept as run" in done.stdout, output
    assert json.loads(out.read_text())["dataset_drift"] is True
    assert "<svg" in html.read_text()
    runs = wb.search_runs("drift-reports")
    assert len(runs) == 1, runs


def test_drift_fail_on_drift_exits_1(store_dir: Path, files: dict[str, Path]) -> None:
    args = [str(files["reference"]), str(files["current"]), "--no-log", "--fail-on-drift"]
    done = _cli(store_dir, "drift", *args)
    assert done.returncode == 1
    assert "dataset drift detected" in done.stderr
    same = _cli(
        store_dir,
        "drift",
        str(files["reference"]),
        str(files["reference"]),
        "--no-log",
        "--fail-on-drift",
        "--format",
        "json",
    )
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["dataset_drift"] is False
    assert wb.search_runs("drift-reports").empty


def test_drift_bad_input_exits_2(store_dir: Path, files: dict[str, Path]) -> None:
    done = _cli(store_dir, "drift", str(files["reference"]), "nowhere.csv")
    assert done.returncode == 2
    assert "No such file" in done.stderr


@pytest.fixture
def runs(store_dir: Path) -> dict[str, str]:
    ids = {}
    for name, accuracy, loss in (("champion", 0.86, 0.35), ("challenger", 0.88, 0.31)):
        with wb.start_run("models", name) as run:
            run.log_metrics({"accuracy": accuracy, "log_loss": loss})
        ids[name] = run.run_id
    wb.flush()
    return ids


def test_gate_passes_with_exit_0(store_dir: Path, runs: dict[str, str]) -> None:
    done = _cli(
        store_dir,
        "gate",
        "--candidate",
        runs["challenger"],
        "--baseline",
        runs["champion"],
        "--threshold",
        "accuracy>=0.8",
        "--min-absolute-change",
        "accuracy=0.01",
        "--min-relative-change",
        "log_loss=0.05",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("quality gate: PASSED: 3 check(s) passed.")


def test_gate_failure_exits_1_and_explains(store_dir: Path, runs: dict[str, str]) -> None:
    done = _cli(
        store_dir,
        "gate",
        "--candidate",
        runs["challenger"],
        "--baseline",
        runs["champion"],
        "--threshold",
        "accuracy>=0.9",
        "--min-absolute-change",
        "accuracy=0.05",
        "--format",
        "json",
    )
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["passed"] is False
    assert [c["check"] for c in result["checks"] if not c["passed"]] == [
        "threshold",
        "min_absolute_change",
    ]


def test_gate_usage_errors_exit_2(store_dir: Path, runs: dict[str, str]) -> None:
    done = _cli(store_dir, "gate", "--candidate", runs["challenger"], "--threshold", "accuracy>")
    assert done.returncode == 2 and "METRIC>=VALUE" in done.stderr
    done = _cli(store_dir, "gate", "--candidate", runs["challenger"])
    assert done.returncode == 2 and "at least one rule" in done.stderr


@pytest.mark.slow
def test_drift_names_skipped_columns_and_can_fail_on_schema_changes(
    store_dir: Path, tmp_path: Path
) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    reference = pd.DataFrame({c: rng.normal(size=300) for c in ("good", "gone", "emptied", "text")})
    current = reference.drop(columns="gone").assign(
        emptied=np.nan, text=reference["text"].round(2).astype(str)
    )
    paths = [tmp_path / "ref.parquet", tmp_path / "cur.parquet"]
    reference.to_parquet(paths[0])
    current.to_parquet(paths[1])
    files = [str(p) for p in paths]
    quiet = _cli(store_dir, "drift", *files, "--no-log", "--fail-on-drift")
    assert quiet.returncode == 0, quiet.stderr
    named = "3 NOT TESTED: 'gone' (missing_in_current), 'emptied' (empty), 'text' (type_mismatch)"
    assert named in quiet.stdout
    assert "note: gone (missing_in_current): Column 'gone' is not in the current data." in (
        quiet.stderr
    )
    strict = _cli(store_dir, "drift", *files, "--fail-on-schema-change", "--format", "json")
    assert strict.returncode == 1, strict.stdout
    assert "schema changed: gone (missing_in_current), emptied (empty), text (type_mismatch)" in (
        strict.stderr
    )
    data = json.loads(strict.stdout)
    assert data["schema_changes"] == ["gone", "emptied", "text"]
    assert data["dataset_drift"] is True and data["on_schema_change"] == "drift"
    kept = wb.load_drift_report(wb.search_runs("drift-reports")["run_id"].iloc[0])
    assert kept.dataset_drift and list(kept.schema_changes.index) == ["gone", "emptied", "text"]
