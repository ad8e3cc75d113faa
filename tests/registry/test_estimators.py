"""Every scikit-learn estimator that fits on a small frame registers, and loads back without
``trusted=``, predicting exactly what it predicted before it was saved.

The default trust policy (docs/registry.md, "Loading safely") must cover what scikit-learn itself
puts into a fitted estimator: trees, loss objects, the functions some estimators keep
(``f_classif``, ``numpy.mean``, ``_kmeans_single_lloyd``, BSpline's ``asarray``) and the
``functools.partial(check_array, ...)`` of HistGradientBoosting with categorical features. When
a scikit-learn release stores something new, a test here fails naming it.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import RegressorMixin, clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler
from sklearn.utils import all_estimators

import workbench as wb
from workbench.registry import ModelRegistry

#: Estimators that need input other than a numeric frame, or cannot be saved with skops; why.
SKIPPED = {
    "CountVectorizer": "needs text documents, not a numeric frame",
    "TfidfVectorizer": "needs text documents, not a numeric frame",
    "HashingVectorizer": "needs text documents, not a numeric frame",
    "DictVectorizer": "needs an iterable of dicts, not a frame",
    "FeatureHasher": "needs an iterable of dicts or of strings, not a frame",
    "PatchExtractor": "needs images (n_samples, height, width)",
    "KernelCenterer": "needs a square kernel matrix",
    "LabelBinarizer": "transforms targets (fit(y)), not features",
    "LabelEncoder": "transforms targets (fit(y)), not features",
    "MultiLabelBinarizer": "transforms targets (fit(y)), not features",
    "Birch": "skops cannot save it (UnsupportedTypeException for its _CFNode tree); "
    "register_model(..., flavor='pickle') works and loads only with trusted=True",
}
#: Estimators fitted on a 2-D target (one column per output).
MULTI_OUTPUT = {
    "MultiTaskElasticNet",
    "MultiTaskElasticNetCV",
    "MultiTaskLasso",
    "MultiTaskLassoCV",
    "MultiOutputRegressor",
    "MultiOutputClassifier",
    "RegressorChain",
    "ClassifierChain",
}
#: Iterative estimators are kept short; only the parameters an estimator has are set.
FAST = {"n_estimators": 5, "max_iter": 20, "n_init": 1, "cv": 2}
#: Methods whose output differs from one call to the next on the same model, by design.
RANDOM_METHODS = {"BernoulliRBM": {"score_samples"}}
METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "score_samples",
    "transform",
    "mahalanobis",
    "kneighbors",
)
#: What estimators without predict/transform (clusterers, embeddings) computed when fitted.
FITTED = (
    "labels_",
    "embedding_",
    "row_labels_",
    "column_labels_",
    "negative_outlier_factor_",
)

ROWS = 40
_rng = np.random.default_rng(0)
X = pd.DataFrame(_rng.uniform(0.1, 1.0, size=(ROWS, 4)), columns=["a", "b", "c", "d"])
Y_CLASS = np.array([0, 1] * (ROWS // 2))
Y_REG = 2 * X["a"].to_numpy() + X["b"].to_numpy() + _rng.normal(0, 0.1, ROWS)


def _sub_estimator(cls: type) -> Any:
    return Ridge() if issubclass(cls, RegressorMixin) else LogisticRegression(max_iter=200)


def _build(name: str, cls: type) -> Any:
    """The estimator with what it requires (sub-estimators, a dictionary) and short fits."""
    given: dict[str, Any] = {
        "ColumnTransformer": {"transformers": [("scale", StandardScaler(), ["a", "b"])]},
        "FeatureUnion": {"transformer_list": [("scale", StandardScaler())]},
        "Pipeline": {"steps": [("scale", StandardScaler()), ("model", LogisticRegression())]},
        "SparseCoder": {"dictionary": _rng.uniform(size=(3, 4))},
        "GridSearchCV": {"param_grid": {"C": [0.1, 1.0]}, "cv": 2},
        "RandomizedSearchCV": {"param_distributions": {"C": [0.1, 1.0]}, "n_iter": 2, "cv": 2},
        "SelfTrainingClassifier": {"estimator": LogisticRegression()},
        "FrozenEstimator": {"estimator": LogisticRegression().fit(X, Y_CLASS)},
        "CCA": {"n_components": 1},
        "PLSCanonical": {"n_components": 1},
        "PLSSVD": {"n_components": 1},
        "GaussianRandomProjection": {"n_components": 2},
        "SparseRandomProjection": {"n_components": 2},
        "TSNE": {"perplexity": 5.0, "max_iter": 250},
        "OrthogonalMatchingPursuitCV": {"max_iter": None},  # atoms, at most the 4 features
    }
    kwargs = dict(given.get(name, {}))
    required = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.default is inspect.Parameter.empty and p.name in ("estimator", "estimators")
    ]
    for param in required:
        sub = _sub_estimator(cls)
        kwargs.setdefault(
            param.name, sub if param.name == "estimator" else [("a", sub), ("b", clone(sub))]
        )
    estimator = cls(**kwargs)
    own = estimator.get_params(deep=False)
    estimator.set_params(**{k: x for k, x in FAST.items() if k in own and k not in kwargs})
    return estimator


def _data(name: str, estimator: Any) -> tuple[pd.DataFrame, np.ndarray]:
    features = X[["a"]] if name == "IsotonicRegression" else X
    y = Y_REG if isinstance(estimator, RegressorMixin) else Y_CLASS
    if name in MULTI_OUTPUT:
        y = np.column_stack([y, y[::-1]])
    return features, y


def _dense(values: Any) -> np.ndarray:
    return np.asarray(values.toarray() if hasattr(values, "toarray") else values)


def _outputs(name: str, model: Any, features: pd.DataFrame) -> dict[str, np.ndarray]:
    """What the model answers (and what it computed when fitted, for clusterers/embeddings)."""
    found: dict[str, np.ndarray] = {}
    for method in METHODS:
        if method in RANDOM_METHODS.get(name, ()) or not hasattr(model, method):
            continue
        try:
            found[method] = _dense(getattr(model, method)(features))
        except (AttributeError, NotImplementedError, ValueError):
            continue  # e.g. inverse-only transformers; compared as fitted outputs below
    for attribute in FITTED:
        if getattr(model, attribute, None) is not None:
            found[attribute] = _dense(getattr(model, attribute))
    return found


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelRegistry]:
    client = wb.Workbench(tmp_path_factory.mktemp("estimators") / "store")
    yield ModelRegistry(client)
    client.close()


@pytest.fixture(scope="module")
def run_id(registry: ModelRegistry) -> str:
    with registry.client.start_run("estimators") as run:
        pass
    return run.run_id


def _estimator_params() -> list[Any]:
    return [
        pytest.param(name, cls, id=name, marks=pytest.mark.skip(reason=SKIPPED[name]))
        if name in SKIPPED
        else pytest.param(name, cls, id=name)
        for name, cls in all_estimators()
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cls"), _estimator_params())
def test_every_estimator_loads_back_without_trust(
    registry: ModelRegistry, run_id: str, name: str, cls: type
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecations, convergence: fits are kept short
        estimator = _build(name, cls)
        features, y = _data(name, estimator)
        estimator.fit(features, y)
        expected = _outputs(name, estimator, features)
    assert expected, f"{name}: nothing to compare"
    registry.register_model(name, run=run_id, model=estimator)
    with warnings.catch_warnings():
        # scikit-learn warns when a deprecated class is built; any other warning is an error
        warnings.filterwarnings("ignore", "Class .* is deprecated", FutureWarning)
        loaded = registry.load_model(name)  # no trusted=: must not raise UnsafeModelError
    assert type(loaded) is type(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        actual = _outputs(name, loaded, features)
    assert actual.keys() == expected.keys()
    for key, values in expected.items():
        np.testing.assert_array_equal(actual[key], values, err_msg=f"{name}.{key}")


def _categorical_frame() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=120), "colour": rng.choice(["red", "green", "blue"], size=120)}
    )
    y_class = ((frame["colour"] == "red") ^ (frame["x"] > 0)).to_numpy().astype(int)
    return frame, y_class, frame["x"].to_numpy() + (frame["colour"] == "red").to_numpy()


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("how", ["pipeline", "from_dtype"])
def test_hist_gradient_boosting_with_categorical_features_loads_without_trust(
    registry: ModelRegistry, run_id: str, kind: str, how: str
) -> None:
    """scikit-learn keeps ``functools.partial(check_array, ...)`` in such a model (issue 12)."""
    frame, y_class, y_reg = _categorical_frame()
    cls = HistGradientBoostingClassifier if kind == "classifier" else HistGradientBoostingRegressor
    y = y_class if kind == "classifier" else y_reg
    if how == "pipeline":
        encode = make_column_transformer((OrdinalEncoder(), ["colour"]), remainder="passthrough")
        model = make_pipeline(encode, cls(categorical_features=[0], max_iter=10)).fit(frame, y)
    else:
        frame = frame.astype({"colour": "category"})
        model = cls(categorical_features="from_dtype", max_iter=10).fit(frame, y)
    name = f"hgb-{kind}-{how}"
    registry.register_model(name, run=run_id, model=model)
    loaded = registry.load_model(name)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    if kind == "classifier":
        np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
