"""`workbench monitor`: replay a data file window by window, print decisions, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import workbench as wb
from workbench import cli
from workbench.cli import loop
from workbench.monitoring.scenario import FEATURES, WeatherScenario, seattle_weather_scenario

NAME = "seattle-weather"
# Until workbench/cli/__init__.py registers workbench.cli.loop, add it here.
_RUNNER = (
    "import sys\n"
    "from workbench import cli\n"
    "from workbench.cli import loop\n"
    "if loop not in cli.COMMAND_MODULES:\n"
    "    cli.COMMAND_MODULES.append(loop)\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    if loop not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, loop])


@pytest.fixture(scope="module")
def scenario() -> WeatherScenario:
    return seattle_weather_scenario()


@pytest.fixture
def files(store_dir: Path, scenario: WeatherScenario, tmp_path: Path) -> dict[str, Path]:
    """The champion (registered with its training file) and 2013-01 .. 2013-05 as one CSV."""
    scenario.register_champion(data_dir=tmp_path)
    data = tmp_path / "2013.csv"
    pd.concat(scenario.batches[:5]).to_csv(data, index=False)
    return {"data": data, "reference": tmp_path / "reference.csv"}


def _args(store: Path, data: Path, *extra: str, retrain: str = "train_weather_model") -> list[str]:
    return [
        "--store",
        str(store),
        "monitor",
        NAME,
        "--data",
        str(data),
        "--time-column",
        "date",
        "--window",
        "MS",
        "--target",
        "weather",
        "--trigger",
        "performance",
        "--floor",
        "0.5",
        "--retrain",
        f"workbench.monitoring.scenario:{retrain}",
        "--gate",
        "accuracy>=0.7",
        "--gate",
        "accuracy>=champion+0.05",
        *extra,
    ]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_replay_promotes_on_the_drift_and_exits_0(store_dir: Path, files: dict[str, Path]) -> None:
    done = _cli(*_args(store_dir, files["data"], "--replay", "--fail-on-drift"))
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, output
    lines = [line for line in done.stdout.splitlines() if line.startswith("check")]
    assert len(lines) == 5, output
    assert "2013-04-01..2013-04-30" in lines[3] and "fired: performance" in lines[3]
    # Forward evaluation (the default): retrained on April, gated and promoted on May.
    assert lines[3].endswith(f"-> RETRAINED ({NAME}/2)"), output
    assert "2013-05-01..2013-05-31" in lines[4], output
    assert lines[4].endswith(f"-> PROMOTED ({NAME}/2, gate PASSED)"), output
    assert all(line.endswith("-> NO_DRIFT") for line in lines[:3]), output
    assert "accuracy 0.300 < floor 0.5" in done.stdout
    # The runs are in the store, as from the Python API; the reference came from the lineage.
    assert wb.get_model_version(f"{NAME}@champion").version == 2
    runs = wb.search_runs("monitoring", filter="tags.`workbench.kind` = 'monitor_check'")
    assert sorted(runs["tags.workbench.decision"]) == ["no_drift"] * 3 + ["promoted", "retrained"]
    assert runs["params.retrain"].iloc[0] == "workbench.monitoring.scenario:train_weather_model"


@pytest.mark.slow
def test_refused_challenger_fails_the_pipeline(store_dir: Path, files: dict[str, Path]) -> None:
    bad = _args(
        store_dir, files["data"], "--replay", "--fail-on-drift", retrain="train_on_shuffled_labels"
    )
    done = _cli(*bad)
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 1, output
    assert "drift detected and not resolved by a promotion" in done.stderr
    assert f"-> KEPT ({NAME}/2, gate FAILED)" in done.stdout, output
    assert "The gate refused" in done.stdout
    assert wb.get_model_version(f"{NAME}@champion").version == 1


def test_once_checks_the_last_window_and_prints_json(
    store_dir: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(_args(store_dir, files["data"], "--once", "--format", "json"))
    out = capsys.readouterr().out
    assert code == 0
    steps = [json.loads(line) for line in out.splitlines()]
    assert len(steps) == 1 and steps[0]["window_start"] == "2013-05-01"
    assert steps[0]["decision"] == "no_drift" and steps[0]["champion_version"] == 1


def test_whole_file_as_one_window_with_explicit_features(
    store_dir: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--store",
        str(store_dir),
        "monitor",
        f"{NAME}@champion",
        "--data",
        str(files["data"]),
        "--reference",
        str(files["reference"]),
        "--features",
        *FEATURES,
        "--verbose",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    # No target: no performance signal; seasons drift from the 2012 reference, nothing retrains.
    assert out.startswith("check   1  -     151 rows  champion v1 accuracy -  fired: dataset_drift")
    assert out.splitlines()[0].endswith("-> ALARM")
    assert "Alarm: dataset drift (2/4 features). No retrain (on_drift) is configured" in out


def test_bad_arguments_exit_2_with_the_fix(
    store_dir: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(store_dir, files["data"], "--replay", retrain="nope")
    assert cli.main(args) == 2
    assert "has no function 'nope'" in capsys.readouterr().err
    args = _args(store_dir, files["data"])
    args[args.index("--retrain") + 1] = "not-a-spec"
    assert cli.main(args) == 2
    assert "--retrain takes MODULE:FUNCTION" in capsys.readouterr().err
    args = _args(store_dir, files["data"])
    args[args.index("--window") + 1] = "fortnightly"
    assert cli.main(args) == 2
    assert "The 'window' parameter of MonitorPolicy" in capsys.readouterr().err


def test_an_alarm_is_resolved_by_a_later_promotion_of_its_challenger() -> None:
    def step(alarm: bool, decision: str) -> SimpleNamespace:
        return SimpleNamespace(alarm=alarm, promoted=decision == "promoted", decision=decision)

    # Forward evaluation: retrained on the alarm, promoted by the next check.
    assert not loop._unresolved([step(True, "retrained"), step(False, "promoted")])
    assert loop._unresolved([step(False, "no_drift"), step(True, "retrained")])  # still waiting
    assert loop._unresolved([step(True, "promoted"), step(True, "kept")])  # the last alarm counts
    assert not loop._unresolved([step(False, "no_drift")])
