"""The module-level registry API on the configured store: autolog → register → alias → load,
argument checks with informative messages, and thread safety."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import workbench as wb
from workbench import registry as reg
from workbench.exceptions import ModelNotFoundError


@pytest.fixture
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture
def autologged(store_dir: Path, iris: tuple[pd.DataFrame, pd.Series]) -> Iterator[tuple[str, Any]]:
    """A run logged by autolog (model/model.skops, training data, metrics), and its model."""
    X, y = iris
    wb.autolog()
    try:
        with wb.start_run("iris") as run:
            pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    finally:
        wb.autolog(disable=True)
    yield run.run_id, pipeline


def test_autolog_run_to_registered_model_to_prediction(
    autologged: tuple[str, Any], iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    run_id, pipeline = autologged
    version = reg.register_model("iris", run=run_id, description="autologged pipeline")
    assert (version.artifact_path, version.flavor, version.version) == (
        "model/model.skops",
        "skops",
        1,
    )
    assert version.signature is not None
    assert version.signature.input_names == list(X.columns)  # from the logged training data
    assert "training_accuracy_score" in version.metrics
    assert {i["context"] for i in version.lineage["inputs"]} == {"training", "training_target"}
    reg.set_alias("iris", "champion", 1)
    model = reg.load_model("models:/iris@champion")
    np.testing.assert_array_equal(model.predict(X), pipeline.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), pipeline.predict_proba(X))
    assert reg.get_model_version("iris@champion").description == "autologged pipeline"


def test_register_with_an_active_run_handle(
    store_dir: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    with wb.start_run("iris") as run:
        model = LogisticRegression(max_iter=500).fit(X, y)
        run.log_metric("accuracy", model.score(X, y))
        version = reg.register_model("iris", run=run, model=model, input_example=X)
        assert version.lineage["run"]["status"] == "running"
        assert version.metrics["accuracy"] == pytest.approx(model.score(X, y))
    frame = reg.list_model_versions("iris")
    assert frame[["version", "flavor"]].values.tolist() == [[1, "skops"]]
    assert frame["metrics.accuracy"].iloc[0] == pytest.approx(model.score(X, y))
    models = reg.list_models()
    assert models[["name", "latest_version", "versions"]].values.tolist() == [["iris", 1, 1]]
    updated = reg.update_model("iris", description="iris classifier", tags={"team": "ml"})
    assert (updated.description, dict(updated.tags)) == ("iris classifier", {"team": "ml"})


def test_run_of_another_store_is_refused(tmp_path: Path, store_dir: Path) -> None:
    other = wb.Workbench(tmp_path / "other")
    with other.start_run("x") as run:
        pass
    here = reg.ModelRegistry(wb.connect())
    with pytest.raises(wb.InvalidParameterError, match="logs to the store"):
        here.register_model("m", run=run, model=LogisticRegression())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: reg.register_model("bad/name", run="r", model=1), "'/' and '@' are not allowed"),
        (lambda: reg.register_model("m", run=3, model=1), "'run' parameter of register_model"),  # type: ignore[arg-type]
        (
            lambda: reg.register_model("m", run="r", model=1, artifact_path="a"),
            "either model= .* or artifact_path=",
        ),
        (lambda: reg.register_model("m", run="r", model=1, tags=["x"]), "'tags' parameter"),  # type: ignore[arg-type]
        (lambda: reg.register_model("m", run="r", model=1, description=3), "'description'"),  # type: ignore[arg-type]
        (lambda: reg.register_model("m", run="r", model=1, signature="x"), "'signature'"),  # type: ignore[arg-type]
        (lambda: reg.set_alias("m", "champion", 0), r"'version' parameter of set_alias.*>= 1"),
        (lambda: reg.set_alias("m", "champion", True), "'version' parameter"),
        (lambda: reg.set_alias("m", "9lives", 1), "'alias' parameter of set_alias"),
        (lambda: reg.set_alias("m", "champion", 1, reason=3), "'reason' parameter"),  # type: ignore[arg-type]
        (lambda: reg.get_model_version("m/x"), "'uri' parameter of get_model_version"),
        (lambda: reg.alias_history("m", "@"), "'alias' parameter of alias_history"),
        (lambda: reg.delete_model_version("m", -1), "'version' parameter"),
    ],
)
def test_bad_arguments_say_what_to_do(store_dir: Path, call: object, message: str) -> None:
    with pytest.raises(wb.InvalidParameterError, match=message):
        call()  # type: ignore[operator]


def test_missing_model_artifact_is_explained(store_dir: Path) -> None:
    with wb.start_run("x") as run:
        run.log_text("hello", "notes.txt")
    with pytest.raises(
        wb.InvalidParameterError, match=r"no model files among its artifacts \['notes.txt'\]"
    ):
        reg.register_model("m", run=run.run_id)
    with pytest.raises(wb.ArtifactNotFoundError, match=r"has no artifact 'model.skops'"):
        reg.register_model("m", run=run.run_id, artifact_path="model.skops")
    with pytest.raises(wb.InvalidParameterError, match="Cannot tell the flavor"):
        reg.register_model("m", run=run.run_id, artifact_path="notes.txt")
    with pytest.raises(ModelNotFoundError, match="No registered model named 'm'"):
        reg.alias_history("m")


def test_threads_registering_at_once_get_distinct_versions(
    store_dir: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    with wb.start_run("iris") as run:
        pass
    numbers: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                numbers.append(reg.register_model("iris", run=run.run_id, model=model).version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, name=f"register-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 13))
