"""Tests of ``workbench.autolog()`` for scikit-learn, against a real store in a temp folder."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import workbench
from workbench import InvalidParameterError
from workbench.entities import Run
from workbench.tracking import autolog as autolog_module


@pytest.fixture(autouse=True)
def store(tmp_path: Path) -> Iterator[Path]:
    workbench.set_store(tmp_path / "store")
    try:
        yield tmp_path / "store"
    finally:
        workbench.autolog(disable=True)
        workbench.set_store(None)


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


def runs() -> pd.DataFrame:
    return workbench.search_runs(order_by="start_time")


def only_run() -> Run:
    found = runs()
    assert len(found) == 1, found[["name", "status", "parent_id"]]
    return workbench.get_run(found["run_id"].iloc[0])


def load_model(run: Run) -> Any:
    data = workbench.artifact_path(run.run_id, "model/model.skops").read_bytes()
    return skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))


def test_classifier_fit_logs_one_finished_run(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = iris
    workbench.autolog()
    model = LogisticRegression(C=0.5, max_iter=1000).fit(X, y)

    run = only_run()
    assert run.status.value == "finished"
    assert run.name == "LogisticRegression"
    assert run.params["C"] == 0.5
    assert run.params["max_iter"] == 1000
    proba = model.predict_proba(X)
    assert run.metrics["training_accuracy_score"] == pytest.approx(
        accuracy_score(y, model.predict(X)), abs=1e-12
    )
    assert run.metrics["training_f1_score"] == pytest.approx(
        f1_score(y, model.predict(X), average="weighted"), abs=1e-12
    )
    assert run.metrics["training_log_loss"] == pytest.approx(log_loss(y, proba), abs=1e-12)
    assert run.metrics["training_roc_auc"] == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr"), abs=1e-12
    )
    assert run.metrics["training_score"] == pytest.approx(model.score(X, y), abs=1e-12)
    assert {"training_precision_score", "training_recall_score"} <= set(run.metrics)
    assert run.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.tags["estimator_name"] == "LogisticRegression"
    assert run.tags["model_format"] == "skops"
    contexts = {i.context: i.dataset for i in run.inputs}
    assert set(contexts) == {"training", "training_target"}
    assert (contexts["training"].n_rows, contexts["training"].n_cols) == X.shape


def test_binary_classifier_roc_auc_and_model_round_trip(
    cancer: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = cancer
    workbench.autolog()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)

    run = only_run()
    assert run.metrics["training_roc_auc"] == pytest.approx(
        roc_auc_score(y, model.predict_proba(X)[:, 1]), abs=1e-12
    )
    loaded = load_model(run)
    assert type(loaded) is Pipeline
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_pipeline_fit_is_one_run_with_nested_params(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = iris
    workbench.autolog()
    make_pipeline(StandardScaler(), LogisticRegression(C=2.0)).fit(X, y)

    run = only_run()
    assert run.name == "Pipeline"
    assert run.params["logisticregression__C"] == 2.0
    assert run.params["standardscaler__with_mean"] is True
    assert "LogisticRegression(C=2.0)" in run.params["logisticregression"]
    assert "training_accuracy_score" in run.metrics


def test_regressor_logs_regression_metrics(store: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    workbench.autolog()
    model = Ridge(alpha=0.3).fit(X, y)

    run = only_run()
    pred = model.predict(X)
    assert run.params["alpha"] == 0.3
    assert run.metrics["training_r2_score"] == pytest.approx(r2_score(y, pred), abs=1e-12)
    assert run.metrics["training_mean_squared_error"] == pytest.approx(
        mean_squared_error(y, pred), rel=1e-12
    )
    assert run.metrics["training_root_mean_squared_error"] == pytest.approx(
        np.sqrt(mean_squared_error(y, pred)), rel=1e-12
    )
    assert "training_mean_absolute_error" in run.metrics
    assert "training_accuracy_score" not in run.metrics
    np.testing.assert_array_equal(load_model(run).predict(X), pred)


def test_sample_weight_is_used_for_training_metrics(store: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    weights = np.linspace(0.1, 2.0, len(y))
    workbench.autolog()
    model = LinearRegression().fit(X, y, sample_weight=weights)

    run = only_run()
    assert run.metrics["training_r2_score"] == pytest.approx(
        r2_score(y, model.predict(X), sample_weight=weights), abs=1e-12
    )
    assert run.metrics["training_r2_score"] != pytest.approx(r2_score(y, model.predict(X)))


def test_clusterer_and_fit_methods_log_params_and_model_only(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, _ = iris
    workbench.autolog()
    labels = KMeans(n_clusters=3, n_init=1, random_state=0).fit_predict(X)
    scaled = StandardScaler().fit_transform(X)

    found = runs()
    assert found["name"].tolist() == ["KMeans", "StandardScaler"]
    kmeans, scaler = (workbench.get_run(r) for r in found["run_id"])
    assert kmeans.params["n_clusters"] == 3
    assert not any(k.startswith("training_") for k in kmeans.metrics)
    np.testing.assert_array_equal(load_model(kmeans).predict(X), labels)
    np.testing.assert_allclose(load_model(scaler).transform(X), scaled)
    assert [i.context for i in kmeans.inputs] == ["training"]


def test_grid_search_logs_parent_and_one_child_per_candidate(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = iris
    grid = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}
    workbench.autolog()
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()), grid, cv=3)
    search.fit(X, y)

    found = runs()
    parents = found[found["parent_id"].isna()]
    assert len(parents) == 1 and len(found) == 1 + 4
    parent = workbench.get_run(parents["run_id"].iloc[0])
    assert parent.name == "GridSearchCV"
    assert parent.status.value == "finished"
    assert (
        parent.params["best_logisticregression__C"] == search.best_params_["logisticregression__C"]
    )
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_, abs=1e-12)
    np.testing.assert_array_equal(load_model(parent).predict(X), search.best_estimator_.predict(X))
    assert type(load_model(parent)) is Pipeline

    children = [workbench.get_run(r) for r in parent.children]
    assert len(children) == 4
    results = search.cv_results_
    for child in children:
        assert child.status.value == "finished"
        assert child.parent_id == parent.run_id
        index = [p["logisticregression__C"] for p in results["params"]].index(
            child.params["logisticregression__C"]
        )
        assert child.metrics["mean_test_score"] == pytest.approx(
            results["mean_test_score"][index], abs=1e-12
        )
        assert child.metrics["std_test_score"] == pytest.approx(
            results["std_test_score"][index], abs=1e-12
        )
        assert child.metrics["rank_test_score"] == results["rank_test_score"][index]
        assert "mean_fit_time" in child.metrics


def test_max_tuning_runs_keeps_the_best_ranked_candidates(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = iris
    workbench.autolog(max_tuning_runs=2)
    search = RandomizedSearchCV(
        LogisticRegression(max_iter=1000),
        {"C": [0.001, 0.01, 0.1, 1.0, 10.0]},
        n_iter=5,
        cv=3,
        random_state=0,
        scoring=["accuracy", "f1_macro"],
        refit="f1_macro",
    )
    search.fit(X, y)

    found = runs()
    children = found[found["parent_id"].notna()]
    assert len(found) == 3 and len(children) == 2
    ranks = sorted(search.cv_results_["rank_test_f1_macro"])[:2]
    assert sorted(children["metrics.rank_test_f1_macro"]) == ranks
    assert {"metrics.mean_test_accuracy", "metrics.mean_test_f1_macro"} <= set(found.columns)
    # best-ranked first: children were started in rank order
    assert children["metrics.rank_test_f1_macro"].tolist() == ranks


def test_fit_inside_a_run_logs_into_it(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = iris
    workbench.autolog()
    with workbench.start_run(experiment="mine", name="outer") as outer:
        LogisticRegression(C=3.0, max_iter=1000).fit(X, y)
        assert outer.status == "running"

    run = only_run()
    assert run.run_id == outer.run_id and run.name == "outer"
    assert run.status.value == "finished"
    assert run.params["C"] == 3.0
    assert "training_accuracy_score" in run.metrics
    assert load_model(run).predict(X).shape == (len(X),)


def test_grid_search_inside_a_run_nests_children_under_it(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = iris
    workbench.autolog()
    with workbench.start_run(name="outer") as outer:
        GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]}, cv=2).fit(X, y)

    found = runs()
    assert len(found) == 3
    assert (found[found["run_id"] != outer.run_id]["parent_id"] == outer.run_id).all()


def test_failing_fit_marks_the_run_failed_and_reraises(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = iris
    boom = RuntimeError("boom")

    class Exploding(LogisticRegression):
        def _validate_params(self) -> None:
            raise boom

    workbench.autolog()
    with pytest.raises(RuntimeError) as excinfo:
        Exploding().fit(X, y)
    assert excinfo.value is boom

    run = only_run()
    assert run.name == "Exploding"
    assert run.status.value == "failed"
    assert run.error == "RuntimeError: boom"
    assert run.params["C"] == 1.0  # params are logged before fitting


def test_sklearn_validation_error_reaches_the_user(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = iris
    workbench.autolog()
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(X.assign(extra=np.nan), y)
    assert only_run().status.value == "failed"


def test_disable_restores_the_original_methods(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = iris
    lr_fit = LogisticRegression.fit
    pipeline_fit_transform = Pipeline.__dict__["fit_transform"]
    assert "fit" not in RandomForestClassifier.__dict__  # inherited from BaseForest

    workbench.autolog()
    assert LogisticRegression.fit is not lr_fit
    assert LogisticRegression.fit.__wrapped__ is lr_fit
    assert "fit" in RandomForestClassifier.__dict__
    assert Pipeline.__dict__["fit_transform"] is not pipeline_fit_transform
    workbench.autolog(log_models=False)  # calling again does not patch twice
    assert LogisticRegression.fit.__wrapped__ is lr_fit

    workbench.autolog(disable=True)
    assert LogisticRegression.fit is lr_fit
    assert "fit" not in RandomForestClassifier.__dict__
    assert Pipeline.__dict__["fit_transform"] is pipeline_fit_transform
    LogisticRegression(max_iter=1000).fit(X, y)
    assert runs().empty
    workbench.autolog(disable=True)  # disabling twice is fine


def test_pipeline_fit_transform_availability_is_kept(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = iris
    workbench.autolog()
    assert not hasattr(make_pipeline(StandardScaler(), LogisticRegression()), "fit_transform")
    out = make_pipeline(StandardScaler()).fit_transform(X, y)
    assert out.shape == X.shape
    assert only_run().name == "Pipeline"


def test_calling_again_updates_the_settings(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = iris
    workbench.autolog()
    workbench.autolog(
        log_models=False, log_datasets=False, log_training_metrics=False, experiment="quiet"
    )
    LogisticRegression(max_iter=1000).fit(X, y)

    run = only_run()
    assert run.experiment == "quiet"
    assert run.params["C"] == 1.0
    assert run.metrics == {}
    assert run.inputs == ()
    assert run.artifacts == ()
    assert "model_format" not in run.tags


def test_thread_parallel_ensemble_is_one_run(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = iris
    workbench.autolog()
    IsolationForest(n_estimators=8, n_jobs=2, random_state=0).fit(X)  # fits trees in threads
    assert only_run().name == "IsolationForest"


def test_unserializable_model_is_tagged_not_logged(
    iris: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = iris

    def refuse(obj: Any) -> bytes:
        raise TypeError("cannot serialize")

    monkeypatch.setattr(skops.io, "dumps", refuse)
    workbench.autolog()
    LogisticRegression(max_iter=1000).fit(X, y)

    run = only_run()
    assert run.status.value == "finished"
    assert "cannot serialize" in run.tags["model_not_logged"]
    assert run.artifacts == ()


def test_logging_errors_do_not_break_the_fit(
    iris: tuple[pd.DataFrame, pd.Series],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    X, y = iris

    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(workbench.ActiveRun, "log_metrics", broken)
    monkeypatch.setattr(workbench.ActiveRun, "log_input", broken)
    workbench.autolog()
    with caplog.at_level(logging.WARNING, logger="workbench.autolog"):
        model = LogisticRegression(max_iter=1000).fit(X, y)

    assert model.predict(X).shape == (len(X),)
    run = only_run()
    assert run.status.value == "finished"
    assert run.params["C"] == 1.0
    assert "disk full" in caplog.text
    assert "training metrics" in caplog.text


def passthrough(X: Any, note: str = "") -> Any:
    return X


def test_long_and_odd_param_values_are_shortened_not_fatal(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = iris
    note = "x" * 7000  # beyond the param size limit, both as a str and as JSON
    workbench.autolog(max_tuning_runs=None)
    GridSearchCV(
        make_pipeline(
            FunctionTransformer(passthrough, kw_args={"note": note}),
            LogisticRegression(max_iter=1000),
        ),
        {"logisticregression__C": np.array([0.5, 1.0])},  # numpy float64 values
        cv=2,
    ).fit(X, y)

    found = runs()
    assert len(found) == 3 and (found["status"] == "finished").all()
    parent = workbench.get_run(found[found["parent_id"].isna()]["run_id"].iloc[0])
    kw_args = parent.params["estimator__functiontransformer__kw_args"]
    assert kw_args.startswith("{'note': 'xxx") and kw_args.endswith("...")
    assert len(kw_args) == 6000
    assert parent.params["estimator__functiontransformer__func"].endswith("passthrough")
    assert parent.params["best_logisticregression__C"] in (0.5, 1.0)
    assert isinstance(parent.params["best_logisticregression__C"], float)
    children = [workbench.get_run(r) for r in parent.children]
    assert sorted(c.params["logisticregression__C"] for c in children) == [0.5, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"disable": "yes"}, "disable"),
        ({"log_models": 1}, "log_models"),
        ({"log_datasets": None}, "log_datasets"),
        ({"log_training_metrics": "no"}, "log_training_metrics"),
        ({"max_tuning_runs": -1}, "max_tuning_runs"),
        ({"max_tuning_runs": True}, "max_tuning_runs"),
        ({"max_tuning_runs": 2.5}, "max_tuning_runs"),
        ({"experiment": ""}, "experiment"),
        ({"experiment": 3}, "experiment"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of autolog"):
        workbench.autolog(**kwargs)
    assert autolog_module._settings is None and not autolog_module._patches
