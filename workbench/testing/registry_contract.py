"""Registry behaviour every :class:`~workbench.store.Store` must have, as a reusable pytest suite.

Mix it into a backend's test class next to :class:`~workbench.testing.StoreContract`; it uses
the same ``store`` fixture (a fresh, empty store)::

    class TestMyStore(StoreContract, RegistryContract):
        @pytest.fixture
        def store(self, tmp_path):
            yield MyStore(tmp_path)

The tests drive the store through :class:`workbench.registry.ModelRegistry`, as users do.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.exceptions import (
    ArtifactIntegrityError,
    ConflictError,
    ModelNotFoundError,
    RunNotFoundError,
)
from workbench.registry import ModelRegistry
from workbench.store.base import Store
from workbench.tracking.client import TrackingClient
from workbench.tracking.run import ActiveRun

__all__ = ["RegistryContract"]


def _training_data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 60),
            "income": rng.normal(50, 10, 60),
            "tenure": rng.uniform(0, 10, 60),
        }
    )
    y = pd.Series((X["income"] + X["tenure"] * 2 > 58).astype(int), name="churned")
    return X, y


def _fit(X: pd.DataFrame, y: pd.Series, C: float = 1.0) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=1000).fit(X, y)


class RegistryContract:
    """Subclass with a ``store`` fixture; every test here must pass for the backend."""

    @pytest.fixture
    def registry(self, store: Store) -> ModelRegistry:
        return ModelRegistry(TrackingClient(store))

    def _trained_run(self, registry: ModelRegistry, C: float = 1.0) -> tuple[ActiveRun, Any]:
        X, y = _training_data()
        with registry.client.start_run("registry", f"C={C}") as run:
            run.log_param("C", C)
            run.log_input(X, name="features")
            model = _fit(X, y, C)
            run.log_metric("accuracy", float(model.score(X, y)))
        return run, model

    def test_register_load_predict_round_trip(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        X, _ = _training_data()
        version = registry.register_model("churn", run=run, model=model, input_example=X)
        assert (version.name, version.version, version.flavor) == ("churn", 1, "skops")
        loaded = registry.load_model("churn/1")
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
        example = registry.get_model_version("churn").input_example_data()
        assert list(example.columns) == ["age", "income", "tenure"] and len(example) == 5
        np.testing.assert_array_equal(loaded.predict(example), model.predict(X.head(5)))

    def test_versions_count_per_name_from_one(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        numbers = [registry.register_model("a", run=run, model=model).version for _ in range(3)]
        assert numbers == [1, 2, 3]
        assert registry.register_model("b", run=run.run_id, model=model).version == 1
        assert registry.list_model_versions("a")["version"].tolist() == [1, 2, 3]
        models = registry.list_models().set_index("name")
        assert models.loc["a", "latest_version"] == 3 and models.loc["b", "versions"] == 1

    def test_uri_forms_name_the_same_version(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        for _ in range(3):
            registry.register_model("m", run=run, model=model)
        registry.set_alias("m", "champion", 2)
        for uri in ("m/2", "m@champion", "models:/m/2", "models:/m@champion"):
            assert registry.get_model_version(uri).version == 2, uri
        for uri in ("m", "m/latest", "models:/m", "models:/m/latest"):
            assert registry.get_model_version(uri).version == 3, uri
        assert registry.get_model_version("m/2").aliases == ("champion",)

    def test_unknown_model_version_and_alias_are_not_found(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        registry.register_model("known", run=run, model=model)
        with pytest.raises(ModelNotFoundError, match=r"No registered model named 'nope'.*'known'"):
            registry.get_model_version("nope")
        with pytest.raises(ModelNotFoundError, match=r"no version 7\. Its versions: \[1\]"):
            registry.get_model_version("known/7")
        with pytest.raises(ModelNotFoundError, match=r"no alias 'champion'.*set_alias"):
            registry.load_model("known@champion")
        with pytest.raises(RunNotFoundError):
            registry.register_model("known", run="0" * 32, model=model)

    def test_alias_history_and_rollback(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        for _ in range(3):
            registry.register_model("churn", run=run, model=model)
        registry.set_alias("churn", "champion", 1, reason="first model")
        registry.set_alias("churn", "champion", 2, reason="better AUC")
        registry.set_alias("churn", "champion", 3)
        registry.set_alias("churn", "challenger", 1)
        assert registry.rollback("churn", "champion", reason="v3 regressed").version == 2
        assert registry.get_model_version("churn@champion").version == 2
        assert registry.rollback("churn", "champion").version == 1
        with pytest.raises(ConflictError, match="no earlier version to roll back to"):
            registry.rollback("churn", "champion")
        history = registry.alias_history("churn", "champion")
        assert history["action"].tolist() == ["set", "set", "set", "rollback", "rollback"]
        assert history["from_version"].fillna(0).tolist() == [0, 1, 2, 3, 2]
        assert history["to_version"].tolist() == [1, 2, 3, 2, 1]
        assert history["reason"].iloc[1] == "better AUC"
        assert history["reason"].iloc[3] == "v3 regressed"
        assert history["actor"].str.contains("@").all()
        assert history["changed_at"].is_monotonic_increasing
        assert len(registry.alias_history("churn")) == 6  # challenger too
        assert registry.set_alias("churn", "champion", 1).version == 1  # already there: no entry
        assert len(registry.alias_history("churn", "champion")) == 5

    def test_rollback_restores_a_deleted_alias(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        for _ in range(2):
            registry.register_model("m", run=run, model=model)
        registry.set_alias("m", "prod", 1)
        registry.set_alias("m", "prod", 2)
        registry.delete_alias("m", "prod", reason="incident")
        with pytest.raises(ModelNotFoundError, match="no alias 'prod'"):
            registry.get_model_version("m@prod")
        assert registry.rollback("m", "prod").version == 2
        assert registry.rollback("m", "prod").version == 1

    def test_deleted_versions_are_hidden_and_numbers_never_reused(
        self, registry: ModelRegistry
    ) -> None:
        run, model = self._trained_run(registry)
        for _ in range(3):
            registry.register_model("m", run=run, model=model)
        registry.set_alias("m", "prod", 3)
        with pytest.raises(ConflictError, match=r"target of aliases \['prod'\]"):
            registry.delete_model_version("m", 3)
        registry.set_alias("m", "prod", 1)
        registry.set_alias("m", "prod", 2)
        registry.delete_model_version("m", 3)
        with pytest.raises(ModelNotFoundError):
            registry.get_model_version("m/3")
        assert registry.get_model_version("m").version == 2
        assert registry.register_model("m", run=run, model=model).version == 4
        registry.set_alias("m", "prod", 4)
        registry.delete_model_version("m", 2)
        assert registry.rollback("m", "prod").version == 1  # skips deleted 2

    def test_lineage_is_captured_at_registration(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry, C=0.5)
        version = registry.register_model("m", run=run, model=model, tags={"team": "growth"})
        lineage = version.lineage
        assert lineage["run"]["run_id"] == run.run_id
        assert lineage["run"]["experiment"] == "registry"
        assert version.params["C"] == 0.5 and "accuracy" in version.metrics
        (dataset,) = lineage["inputs"]
        assert (dataset["name"], dataset["context"], dataset["n_rows"]) == (
            "features",
            "training",
            60,
        )
        assert dataset["digest"] == registry.client.get_run(run.run_id).inputs[0].dataset.digest
        assert "packages" in lineage["environment"] and "python" in lineage["environment"]
        assert "git" in lineage["code"]
        assert dict(version.tags) == {"team": "growth"}
        assert version.created_by is not None and "@" in version.created_by

    def test_model_file_becomes_a_run_artifact(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        version = registry.register_model("m", run=run, model=model)
        artifacts = {a.path: a for a in registry.client.get_run(run.run_id).artifacts}
        assert version.artifact_path == "models/m/v1/model.skops"
        assert artifacts[version.artifact_path].digest == version.artifact_digest

    def test_register_an_existing_run_artifact(self, registry: ModelRegistry) -> None:
        import skops.io

        X, y = _training_data()
        model = _fit(X, y)
        with registry.client.start_run("registry") as run:
            run.log_input(X, name="training", context="training")
            run.log_bytes(skops.io.dumps(model), "model/model.skops")
        version = registry.register_model("m", run=run.run_id)  # the run's only model file
        assert (version.artifact_path, version.flavor) == ("model/model.skops", "skops")
        assert version.signature is not None
        assert version.signature.input_names == ["age", "income", "tenure"]
        np.testing.assert_array_equal(registry.load_model("m").predict(X), model.predict(X))

    def test_registry_views_are_queryable(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        registry.register_model("m", run=run, model=model)
        registry.set_alias("m", "prod", 1, reason="launch")
        sql = registry.client.sql
        assert sql("select name, latest_version from models").values.tolist() == [["m", 1]]
        assert sql("select version, flavor from model_versions").values.tolist() == [[1, "skops"]]
        assert sql("select alias, version from aliases").values.tolist() == [["prod", 1]]
        assert sql("select reason from alias_history")["reason"].tolist() == ["launch"]

    def test_a_modified_model_file_is_refused(self, registry: ModelRegistry) -> None:
        run, model = self._trained_run(registry)
        version = registry.register_model("m", run=run, model=model)
        path = registry.store.artifacts.path(version.artifact_digest)
        os.chmod(path, 0o644)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(ArtifactIntegrityError, match="modified or damaged"):
            registry.load_model("m/1")
