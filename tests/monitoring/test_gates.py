"""Gates follow MLflow's MetricThreshold semantics: the documented cases, check by check."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.exceptions import InvalidParameterError, WorkbenchError
from workbench.monitoring import GateFailedError, MetricThreshold, check_gate, validate


def _failed(candidate: dict[str, float], baseline: dict[str, float] | None, rules: dict) -> set:
    result = validate(candidate, baseline, rules)
    return {(c.metric, c.check) for c in result.failures}


ACC = MetricThreshold(threshold=0.9, greater_is_better=True)
F1 = MetricThreshold(threshold=0.8, greater_is_better=True)
LOG_LOSS = MetricThreshold(threshold=0.5, greater_is_better=False)
L1 = MetricThreshold(threshold=0.3, greater_is_better=False)


@pytest.mark.parametrize(
    ("metrics", "rules", "failed"),
    [
        ({"accuracy": 0.8}, {"accuracy": ACC}, {("accuracy", "threshold")}),
        (
            {"accuracy": 0.8, "f1": 0.7},
            {"accuracy": ACC, "f1": F1},
            {("accuracy", "threshold"), ("f1", "threshold")},
        ),
        ({"l1": 0.5}, {"l1": L1}, {("l1", "threshold")}),
        ({}, {"accuracy": ACC}, {("accuracy", "presence")}),
        (
            {"accuracy": 0.8, "f1": 0.7, "log_loss": 0.3},
            {"accuracy": ACC, "f1": F1, "log_loss": LOG_LOSS},
            {("accuracy", "threshold"), ("f1", "threshold")},
        ),
        ({"accuracy": 0.9, "log_loss": 0.5}, {"accuracy": ACC, "log_loss": LOG_LOSS}, set()),
        ({"accuracy": 0.91}, {"accuracy": ACC}, set()),
        ({"log_loss": 0.3}, {"log_loss": LOG_LOSS}, set()),
    ],
    ids=[
        "single-higher-fails",
        "multiple-higher-fail",
        "single-lower-fails",
        "missing-candidate",
        "not-all-satisfied",
        "equality-boundary",
        "single-higher-passes",
        "single-lower-passes",
    ],
)
def test_value_thresholds(metrics: dict, rules: dict, failed: set) -> None:
    assert _failed(metrics, None, rules) == failed


ABS_ACC = MetricThreshold(min_absolute_change=0.1, greater_is_better=True)
ABS_F1 = MetricThreshold(min_absolute_change=0.15, greater_is_better=True)
ABS_LOSS = MetricThreshold(min_absolute_change=0.1, greater_is_better=False)
ABS_L1 = MetricThreshold(min_absolute_change=0.15, greater_is_better=False)


@pytest.mark.parametrize(
    ("metrics", "baseline", "rules", "failed"),
    [
        ({"accuracy": 0.79}, {"accuracy": 0.7}, {"accuracy": ABS_ACC}, {"accuracy"}),
        (
            {"accuracy": 0.79, "f1": 0.8},
            {"accuracy": 0.7, "f1": 0.7},
            {"accuracy": ABS_ACC, "f1": ABS_F1},
            {"accuracy", "f1"},
        ),
        ({"l1": 0.5}, {"l1": 0.6}, {"l1": ABS_L1}, {"l1"}),
        (
            {"l1": 0.5, "log_loss": 0.45},
            {"l1": 0.6, "log_loss": 0.3},
            {"l1": ABS_L1, "log_loss": ABS_LOSS},
            {"l1", "log_loss"},
        ),
        ({"l1": 0.72}, None, {"l1": ABS_L1}, {"l1"}),
        (
            {"accuracy": 0.8 + 1e-10, "log_loss": 0.2 - 1e-10},
            {"accuracy": 0.7, "log_loss": 0.3},
            {"accuracy": ABS_ACC, "log_loss": ABS_LOSS},
            set(),
        ),
        (
            {"accuracy": 0.8, "log_loss": 0.2},
            {"accuracy": 0.7, "log_loss": 0.3},
            {"accuracy": ABS_ACC, "log_loss": ABS_LOSS},
            set(),
        ),
        ({"accuracy": 0.91}, {"accuracy": 0.8}, {"accuracy": ABS_ACC}, set()),
        ({"log_loss": 0.3}, {"log_loss": 0.401}, {"log_loss": ABS_LOSS}, set()),
        (
            {"accuracy": 0.9, "f1": 0.8, "log_loss": 0.3},
            {"accuracy": 0.7, "f1": 0.6, "log_loss": 0.5},
            {"accuracy": ABS_ACC, "f1": ABS_F1, "log_loss": ABS_LOSS},
            set(),
        ),
    ],
    ids=[
        "single-higher-fails",
        "multiple-higher-fail",
        "single-lower-fails",
        "multiple-lower-fail",
        "missing-baseline",
        "equality-boundary-mlflow",
        "equality-boundary-exact",
        "single-higher-passes",
        "single-lower-passes",
        "all-satisfied",
    ],
)
def test_min_absolute_change(
    metrics: dict, baseline: dict | None, rules: dict, failed: set
) -> None:
    assert {m for m, _ in _failed(metrics, baseline, rules)} == failed


REL_ACC = MetricThreshold(min_relative_change=0.1, greater_is_better=True)
REL_F1 = MetricThreshold(min_relative_change=0.15, greater_is_better=True)
REL_LOSS = MetricThreshold(min_relative_change=0.15, greater_is_better=False)
REL_L1 = MetricThreshold(min_relative_change=0.1, greater_is_better=False)


@pytest.mark.parametrize(
    ("metrics", "baseline", "rules", "failed"),
    [
        ({"accuracy": 0.75}, {"accuracy": 0.7}, {"accuracy": REL_ACC}, {"accuracy"}),
        (
            {"accuracy": 0.53, "f1": 0.8},
            {"accuracy": 0.5, "f1": 0.7},
            {"accuracy": REL_ACC, "f1": REL_F1},
            {"accuracy", "f1"},
        ),
        ({"l1": 0.55}, {"l1": 0.6}, {"l1": REL_L1}, {"l1"}),
        (
            {"l1": 0.72 + 1e-3, "log_loss": 0.27 + 1e-5},
            {"l1": 0.8, "log_loss": 0.3},
            {"l1": REL_L1, "log_loss": REL_LOSS},
            {"l1", "log_loss"},
        ),
        ({"l1": 0.72}, None, {"l1": REL_L1}, {"l1"}),
        ({"metric_1": 0}, {"metric_1": 0}, {"metric_1": REL_ACC}, {"metric_1"}),
        (
            {"accuracy": 0.77, "log_loss": 0.3 * 0.85 - 1e-10},
            {"accuracy": 0.7, "log_loss": 0.3},
            {"accuracy": REL_ACC, "log_loss": REL_LOSS},
            set(),
        ),
        ({"accuracy": 0.99 + 1e-10}, {"accuracy": 0.9}, {"accuracy": REL_ACC}, set()),
        ({"log_loss": 0.3}, {"log_loss": 0.4}, {"log_loss": REL_LOSS}, set()),
        (
            {"accuracy": 0.9, "f1": 0.9, "log_loss": 0.3},
            {"accuracy": 0.7, "f1": 0.6, "log_loss": 0.5},
            {"accuracy": REL_ACC, "f1": REL_F1, "log_loss": REL_LOSS},
            set(),
        ),
        ({"metric_1": 1e-10}, {"metric_1": 0}, {"metric_1": REL_ACC}, set()),
    ],
    ids=[
        "single-higher-fails",
        "multiple-higher-fail",
        "single-lower-fails",
        "multiple-lower-fail",
        "missing-baseline",
        "zero-baseline-fails",
        "equality-boundary",
        "single-higher-passes",
        "single-lower-passes",
        "all-satisfied",
        "zero-baseline-passes",
    ],
)
def test_min_relative_change(
    metrics: dict, baseline: dict | None, rules: dict, failed: set
) -> None:
    assert {m for m, _ in _failed(metrics, baseline, rules)} == failed


def test_relative_change_uses_the_size_of_a_negative_baseline() -> None:
    rule = {"neg_loss": MetricThreshold(min_relative_change=0.1, greater_is_better=True)}
    assert _failed({"neg_loss": -0.8}, {"neg_loss": -1.0}, rule) == set()  # 20 % better
    assert _failed({"neg_loss": -1.2}, {"neg_loss": -1.0}, rule) == {
        ("neg_loss", "min_relative_change")
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": "high", "greater_is_better": True}, "'threshold' parameter"),
        ({"min_absolute_change": -1, "greater_is_better": True}, "a positive number"),
        ({"min_absolute_change": "x", "greater_is_better": True}, "a positive number"),
        ({"min_relative_change": -0.1, "greater_is_better": True}, "between 0 and 1"),
        ({"min_relative_change": 2, "greater_is_better": True}, "between 0 and 1"),
        ({"threshold": 1}, "greater_is_better"),
        ({"threshold": 1, "greater_is_better": 1}, "True or False"),
        ({"greater_is_better": True}, "No threshold was specified"),
    ],
)
def test_metric_threshold_is_validated(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        MetricThreshold(**kwargs)


def test_result_explains_each_check_and_raises_a_dedicated_error() -> None:
    rules = {
        "accuracy": MetricThreshold(
            threshold=0.8, min_absolute_change=0.02, greater_is_better=True
        ),
        "log_loss": MetricThreshold(threshold=0.4, greater_is_better=False),
    }
    result = validate({"accuracy": 0.85, "log_loss": 0.3}, {"accuracy": 0.84}, rules)
    assert not result.passed
    text = result.explain()
    assert text.splitlines()[0] == "quality gate: FAILED: 1 of 3 check(s) failed."
    assert "[FAIL] accuracy = 0.85 >= baseline 0.84 + 0.02 = 0.86: not met" in text
    assert "[pass] log_loss = 0.3 <= 0.4" in text
    with pytest.raises(GateFailedError, match=r"accuracy = 0\.85") as caught:
        result.raise_for_failure()
    assert isinstance(caught.value, WorkbenchError) and caught.value.result is result
    assert result.to_dict()["passed"] is False
    assert "❌" in result._repr_mimebundle_()["text/html"]
    assert validate({"accuracy": 0.9}, {"accuracy": 0.84}, {"accuracy": rules["accuracy"]}).passed


def test_runs_as_candidate_and_baseline(store_dir: Path) -> None:
    with wb.start_run("models", "champion") as champion:
        champion.log_metric("auc", 0.90)
    with wb.start_run("models", "challenger") as challenger:
        challenger.log_metric("auc", 0.93)
    rules = {"auc": MetricThreshold(min_absolute_change=0.02, greater_is_better=True)}
    result = check_gate(challenger.run_id, champion.run_id, rules)
    assert result.passed and result.candidate == challenger.run_id
    assert check_gate(challenger, wb.get_run(champion.run_id), rules).passed
    with pytest.raises(GateFailedError):
        check_gate(champion.run_id, challenger.run_id, rules)
    with pytest.raises(InvalidParameterError, match="run id"):
        validate("no-such-model", None, {"auc": rules["auc"]})


@pytest.mark.parametrize(
    "thresholds", [{}, {"auc": 0.9}, {1: MetricThreshold(threshold=1, greater_is_better=True)}]
)
def test_thresholds_must_be_metric_thresholds(thresholds: dict) -> None:
    with pytest.raises(InvalidParameterError, match="MetricThreshold"):
        validate({"auc": 1.0}, None, thresholds)
