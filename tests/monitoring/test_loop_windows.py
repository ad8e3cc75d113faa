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

    drift = scenario.monitor(evaluation="holdout").run(scenario.batches[2:4])[-1]
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


def test_the_baseline_after_a_promotion_is_measured_forward_not_on_the_held_out_rows(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor(evaluation="holdout", max_performance_drop=0.15)
    april, may, june = mon.run(scenario.batches[3:6])
    assert april.decision == "promoted" and april.challenger_holdout is not None
    # May is the first window the promoted model serves: it sets the baseline, it is not
    # compared with the held-out score of April (optimistic: same month as its training).
    assert may.champion_version == 2 and may.baseline is None
    assert may.decision == "no_drift"
    assert june.baseline == pytest.approx(may.champion_metric)
    assert june.baseline != pytest.approx(april.challenger_holdout)


def test_forward_evaluation_gates_the_challenger_on_the_next_window(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor(max_performance_drop=0.15)  # forward is the default
    april, may, june = mon.run(scenario.batches[3:6])
    # April fires: retrained on all of April's labelled days, not promoted yet.
    assert april.decision == "retrained" and april.challenger_version == 2
    assert april.n_train == april.n_labelled and april.gate is None
    assert april.new_champion_version == 1
    assert "scored on the next labelled window" in " ".join(april.explain())
    # May: both scored on May (after the challenger's training window), then the gate.
    assert may.evaluation == "forward" and may.n_holdout == may.n_labelled
    assert may.champion_holdout == pytest.approx(may.champion_metric)
    assert may.decision == "promoted" and may.new_champion_version == 2
    assert "(forward)" in " ".join(may.explain())
    moves = wb.alias_history(NAME, "champion")
    assert list(moves["to_version"]) == [1, 2] and "monitor check 2 " in moves["reason"].iloc[-1]
    # The baseline of the promoted model is its forward score on May.
    assert june.champion_version == 2 and june.baseline == pytest.approx(may.challenger_holdout)
    gates = wb.model_card(f"{NAME}/2").gates
    assert [g.passed for g in gates] == [True]


def test_accuracy_on_an_imbalanced_target_warns_once(
    scenario: WeatherScenario, champion: wb.ModelVersion, caplog: pytest.LogCaptureFixture
) -> None:
    mon = scenario.monitor()
    # July 2013: 'sun' is most days, the rare wet days are what the model is for.
    july = scenario.batches[6]
    share = july[TARGET].value_counts(normalize=True).iloc[0]
    assert share >= 0.8, share
    with caplog.at_level("WARNING", logger="workbench.monitoring.loop"):
        first = mon.check(july)
        again = mon.check(july)
    assert "metric='accuracy' on an imbalanced target" in first.reason
    assert "weather='sun' is 87% of the labelled rows" in first.reason
    assert "imbalanced" not in again.reason  # once per monitor
    assert sum("imbalanced target" in r.message for r in caplog.records) == 1
    f1 = scenario.monitor(metric="f1", gate=["f1>=champion"]).check(july)
    assert f1.metric == "f1" and "imbalanced" not in f1.reason
