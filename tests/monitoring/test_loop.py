"""The closed loop on real data: drift -> retrain -> gate -> promote (or keep), every step a run."""

from __future__ import annotations

import importlib
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.exceptions import InvalidParameterError
from workbench.monitoring._sources import resolve_data
from workbench.monitoring.gates import MetricThreshold
from workbench.monitoring.loop import LoopStep, Monitor, MonitorPolicy, monitor, parse_gate
from workbench.monitoring.scenario import (
    FEATURES,
    FLOOR,
    GATE,
    LABEL_CHANGE,
    TARGET,
    WeatherScenario,
    make_drift_stream,
    seattle_weather_scenario,
    train_on_shuffled_labels,
    train_weather_model,
)
from workbench.registry import GateOutcome

NAME = "seattle-weather"
T = TypeVar("T")


@pytest.fixture(scope="module")
def scenario() -> WeatherScenario:
    return seattle_weather_scenario()


@pytest.fixture
def champion(store_dir: Path, scenario: WeatherScenario) -> wb.ModelVersion:
    return scenario.register_champion()


def _tags(run_id: str) -> dict[str, str]:
    return dict(wb.get_run(run_id).tags)


def _decision(gate: object) -> str:
    assert isinstance(gate, GateOutcome) and gate.name.startswith("monitor gate (")
    return str(gate.details["decision"])


def test_drift_retrain_gate_promote_and_accuracy_recovers(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor()  # the default evaluation: forward, on the next labelled window
    steps = mon.run(scenario.batches[:8])  # 2013-01 .. 2013-08; labels change 2013-04-01

    before, drift, gated, after = steps[:3], steps[3], steps[4], steps[5:]
    assert [s.decision for s in before] == ["no_drift"] * 3
    assert all(s.champion_metric is not None and s.champion_metric >= FLOOR for s in before)
    assert drift.window_start == LABEL_CHANGE
    assert drift.fired == ("performance",) and drift.signals["performance"] is True
    assert drift.champion_metric is not None and drift.champion_metric < FLOOR
    # April: retrained on all its labelled days; it waits at the challenger alias.
    assert drift.decision == "retrained" and not drift.promoted and drift.gate is None
    assert (drift.champion_version, drift.challenger_version, drift.new_champion_version) == (
        1,
        2,
        1,
    )
    assert drift.n_train == drift.n_labelled
    # May: both models scored on May, which neither was trained on; the gate promotes.
    assert gated.evaluation == "forward" and gated.decision == "promoted" and gated.promoted
    assert gated.gate is not None and gated.gate.passed
    assert gated.challenger_holdout is not None and gated.champion_holdout is not None
    assert gated.challenger_holdout >= gated.champion_holdout + 0.05
    assert gated.n_holdout == gated.n_labelled
    # Served traffic follows the alias: the champion is now version 2, and it is right again.
    assert wb.get_model_version(f"{NAME}@champion").version == 2
    assert all(s.champion_version == 2 and s.decision == "no_drift" for s in after)
    recovered = np.mean([s.champion_metric for s in after])
    assert recovered >= 0.75 > drift.champion_metric + 0.4

    history = mon.history()
    assert list(history["decision"]) == (
        ["no_drift"] * 3 + ["retrained", "promoted"] + ["no_drift"] * 3
    )
    assert list(history["new_champion_version"]) == [1, 1, 1, 1, 2, 2, 2, 2]
    assert history["champion_accuracy"].iloc[3] == pytest.approx(drift.champion_metric)
    print(
        "\nchampion accuracy by month, 2013-01 .. 2013-08:",
        [round(x, 3) for x in history["champion_accuracy"]],
    )


def test_every_step_is_a_run_with_links(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    steps = scenario.monitor(evaluation="holdout").run(scenario.batches[2:4])
    quiet, drift = steps
    tags = _tags(drift.links["check"])
    assert tags["workbench.kind"] == "monitor_check"
    assert tags["workbench.model"] == NAME
    assert tags["workbench.decision"] == "promoted"
    assert tags["workbench.challenger_version"] == "2"
    assert tags["workbench.gate_passed"] == "true"
    for link in ("drift_report", "retrain", "evaluation", "champion_evaluation"):
        assert tags[f"workbench.{link}_run"] == drift.links[link]
    assert _tags(drift.links["drift_report"])["workbench.kind"] == "drift_report"
    report = wb.load_drift_report(drift.links["drift_report"])
    assert report.target == TARGET and set(FEATURES) <= set(report.columns.index)
    retrain = wb.get_run(drift.links["retrain"])
    assert retrain.tags["workbench.kind"] == "retrain"
    assert retrain.tags["workbench.registered_version"] == f"{NAME}/2"
    assert [i.context for i in retrain.inputs] == ["training"]
    assert wb.get_model_version(f"{NAME}/2").run_id == retrain.run_id
    challenger_eval = wb.get_run(drift.links["evaluation"])
    assert challenger_eval.tags["evaluation.model"] == f"{NAME}/2"
    assert challenger_eval.metrics["accuracy"] == pytest.approx(drift.challenger_holdout)
    champion_eval = wb.get_run(drift.links["champion_evaluation"])
    assert champion_eval.metrics["accuracy"] == pytest.approx(drift.champion_holdout)
    for child in ("drift_report", "retrain", "evaluation", "champion_evaluation"):
        assert wb.get_run(drift.links[child]).parent_id == drift.run_id
    check = wb.get_run(drift.links["check"])
    assert check.experiment == "monitoring"
    assert check.metrics["promoted"] == 1.0 and check.metrics["gate_passed"] == 1.0
    assert check.params["triggers"] == "performance"
    stored = wb.load_artifact(drift.links["check"], "loop_step.json")
    assert stored["decision"] == "promoted" and stored["links"] == dict(drift.links)
    assert _tags(quiet.links["check"])["workbench.decision"] == "no_drift"
    assert "workbench.retrain_run" not in _tags(quiet.links["check"])
    found = wb.search_runs(
        "monitoring", filter="tags.`workbench.kind` = 'monitor_check'", order_by="start_time"
    )
    assert list(found["tags.workbench.decision"]) == ["no_drift", "promoted"]

    # The alias history shows the promotion and why; the model card shows the gate.
    moves = wb.alias_history(NAME, "champion")
    assert list(zip(moves["from_version"], moves["to_version"], strict=True))[-1] == (1, 2)
    reason = moves["reason"].iloc[-1]
    assert f"monitor check 2 (run {drift.run_id})" in reason
    assert "accuracy 0.300 < floor 0.5" in reason and "Gate passed" in reason
    challenger_moves = wb.alias_history(NAME, "challenger")
    assert list(challenger_moves["to_version"]) == [2]
    gates = wb.model_card(f"{NAME}/2").gates
    assert [(g.passed, _decision(g)) for g in gates] == [(True, "promoted")]


def test_gate_refuses_a_worse_model_and_the_champion_stays(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor(evaluation="holdout", retrain=train_on_shuffled_labels)
    step = mon.run(scenario.batches[:4])[-1]
    assert step.fired == ("performance",)
    assert step.decision == "kept" and not step.promoted
    assert step.challenger_version == 2 and step.new_champion_version == 1
    assert step.gate is not None and not step.gate.passed
    assert [c.check for c in step.gate.failures] == ["threshold"]
    assert "The gate refused seattle-weather/2" in step.reason
    assert "accuracy = 0.555556 >= 0.7: not met" in step.reason
    assert "The champion stays v1" in step.reason
    assert wb.get_model_version(f"{NAME}@champion").version == 1
    assert wb.get_model_version(f"{NAME}@challenger").version == 2
    assert list(wb.alias_history(NAME, "champion")["to_version"]) == [1]
    tags = _tags(step.links["check"])
    assert tags["workbench.decision"] == "kept" and tags["workbench.gate_passed"] == "false"
    assert "The gate refused" in tags["monitor.reason"]
    gates = wb.model_card(f"{NAME}/2").gates
    assert [(g.passed, _decision(g)) for g in gates] == [(False, "kept")]
    text = "\n".join(step.explain())
    assert "[FAIL] accuracy = 0.555556 >= 0.7: not met" in text
    # The next month the old champion is still bad (0.58 on May), but above the floor: no alarm.
    assert mon.check(scenario.batches[4]).decision == "no_drift"


@pytest.mark.slow
def test_full_replay_alarms_only_on_real_drops(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    """36 months: the alarm fires at the label change and three times later, never before."""
    mon = scenario.monitor(evaluation="holdout")
    history = pd.DataFrame([s.row() for s in mon.run(scenario.batches)])
    alarms = history[history["alarm"]]
    starts = [str(s)[:7] for s in alarms["window_start"]]
    assert starts[0] == "2013-04" and len(starts) <= 4, starts
    assert (alarms["decision"] == "promoted").all()
    # Every alarm is a real drop below the floor; no month below the floor went unnoticed.
    assert (history["champion_accuracy"] < FLOOR).tolist() == history["alarm"].tolist()
    loop = history["champion_accuracy"]
    # Without the loop, the 2012 champion on the same months:
    model = train_weather_model(scenario.reference)
    frozen = [
        float((model.predict(b[list(FEATURES)]) == b[TARGET]).mean()) for b in scenario.batches
    ]
    after = slice(4, None)  # 2013-05 .. 2015-12
    assert loop[after].mean() >= 0.75 and np.mean(frozen[after]) < 0.5
    print(
        f"\nalarms {starts}; accuracy 2013-05..2015-12: loop {loop[after].mean():.3f}, "
        f"frozen 2012 champion {np.mean(frozen[after]):.3f}; pre-drift "
        f"{[round(x, 3) for x in loop[:3]]}, drift window {loop[3]:.3f}, first month after "
        f"promotion {loop[4]:.3f}"
    )


def test_feature_drift_fires_on_seasons_so_the_scenario_watches_performance(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor(triggers=("dataset_drift",), retrain=None)
    steps = mon.run(scenario.batches[:3])  # before the label change: the model is right
    assert all(s.signals["dataset_drift"] for s in steps)
    assert all(s.champion_metric is not None and s.champion_metric >= FLOOR for s in steps)
    assert [s.decision for s in steps] == ["alarm"] * 3
    assert "No retrain (on_drift) is configured" in steps[0].reason
    assert "dataset drift (2/4 features)" in steps[0].reason


def test_promote_false_leaves_the_challenger_for_review(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    step = scenario.monitor(evaluation="holdout", promote=False).check(scenario.batches[3])
    assert step.decision == "kept" and step.gate is not None and step.gate.passed
    assert "promote=False" in step.reason
    assert wb.get_model_version(f"{NAME}@champion").version == 1
    assert wb.get_model_version(f"{NAME}@challenger").version == 2


def test_reference_from_lineage_and_retrain_window(
    scenario: WeatherScenario, store_dir: Path, tmp_path: Path
) -> None:
    scenario.register_champion(data_dir=tmp_path / "data")
    mon = monitor(
        NAME,
        target=TARGET,
        time_column="date",
        triggers=["performance"],
        performance_floor=FLOOR,
        on_drift=train_weather_model,
        gate=GATE,
        retrain_window="45D",
        evaluation="holdout",
    )
    steps = mon.run(scenario.batches[2:4])
    assert "reference.csv" in wb.get_run(steps[0].links["drift_report"]).tags["drift.reference"]
    drift = steps[1]
    # March's days within 45 days of 2013-04-30, plus April's days that were not held out.
    march = scenario.batches[2]["date"]
    assert (
        drift.n_train == int((march > pd.Timestamp("2013-04-30") - pd.Timedelta("45D")).sum()) + 21
    )


def test_small_windows_are_skipped_and_unlabelled_alarms_cannot_retrain(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor(min_rows=20, triggers=("dataset_drift",))
    skipped = mon.check(scenario.batches[3].head(5))
    assert skipped.decision == "skipped" and "fewer than min_rows=20" in skipped.reason
    unlabelled = scenario.batches[6].drop(columns=[TARGET])
    step = mon.check(unlabelled)
    assert step.fired == ("dataset_drift",) and step.decision == "alarm"
    assert step.champion_metric is None and "retraining and the gate need labels" in step.reason


def test_loop_step_renders_and_serializes(
    scenario: WeatherScenario, champion: wb.ModelVersion
) -> None:
    mon = scenario.monitor(evaluation="holdout")
    step = mon.check(scenario.batches[3])
    assert isinstance(step, LoopStep)
    bundle = step._repr_mimebundle_()
    assert "PROMOTED" in bundle["text/plain"] and "PROMOTED" in bundle["text/html"]
    assert (
        "Check 1 of seattle-weather (champion v1), window 2013-04-01 .. 2013-04-30"
        in (bundle["text/plain"])
    )
    json.dumps(step.to_dict())
    assert repr(step).startswith("LoopStep(check 1, 2013-04-01 .. 2013-04-30 (30 rows)")
    assert "<table" in mon._repr_mimebundle_()["text/html"]
    figure = mon.to_figure()
    assert [t.name for t in figure.data][:2] == ["champion_accuracy", "promoted"]


def test_policy_and_monitor_validate_their_arguments(store_dir: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'triggers' parameter of MonitorPolicy"):
        MonitorPolicy(model="m", triggers=("seasons",))
    with pytest.raises(InvalidParameterError, match="performance_floor= or max_performance_drop"):
        MonitorPolicy(model="m", target="y", triggers=("performance",))
    with pytest.raises(InvalidParameterError, match="'target' parameter of MonitorPolicy"):
        MonitorPolicy(model="m", performance_floor=0.5)
    with pytest.raises(InvalidParameterError, match="'window' parameter of MonitorPolicy"):
        MonitorPolicy(model="m", window="fortnightly")
    with pytest.raises(InvalidParameterError, match="'holdout' parameter"):
        MonitorPolicy(model="m", holdout=1.5)
    with pytest.raises(InvalidParameterError, match="'retrain' parameter"):
        MonitorPolicy(model="m", retrain="train.py")
    with pytest.raises(InvalidParameterError, match="'model' parameter of MonitorPolicy"):
        MonitorPolicy(model="m@champion")
    with pytest.raises(InvalidParameterError, match="'model' parameter of monitor"):
        monitor("m/3")
    with pytest.raises(InvalidParameterError, match="'gate' parameter"):
        MonitorPolicy(model="m", gate=["accuracy > 0.7"])
    with pytest.raises(InvalidParameterError, match=r"'batch' parameter of Monitor\.check"):
        Monitor(MonitorPolicy(model="m")).check()
    assert MonitorPolicy(model="m", target="y", performance_floor=0.5).triggers == (
        "dataset_drift",
        "performance",
    )
    assert MonitorPolicy(model="m", metric="log_loss").greater_is_better is False


def test_parse_gate_reads_thresholds_and_champion_comparisons() -> None:
    rules = parse_gate(["accuracy>=0.7", "accuracy>=champion+0.05", "log_loss<=champion"])
    assert rules["accuracy"] == MetricThreshold(
        threshold=0.7, min_absolute_change=0.05, greater_is_better=True
    )
    assert rules["log_loss"] == MetricThreshold(min_relative_change=0.0, greater_is_better=False)
    with pytest.raises(InvalidParameterError, match="one direction"):
        parse_gate(["accuracy>=0.7", "accuracy<=0.9"])
    with pytest.raises(InvalidParameterError, match="asks for an improvement"):
        parse_gate("accuracy>=champion-0.1")


def test_synthetic_stream_drifts_once_and_scales() -> None:
    stream = make_drift_stream(200_000, n_features=6, drift_at=0.5, seed=1)
    assert list(stream.columns) == ["time", "x0", "x1", "x2", "x3", "x4", "x5", "y"]
    assert stream["time"].is_monotonic_increasing and stream["y"].isin([0, 1]).all()
    from sklearn.linear_model import LogisticRegression

    first, second = stream.iloc[:100_000], stream.iloc[100_000:]
    features = [f"x{i}" for i in range(6)]
    model = LogisticRegression().fit(first[features], first["y"])
    before = model.score(first[features], first["y"])
    after = model.score(second[features], second["y"])
    assert before > 0.85 and after < 0.6
    assert make_drift_stream(10, seed=3).equals(make_drift_stream(10, seed=3))


@pytest.mark.slow
def test_notebook_retrain_with_papermill(
    scenario: WeatherScenario, champion: wb.ModelVersion, tmp_path: Path
) -> None:
    pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('training_data = ""\nmodel_name = ""')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        parameters,
        nbformat.v4.new_code_cell(
            "import pandas as pd\n"
            "import workbench as wb\n"
            "from workbench.monitoring.scenario import FEATURES, train_weather_model\n"
            "frame = pd.read_parquet(training_data)\n"
            "with wb.start_run('notebook-retrain') as run:\n"
            "    model = train_weather_model(frame)\n"
            "    run.log_metric('rows', len(frame))\n"
            "wb.register_model(model_name, run=run, model=model,\n"
            "                  input_example=frame[list(FEATURES)])\n"
        ),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    path = tmp_path / "retrain.ipynb"
    nbformat.write(notebook, path)
    step = scenario.monitor(evaluation="holdout", retrain=path).check(scenario.batches[3])
    assert step.decision == "promoted" and step.challenger_version == 2
    version = wb.get_model_version(f"{NAME}@champion")
    assert version.version == 2
    assert wb.get_run(version.run_id).experiment == "notebook-retrain"
    retrain = wb.get_run(step.links["retrain"])
    assert retrain.tags["monitor.notebook"] == str(path)
    assert retrain.tags["workbench.registered_version"] == f"{NAME}/2"
    if importlib.util.find_spec("workbench.pipelines") is not None:
        # The execution is a pipelines run keeping the executed notebook and the runs it made.
        executions = wb.search_runs("pipelines", filter="tags.`workbench.kind` = 'notebook'")
        assert len(executions) == 1
        assert version.run_id in executions["tags.notebook.runs"].iloc[0]


def test_notebook_retrain_needs_papermill(
    scenario: WeatherScenario, champion: wb.ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from workbench.monitoring import _retrain

    monkeypatch.setitem(sys.modules, "papermill", None)
    with pytest.raises(ImportError, match="pip install papermill"):
        _retrain._retrain_with_notebook(
            "x.ipynb", {"model_name": NAME, "training_data": "t"}, wb.connect()
        )


def _deploy() -> object | None:
    try:
        serving = importlib.import_module("workbench.serving")
    except ImportError:
        return None
    return getattr(serving, "deploy", None)


@pytest.mark.slow
@pytest.mark.skipif(
    _deploy() is None, reason="workbench.serving.deploy does not exist yet; rerun when it does"
)
def test_promotion_switches_a_live_deployment_without_restart(
    scenario: WeatherScenario, champion: wb.ModelVersion, store_dir: Path
) -> None:
    import httpx
    import psutil

    from workbench.serving import deploy

    april = scenario.batches[3]
    payload = {
        "dataframe_split": {
            "columns": list(FEATURES),
            "data": april[list(FEATURES)].to_numpy().tolist(),
        }
    }
    deployment = deploy(f"{NAME}@champion", client=wb.connect(store_dir), refresh_interval=0.2)
    with deployment, httpx.Client(base_url=deployment.url, timeout=30.0, trust_env=False) as http:
        first = http.post("/invocations", json=payload)
        assert first.status_code == 200 and first.headers["x-model-version"] == f"{NAME}/1"
        assert "rain" in first.json()["predictions"]
        # The request log is a window source: "deployment:<id>" reads what was served.
        # Rows become visible as the server's journal is ingested, maybe in several batches.
        logged = _wait_for(lambda: _logged(deployment.deployment_id, rows=len(april)), timeout=20)
        assert len(logged) == len(april) and "prediction" in logged.columns

        server = psutil.Process(deployment.pid)
        started = server.create_time()
        mon = monitor(
            deployment,
            target=TARGET,
            triggers=["performance"],
            performance_floor=FLOOR,
            on_drift=train_weather_model,
            gate=GATE,
            reference=scenario.reference,
            settle=0,  # the rows waited for above are visible: no need to let them settle
            evaluation="holdout",
        )
        assert mon.policy.deployment == deployment.deployment_id
        step = mon.check(april)  # the served rows, joined with the day's label
        assert step.decision == "promoted" and step.new_champion_version == 2
        tags = _tags(step.run_id or "")
        assert tags["workbench.deployment"] == deployment.deployment_id

        def served() -> httpx.Response | None:
            response = http.post("/invocations", json=payload)
            return response if response.headers["x-model-version"] == f"{NAME}/2" else None

        switched = _wait_for(served, timeout=20)
        predictions = switched.json()["predictions"]
        assert "rain" not in predictions and "fog" in predictions
        assert server.is_running() and server.create_time() == started  # no restart
        assert deployment.status().alive

        # Without a batch, a deployment's monitor reads its request log.
        unlabelled = mon.check()
        assert unlabelled.n_rows >= len(april) and unlabelled.champion_metric is None


def _logged(deployment_id: str, rows: int) -> pd.DataFrame | None:
    """The deployment's request log once it holds ``rows`` rows (None before)."""
    try:
        frame, _ = resolve_data(f"deployment:{deployment_id}", name="current", caller="test")
    except InvalidParameterError:
        return None
    return frame if len(frame) >= rows else None


def _wait_for(probe: Callable[[], T | None], *, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s")
