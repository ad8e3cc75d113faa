"""Safe loading: only trusted types load by default; tampered files are refused before any
of their code runs; trusting is explicit and warns; other flavours plug in via the registry."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator
from sklearn.cluster import BisectingKMeans, FeatureAgglomeration
from sklearn.datasets import dump_svmlight_file, load_iris
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectKBest, chi2, mutual_info_classif
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler

import workbench as wb
from workbench.exceptions import UnsafeLoadWarning, UnsafeModelError
from workbench.registry import ModelRegistry, Serializer, _serializers, register_serializer
from workbench.registry._serializers import is_trusted_by_default, is_trusted_callable

CONSTRUCTED: list[str] = []  # what malicious classes managed to run


class Evil(BaseEstimator):  # type: ignore[misc]
    """Runs code when it is rebuilt from a file: must never happen without trust."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        CONSTRUCTED.append("Evil.__setstate__")
        self.__dict__.update(state)


class Benign(BaseEstimator):  # type: ignore[misc]
    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def predict(self, X: Any) -> Any:
        return np.asarray(X).sum(axis=1) * self.factor


class Doubler:
    """Not a scikit-learn object: saved with the pickle fallback."""

    def predict(self, X: Any) -> Any:
        return np.asarray(X) * 2


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    client = wb.Workbench(tmp_path / "store")
    CONSTRUCTED.clear()
    yield ModelRegistry(client)
    client.close()


def _run_with_file(registry: ModelRegistry, data: bytes, path: str = "model/model.skops") -> str:
    with registry.client.start_run("safety") as run:
        run.log_bytes(data, path)
    return run.run_id


def _tampered(edit: dict[str, Any]) -> bytes:
    """A skops file of FunctionTransformer(np.abs) whose function node is rewritten."""
    original = zipfile.ZipFile(io.BytesIO(skops.io.dumps(FunctionTransformer(np.abs))))
    schema = json.loads(original.read("schema.json"))
    schema["content"]["content"]["func"].update(edit)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.linear_model._logistic.LogisticRegression", True),
        ("sklearn.tree._tree.Tree", True),
        ("numpy.absolute", True),
        ("scipy.sparse._csr.csr_matrix", True),
        ("numpy.load", False),
        ("numpy.lib._npyio_impl.loadtxt", False),
        ("numpy.testing._private.utils.runstring", False),
        ("numpy.ctypeslib.load_library", False),
        ("sklearn.utils._testing.assert_run_python_script_without_output", False),
        ("sklearn.externals._packaging.version.Version", False),
        ("posix.system", False),
        ("builtins.eval", False),
        ("numpyx.thing", False),
        ("numpy", False),
        ("pickle.loads", False),
    ],
)
def test_default_allow_list(name: str, trusted: bool) -> None:
    assert is_trusted_by_default(name) is trusted


def test_custom_class_is_refused_before_any_of_its_code_runs(
    registry: ModelRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run_with_file(registry, skops.io.dumps(Evil()))
    # registering a file with an input example observes outputs only if the file is trusted
    version = registry.register_model(
        "evil", run=run, artifact_path="model/model.skops", input_example=np.zeros((2, 2))
    )
    assert version.signature is not None and version.signature.outputs == ()
    assert "not loaded because it is not trusted by default" in caplog.text
    with pytest.raises(
        UnsafeModelError, match=r"not trusted by default: \['test_serializers.Evil'\]"
    ) as caught:
        registry.load_model("evil")
    message = str(caught.value)
    assert "trusted=['test_serializers.Evil']" in message and "trusted=True" in message
    assert caught.value.untrusted == ["test_serializers.Evil"]
    assert isinstance(caught.value, PermissionError) and caught.value.http_status == 403
    assert CONSTRUCTED == []


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ({"__class__": "system", "__module__": "os"}, "os.system"),
        ({"__class__": "system", "__module__": "posix"}, "posix.system"),
        ({"__class__": "load", "__module__": "numpy"}, "numpy.load"),
        ({"__class__": "eval", "__module__": "builtins"}, "builtins.eval"),
        # in a trusted package, but it writes a file: functions are trusted by name, not package
        (
            {"__class__": "dump_svmlight_file", "__module__": "sklearn.datasets"},
            "sklearn.datasets.dump_svmlight_file",
        ),
    ],
)
def test_tampered_file_naming_dangerous_functions_is_refused(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch, edit: dict[str, str], named: str
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr("os.system", lambda *a: calls.append(a))
    run = _run_with_file(registry, _tampered(edit))
    registry.register_model("tampered", run=run, artifact_path="model/model.skops")
    with pytest.raises(UnsafeModelError, match=named.replace(".", r"\.")):
        registry.load_model("tampered")
    assert calls == []


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.feature_selection._univariate_selection.f_classif", True),
        ("sklearn.feature_selection._mutual_info.mutual_info_regression", True),
        ("sklearn.metrics._classification.balanced_accuracy_score", True),
        ("sklearn.cluster._kmeans._kmeans_single_elkan", True),
        ("sklearn.utils.validation.check_array", True),
        ("numpy.mean", True),
        ("sklearn.datasets._svmlight_format_io.dump_svmlight_file", False),
        ("sklearn.datasets._openml.fetch_openml", False),
        ("scipy.io.matlab._mio.savemat", False),
        ("sklearn.utils._joblib.dump", False),
        ("numpy.clip", False),
        ("numpy.load", False),
        ("builtins.eval", False),
    ],
)
def test_functions_are_trusted_by_exact_name(name: str, trusted: bool) -> None:
    assert is_trusted_callable(name) is trusted


def _register(registry: ModelRegistry, name: str, model: Any) -> None:
    with registry.client.start_run("safety") as run:
        pass
    registry.register_model(name, run=run, model=model)


def test_a_function_that_writes_files_is_refused_though_it_is_from_scikit_learn(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    """Trusting every function of a trusted package let this file write where it chose as soon
    as the model transformed anything: the file picks the function's arguments."""
    target = tmp_path / "written-by-the-model-file"
    model = FunctionTransformer(dump_svmlight_file, kw_args={"y": [0, 1], "f": str(target)})
    _register(registry, "writer", model)
    name = "sklearn.datasets._svmlight_format_io.dump_svmlight_file"
    with pytest.raises(UnsafeModelError, match=r"trusted by exact name only") as caught:
        registry.load_model("writer")
    assert caught.value.untrusted == [name]
    assert f"trusted={[name]!r}" in str(caught.value)
    assert not target.exists()
    # trusting it by name is the caller's informed decision
    assert registry.load_model("writer", trusted=[name]).func is dump_svmlight_file


def test_functions_scikit_learn_keeps_load_without_trust(registry: ModelRegistry) -> None:
    X, y = load_iris(return_X_y=True)
    models = {
        "kbest": make_pipeline(SelectKBest(chi2, k=2), StandardScaler()),
        "mutual": SelectKBest(mutual_info_classif, k=2),
        "agglomeration": FeatureAgglomeration(n_clusters=2),  # pooling_func=np.mean
        "bisecting": BisectingKMeans(n_clusters=3, random_state=0),  # _kmeans_single_lloyd
        "spline": SplineTransformer(n_knots=3),  # scipy BSpline keeps its asarray
        "search": GridSearchCV(  # scorer_ keeps balanced_accuracy_score
            HistGradientBoostingClassifier(max_iter=3),
            {"max_depth": [2, 3]},
            scoring="balanced_accuracy",
            cv=2,
        ),
    }
    for name, model in models.items():
        model.fit(X, y)
        _register(registry, name, model)
        loaded = registry.load_model(name)
        method = "predict" if hasattr(model, "predict") else "transform"
        np.testing.assert_array_equal(
            getattr(loaded, method)(X), getattr(model, method)(X), err_msg=name
        )


def _hgb_with_partial(edit: dict[str, Any] | None = None) -> bytes:
    """A HistGradientBoostingClassifier with a categorical feature, saved with skops: scikit-learn
    keeps ``functools.partial(check_array, ...)`` in it; ``edit`` rewrites the wrapped function."""
    X = np.column_stack([np.arange(40) % 3, np.linspace(0.0, 1.0, 40)])
    y = (np.arange(40) % 3 == 0).astype(int)
    model = HistGradientBoostingClassifier(categorical_features=[0], max_iter=3).fit(X, y)
    original = zipfile.ZipFile(io.BytesIO(skops.io.dumps(model)))
    schema = json.loads(original.read("schema.json"))
    partials = [n for n in _json_nodes(schema) if n.get("__loader__") == "PartialNode"]
    assert partials  # one in the model's transformers, one in the fitted transformers_
    partials[0]["content"]["func"].update(edit or {})  # one bad partial is enough to refuse
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in original.namelist():
            data = json.dumps(schema).encode() if item == "schema.json" else original.read(item)
            z.writestr(item, data)
    return out.getvalue()


def _json_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _json_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _json_nodes(value)


def test_partial_loads_without_trust_only_around_what_scikit_learn_wraps(
    registry: ModelRegistry,
) -> None:
    run = _run_with_file(registry, _hgb_with_partial())
    registry.register_model("hgb", run=run, artifact_path="model/model.skops")
    assert registry.load_model("hgb").predict(np.array([[0.0, 0.5]])).shape == (1,)

    # the same file, its partial now around a function that writes files
    edit = {"__class__": "dump_svmlight_file", "__module__": "sklearn.datasets"}
    run = _run_with_file(registry, _hgb_with_partial(edit))
    registry.register_model("hgb-tampered", run=run, artifact_path="model/model.skops")
    with pytest.raises(UnsafeModelError) as caught:
        registry.load_model("hgb-tampered")
    assert caught.value.untrusted == ["functools.partial", "sklearn.datasets.dump_svmlight_file"]
    message = str(caught.value)
    assert "functools.partial wraps ['sklearn.datasets.dump_svmlight_file']" in message
    assert "only accepted around ['sklearn.utils.validation.check_array']" in message
    # trusting functools.partial alone does not trust what it wraps
    with pytest.raises(UnsafeModelError, match=r"\['sklearn.datasets.dump_svmlight_file'\]"):
        registry.load_model("hgb-tampered", trusted=["functools.partial"])


def test_a_partial_of_your_own_loads_when_named(registry: ModelRegistry) -> None:
    from functools import partial

    X = np.array([[-1.0, 0.5], [2.0, 0.2]])
    _register(registry, "clipper", FunctionTransformer(partial(np.clip, a_min=0.0, a_max=1.0)))
    with pytest.raises(UnsafeModelError) as caught:
        registry.load_model("clipper")
    assert caught.value.untrusted == ["functools.partial", "numpy.clip"]
    assert "functools.partial wraps ['numpy.clip']" in str(caught.value)
    loaded = registry.load_model("clipper", trusted=["functools.partial", "numpy.clip"])
    np.testing.assert_array_equal(loaded.transform(X), [[0.0, 0.5], [1.0, 0.2]])


def test_bound_methods_are_callables_too(registry: ModelRegistry) -> None:
    X, _ = load_iris(return_X_y=True)
    scaler = StandardScaler().fit(X)
    _register(registry, "method", FunctionTransformer(scaler.transform))
    method = "sklearn.preprocessing._data.StandardScaler.transform"
    with pytest.raises(UnsafeModelError, match=r"trusted by exact name only") as caught:
        registry.load_model("method")
    assert method in caught.value.untrusted
    loaded = registry.load_model("method", trusted=caught.value.untrusted)
    np.testing.assert_allclose(loaded.transform(X), scaler.transform(X))


def test_trusted_true_loads_a_benign_custom_class_with_a_warning(registry: ModelRegistry) -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    with registry.client.start_run("safety") as run:
        pass
    registry.register_model("benign", run=run, model=Benign(3.0), input_example=X)
    with pytest.raises(UnsafeModelError):
        registry.load_model("benign")
    with pytest.warns(UnsafeLoadWarning, match=r"trusted=True.*test_serializers.Benign"):
        model = registry.load_model("benign", trusted=True)
    np.testing.assert_array_equal(model.predict(X), [9.0, 21.0])
    # naming exactly the reviewed types trusts them without a warning (warnings are errors here)
    for trusted in (["test_serializers.Benign"], [Benign], "test_serializers.Benign"):
        assert registry.load_model("benign", trusted=trusted).factor == 3.0
    signature = registry.get_model_version("benign").signature
    assert signature is not None and signature.input_names == ["0", "1"]
    assert [c.name for c in signature.outputs] == ["prediction"]  # observed on the object


def test_tree_models_load_by_default(registry: ModelRegistry) -> None:
    X, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with registry.client.start_run("safety") as run:
        pass
    registry.register_model("forest", run=run, model=forest, input_example=X)
    np.testing.assert_array_equal(registry.load_model("forest").predict(X), forest.predict(X))


def test_pickle_fallback_loads_only_when_trusted(registry: ModelRegistry) -> None:
    with registry.client.start_run("safety") as run:
        pass
    version = registry.register_model("doubler", run=run, model=Doubler())
    assert version.flavor == "pickle" and version.artifact_path.endswith("model.pkl")
    for trusted in (False, ["test_serializers.Doubler"]):
        with pytest.raises(UnsafeModelError, match=r"pickle file.*trusted=True"):
            registry.load_model("doubler", trusted=trusted)
    with pytest.warns(UnsafeLoadWarning, match="unpickling runs"):
        model = registry.load_model("doubler", trusted=True)
    assert model.predict([1, 2]).tolist() == [2, 4]


def test_bad_trusted_values_are_refused(registry: ModelRegistry) -> None:
    for bad in (1, None, [1], {"a": 1}):
        with pytest.raises(wb.InvalidParameterError, match="'trusted' parameter of load_model"):
            registry.load_model("anything", trusted=bad)


class Rule:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict(self, X: Any) -> Any:
        return (np.asarray(X)[:, 0] > self.threshold).astype(int)


class RuleSerializer(Serializer):
    name, suffix, media_type, priority = "rule-json", ".rule.json", "application/json", 60

    def applies(self, model: Any) -> bool:
        return isinstance(model, Rule)

    def save(self, model: Any, path: Path) -> None:
        path.write_text(json.dumps({"threshold": model.threshold}))

    def load(self, path: Path, *, trusted: Any) -> Any:
        return Rule(json.loads(path.read_text())["threshold"])


def test_other_flavours_plug_in(registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_serializers, "_serializers", dict(_serializers._serializers))
    register_serializer(RuleSerializer())
    assert _serializers.list_serializers() == ["rule-json", "skops", "pickle"]
    with pytest.raises(wb.InvalidParameterError, match=r"already registered.*replace=True"):
        register_serializer(RuleSerializer())
    with pytest.raises(wb.InvalidParameterError, match="must be an instance of"):
        register_serializer(Rule)  # type: ignore[arg-type]
    with registry.client.start_run("safety") as run:
        pass
    version = registry.register_model("rule", run=run, model=Rule(0.5))
    assert (version.flavor, version.artifact_path) == (
        "rule-json",
        "models/rule/v1/model.rule.json",
    )
    assert registry.load_model("rule").predict([[0.2], [0.9]]).tolist() == [0, 1]
    with pytest.raises(wb.InvalidParameterError, match=r"No serializer named 'onnx'.*rule-json"):
        registry.register_model("rule", run=run, model=Rule(0.5), flavor="onnx")
    with pytest.raises(wb.InvalidParameterError, match="'flavor' parameter"):
        registry.register_model("rule", run=run, model=Rule(0.5), flavor="skops")
