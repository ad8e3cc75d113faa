"""Issue 12 item 12: request-log windows end at a watermark and pick up late rows; a new monitor
after a promotion finds the reference the loop used; the baseline after a promotion is measured
forward; the default metric warns on imbalanced targets."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.exceptions import InvalidParameterError
from workbench.monitoring.loop import monitor
from workbench.monitoring.scenario import (
    FLOOR,
    TARGET,
    WeatherScenario,
    seattle_weather_scenario,
    train_weather_model,
)

NAME = "seattle-weather"


@pytest.fixture(scope="module")
def scenario() -> WeatherScenario:
    return seattle_weather_scenario()


@pytest.fixture
def champion(store_dir: Path, scenario: WeatherScenario) -> wb.ModelVersion:
    return scenario.register_champion()


def _failed_checks() -> int:
    runs = wb.search_runs("monitoring", filter="tags.`workbench.kind` = 'monitor_check'")
    return int((runs["status"] == "failed").sum()) if len(runs) else 0


def test_a_new_monitor_after_a_promotion_uses_the_rows_the_loop_retrained_on(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    # The champion's training data was logged from a DataFrame: no reference to be found...
    bare = monitor(NAME, target=TARGET, performance_floor=FLOOR, on_drift=train_weather_model)
    with pytest.raises(InvalidParameterError, match="whose rows are not stored"):
        bare.check(scenario.batches[0])
    assert _failed_checks() == 0  # ... and no failed check run is left behind

    drift = scenario.monitor().run(scenario.batches[2:4])[-1]
    assert drift.decision == "promoted" and drift.new_champion_version == 2
    retrain = wb.get_run(drift.links["retrain"])
    assert "training.parquet" in {a.path.rsplit("/", 1)[-1] for a in retrain.artifacts}

    fresh = monitor(NAME, target=TARGET, performance_floor=FLOOR, on_drift=train_weather_model)
    step = fresh.check(scenario.batches[4])
    assert step.champion_version == 2 and step.decision != "skipped"
    report = wb.load_drift_report(step.links["drift_report"])
    assert "training data of model seattle-weather/2" in report.sources["reference"]
    assert report.reference_rows == drift.n_train
    assert _failed_checks() == 0
