"""Issue 12 item 12: request-log windows end at a watermark and pick up late rows; a new monitor
after a promotion finds the reference the loop used; the baseline after a promotion is measured
forward; the default metric warns on imbalanced targets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.client import connect
from workbench.exceptions import InvalidParameterError
from workbench.monitoring.loop import monitor
from workbench.monitoring.scenario import (
    FEATURES,
    FLOOR,
    TARGET,
    WeatherScenario,
    seattle_weather_scenario,
    train_weather_model,
)
from workbench.serving._request_log import RequestLog

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


def _log_requests(
    log: RequestLog, scenario: WeatherScenario, received: pd.Timestamp, rows: slice
) -> list[str]:
    """One logged request per row of the reference, received at ``received`` (UTC)."""
    frame = scenario.reference.iloc[rows]
    ids = []
    for i, (_, row) in enumerate(frame.iterrows()):
        request_id = f"r-{received.value}-{i}"
        log.log(
            request_id=request_id,
            model_name=NAME,
            model_version=1,
            role="primary",
            received_at_us=received.value // 1000,
            latency_ms=1.0,
            status=200,
            n_rows=1,
            inputs=json.dumps(
                {"columns": list(FEATURES), "data": [[float(row[f]) for f in FEATURES]]}
            ),
            outputs=json.dumps([str(row[TARGET])]),
            error=None,
        )
        ids.append(request_id)
    return ids


def test_request_log_windows_end_at_a_watermark_and_pick_up_late_rows(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor(deployment="dep-late", min_rows=1, settle=2.0, lateness=60.0)
    base = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta("1h")
    clock = {"now": base}
    mon._now = lambda: clock["now"]  # type: ignore[method-assign]
    log = RequestLog(connect(), "dep-late", log_payloads=True)

    def check_at(seconds: int) -> int:
        clock["now"] = base + pd.Timedelta(seconds=seconds)
        step = mon.check()
        return step.n_rows

    early = _log_requests(log, scenario, base + pd.Timedelta("1s"), slice(0, 5))
    settling = _log_requests(log, scenario, base + pd.Timedelta("9s"), slice(5, 8))
    # Check 1 at +10 s: the watermark is +8 s, so the rows received at +9 s wait.
    assert check_at(10) == len(early)
    assert mon.watermark == (base + pd.Timedelta("8s")).tz_localize(None)
    tags = dict(wb.get_run(mon.steps[-1].run_id or "").tags)
    assert tags["monitor.watermark"].startswith(str(mon.watermark.date()))
    # A row received at +7 s becomes visible only now (its server flushed late).
    late = _log_requests(log, scenario, base + pd.Timedelta("7s"), slice(8, 12))
    # Check 2 at +20 s: the rows that settled and the late ones, none of check 1's again.
    assert check_at(20) == len(settling) + len(late)
    # Check 3: nothing new, nothing twice.
    assert check_at(30) == 0 and mon.steps[-1].decision == "skipped"
    seen = early + settling + late
    assert sum(s.n_rows for s in mon.steps) == len(seen) == len(set(seen))
