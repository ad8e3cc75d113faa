"""evaluate(): metrics equal scikit-learn's, fairness by group, everything logged to a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

import workbench as wb
from workbench.exceptions import InvalidParameterError
from workbench.monitoring import MetricThreshold, estimate_performance, evaluate, validate


@pytest.fixture(scope="module")
def binary() -> tuple[LogisticRegression, pd.DataFrame]:
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    features = features.iloc[:, :6]
    model = LogisticRegression(max_iter=5000).fit(features.iloc[::2], target.iloc[::2])
    test = features.iloc[1::2].assign(
        target=target.iloc[1::2], group=np.where(np.arange(len(features))[1::2] % 3, "a", "b")
    )
    return model, test


def test_binary_metrics_match_sklearn(
    store_dir: Path, binary: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, test = binary
    features = test[model.feature_names_in_]
    proba = model.predict_proba(features)
    result = evaluate(model, test, target="target", log=False)
    assert result.task == "classification" and result.run_id is None
    assert result.metrics["accuracy"] == pytest.approx(
        accuracy_score(test["target"], model.predict(features))
    )
    assert result.metrics["f1"] == pytest.approx(f1_score(test["target"], model.predict(features)))
    assert result.metrics["roc_auc"] == pytest.approx(roc_auc_score(test["target"], proba[:, 1]))
    assert result.metrics["log_loss"] == pytest.approx(log_loss(test["target"], proba))
    assert 0 <= result.metrics["calibration_error"] < 0.2
    assert result.confusion_matrix is not None
    assert int(result.confusion_matrix.to_numpy().sum()) == len(test)
    assert set(result.figures) == {"roc", "pr", "calibration", "confusion_matrix"}


def test_fairness_by_group(binary: tuple[LogisticRegression, pd.DataFrame]) -> None:
    model, test = binary
    result = evaluate(model, test, target="target", sensitive_features="group", log=False)
    fairness = result.fairness
    assert fairness is not None
    predicted = model.predict(test[model.feature_names_in_])
    rates = pd.Series(predicted == 1).groupby(test["group"].to_numpy()).mean()
    assert fairness.loc[("group", "a"), "selection_rate"] == pytest.approx(rates["a"])
    gap = result.metrics["fairness.group.demographic_parity_difference"]
    assert gap == pytest.approx(abs(rates["a"] - rates["b"]))
    positives = test["target"].to_numpy() == 1
    tpr = pd.Series(predicted[positives] == 1).groupby(test["group"].to_numpy()[positives]).mean()
    negatives = ~positives
    fpr = pd.Series(predicted[negatives] == 1).groupby(test["group"].to_numpy()[negatives]).mean()
    expected = max(abs(tpr["a"] - tpr["b"]), abs(fpr["a"] - fpr["b"]))
    assert result.metrics["fairness.group.equalized_odds_difference"] == pytest.approx(expected)


def test_logged_to_a_new_run_in_experiment_evaluation(
    store_dir: Path, binary: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, test = binary
    result = evaluate(model, test, target="target", sensitive_features=["group"])
    run = wb.get_run(result.run_id)
    assert run.experiment == "evaluation" and run.tags["workbench.kind"] == "evaluation"
    assert run.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert "fairness.group.demographic_parity_difference" in run.metrics
    paths = {a.path for a in run.artifacts}
    assert {"evaluation/roc.json", "evaluation/pr.json", "evaluation/calibration.json"} <= paths
    assert {"evaluation/confusion_matrix.csv", "evaluation/fairness.csv"} <= paths
    figure = wb.load_artifact(result.run_id, "evaluation/roc.json")
    assert figure.layout.title.text == "ROC curve"


def test_logged_to_the_active_run(
    store_dir: Path, binary: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, test = binary
    with wb.start_run("training") as run:
        result = evaluate(model, test, target="target")
    assert result.run_id == run.run_id
    assert wb.get_run(run.run_id).metrics["f1"] == pytest.approx(result.metrics["f1"])


def test_multiclass_and_gate(store_dir: Path) -> None:
    features, target = load_iris(return_X_y=True, as_frame=True)
    data = features.assign(species=target)
    weak = LogisticRegression(max_iter=50).fit(features[["sepal width (cm)"]], target)
    strong = LogisticRegression(max_iter=2000).fit(features, target)
    strong_result = evaluate(strong, data, target="species", log=False)
    weak_result = evaluate(weak, data, target="species", log=False)
    assert strong_result.metrics["roc_auc"] > weak_result.metrics["roc_auc"]
    assert list(strong_result.confusion_matrix.columns) == ["0", "1", "2"]  # type: ignore[union-attr]
    rules = {"accuracy": MetricThreshold(min_absolute_change=0.05, greater_is_better=True)}
    assert validate(strong_result, weak_result, rules).passed


def test_regression(store_dir: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300)})
    frame["y"] = 3 * frame["x"] + rng.normal(size=300)
    model = LinearRegression().fit(frame[["x"]], frame["y"])
    result = evaluate(model, frame, target="y", log=False)
    assert result.task == "regression"
    assert set(result.metrics) == {"mae", "rmse", "r2", "mape"}
    assert result.metrics["r2"] > 0.8
    assert set(result.figures) == {"predicted_vs_actual", "residuals"}


def test_bad_arguments(binary: tuple[LogisticRegression, pd.DataFrame]) -> None:
    model, test = binary
    with pytest.raises(InvalidParameterError, match="label column"):
        evaluate(model, test, target="nope", log=False)
    with pytest.raises(InvalidParameterError, match="columns of data"):
        evaluate(model, test, target="target", sensitive_features="nope", log=False)
    with pytest.raises(InvalidParameterError, match="fitted model"):
        evaluate(object(), test, target="target", log=False)


def test_estimated_accuracy_tracks_realized_under_covariate_shift() -> None:
    rng = np.random.default_rng(5)

    def sample(n: int, shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1.0, n)
        p = 1 / (1 + np.exp(-3 * x))
        return pd.DataFrame({"x": x, "p": p, "y": (rng.random(n) < p).astype(int)})

    reference, current = sample(5000, 0.0), sample(5000, 1.0)  # confident region: higher acc
    estimate = estimate_performance(reference, current, target="y", prediction="p")
    assert list(estimate.columns) == ["reference", "estimated", "realized"]
    assert estimate.loc["accuracy", "estimated"] > estimate.loc["accuracy", "reference"] + 0.02
    assert estimate.loc["accuracy", "estimated"] == pytest.approx(
        estimate.loc["accuracy", "realized"], abs=0.015
    )
    with pytest.raises(InvalidParameterError, match="probability"):
        estimate_performance(
            reference.assign(label=reference["y"]), current, target="y", prediction="label"
        )


def test_model_uri(store_dir: Path, binary: tuple[LogisticRegression, pd.DataFrame]) -> None:
    model, test = binary
    with wb.start_run("training") as run:
        pass
    wb.register_model("cancer", run=run, model=model)
    result = evaluate("cancer/1", test, target="target")
    assert result.model_uri == "cancer/1"
    assert wb.get_run(result.run_id).tags["evaluation.model"] == "cancer/1"
    direct = evaluate(model, test, target="target", log=False)
    assert result.metrics == pytest.approx(direct.metrics)
