"""Models that need ``trusted=`` can be evaluated and monitored; models scikit-learn builds need
none, so the closed loop runs on them as they are (issue 12: a HistGradientBoosting pipeline with
categorical features could not be monitored at all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

import workbench as wb
from workbench.exceptions import UnsafeModelError
from workbench.monitoring.evaluation import evaluate
from workbench.monitoring.loop import MonitorPolicy, monitor

FEATURES = ["x", "colour"]
TRUST = ["test_trusted.centred"]


def centred(values: Any) -> Any:
    """A function of the user's own: its model loads only when the caller trusts it."""
    return np.asarray(values, dtype=float) - 0.5


def _frame(seed: int, *, flipped: bool = False, rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.uniform(0.0, 1.0, rows), "colour": rng.choice(["red", "green", "blue"], rows)}
    )
    label = (frame["x"] > 0.5) ^ (frame["colour"] == "red")
    frame["y"] = (~label if flipped else label).astype(int)
    return frame


def _own_function_model(train: pd.DataFrame) -> Any:
    encode = make_column_transformer(
        (FunctionTransformer(centred), ["x"]), (OrdinalEncoder(), ["colour"])
    )
    return make_pipeline(encode, LogisticRegression()).fit(train[FEATURES], train["y"])


def _categorical_hgb(train: pd.DataFrame) -> Any:
    encode = make_column_transformer((OrdinalEncoder(), ["colour"]), remainder="passthrough")
    model = HistGradientBoostingClassifier(categorical_features=[0], max_iter=10, random_state=0)
    return make_pipeline(encode, model).fit(train[FEATURES], train["y"])


def _register(name: str, model: Any, reference: pd.DataFrame) -> None:
    with wb.start_run("training") as run:
        pass
    version = wb.register_model(name, run=run, model=model, input_example=reference[FEATURES])
    wb.set_alias(name, "champion", version.version)


def _monitor(name: str, reference: pd.DataFrame, retrain: Any, **kwargs: Any) -> Any:
    return monitor(
        name,
        reference=reference,
        target="y",
        features=FEATURES,
        on_drift=retrain,
        triggers=["performance"],
        performance_floor=0.7,
        evaluation="holdout",  # the gate loads both models in the check that retrains
        **kwargs,
    )


def test_evaluate_passes_trusted_to_load_model(store_dir: Path) -> None:
    reference = _frame(0)
    _register("own", _own_function_model(reference), reference)
    with pytest.raises(UnsafeModelError, match=r"test_trusted\.centred"):
        evaluate("own@champion", reference, target="y", log=False)
    result = evaluate("own@champion", reference, target="y", log=False, trusted=TRUST)
    assert result.metrics["accuracy"] > 0.5


def test_the_loop_loads_champion_and_challenger_with_trusted(store_dir: Path) -> None:
    reference = _frame(0)
    _register("own", _own_function_model(reference), reference)
    with pytest.raises(UnsafeModelError, match=r"trusted=\['test_trusted\.centred'\]"):
        _monitor("own", reference, _own_function_model).check(_frame(1, flipped=True))
    step = _monitor("own", reference, _own_function_model, trusted=TRUST).check(
        _frame(2, flipped=True)
    )
    assert step.fired == ("performance",)
    assert step.challenger_version is not None and step.challenger_holdout is not None
    assert wb.load_model("own@challenger", trusted=TRUST) is not None


def test_the_loop_runs_on_a_categorical_gradient_boosting_pipeline_without_trust(
    store_dir: Path,
) -> None:
    reference = _frame(0, rows=300)
    _register("hgb", _categorical_hgb(reference), reference)
    step = _monitor("hgb", reference, _categorical_hgb).check(_frame(1, flipped=True, rows=300))
    assert step.fired == ("performance",)
    assert step.decision == "promoted", step.explain()
    assert step.new_champion_version == 2


def test_policy_checks_trusted() -> None:
    assert MonitorPolicy("m", trusted="pkg.Type").trusted == ("pkg.Type",)
    assert MonitorPolicy("m", trusted=True).trusted is True
    with pytest.raises(wb.InvalidParameterError, match="'trusted' parameter of MonitorPolicy"):
        MonitorPolicy("m", trusted=1)
