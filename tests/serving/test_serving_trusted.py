"""``deploy`` and ``batch_predict`` hand ``trusted=`` to ``load_model`` where the model is loaded
(the server process, or this one); a HistGradientBoosting pipeline with categorical features
needs no trust at all (issue 12: it failed to deploy, exit 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

import workbench as wb
from workbench.exceptions import UnsafeModelError
from workbench.serving import DeploymentError, batch_predict, deploy

#: numpy.clip is no ufunc: a FunctionTransformer holding it loads only when it is trusted.
TRUST = ["numpy.clip"]


def _frame(rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"x": rng.normal(0.5, 0.5, rows), "colour": rng.choice(["red", "green", "blue"], rows)}
    )


def _model(frame: pd.DataFrame, *, clip: bool) -> Any:
    numeric: Any = FunctionTransformer(np.clip, kw_args={"a_min": 0.0, "a_max": 1.0})
    encode = make_column_transformer(
        (OrdinalEncoder(), ["colour"]), (numeric if clip else "passthrough", ["x"])
    )
    y = ((frame["x"] > 0.5) ^ (frame["colour"] == "red")).astype(int)
    model = HistGradientBoostingClassifier(categorical_features=[0], max_iter=5)
    return make_pipeline(encode, model).fit(frame, y)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "store"
    client = wb.Workbench(path)
    frame = _frame()
    registry = wb.registry.ModelRegistry(client)
    with client.start_run("trusted") as run:
        pass
    for name, clip in (("hgb", False), ("clipped", True)):
        registry.register_model(
            name, run=run.run_id, model=_model(frame, clip=clip), input_example=frame
        )
    client.close()
    yield path


def test_batch_predict_passes_trusted(store: Path) -> None:
    frame = _frame()
    scored = batch_predict("hgb", frame, client=wb.connect(store))  # no trust needed
    np.testing.assert_array_equal(scored["prediction"], _model(frame, clip=False).predict(frame))
    with pytest.raises(UnsafeModelError, match=r"\['numpy\.clip'\]"):
        batch_predict("clipped", frame, client=wb.connect(store))
    scored = batch_predict("clipped", frame, client=wb.connect(store), trusted=TRUST)
    np.testing.assert_array_equal(scored["prediction"], _model(frame, clip=True).predict(frame))


@pytest.mark.slow
def test_deploy_passes_trusted_to_the_server_process(store: Path) -> None:
    frame = _frame()
    # functools.partial(check_array): trusted
    with deploy("hgb", client=wb.connect(store)) as server:
        np.testing.assert_array_equal(
            server.predict(frame.head(20)), _model(frame, clip=False).predict(frame.head(20))
        )
    with pytest.raises(DeploymentError, match=r"UnsafeModelError.*\['numpy\.clip'\]"):
        deploy("clipped", client=wb.connect(store))
    with deploy("clipped", client=wb.connect(store), trusted=TRUST) as server:
        np.testing.assert_array_equal(
            server.predict(frame.head(20)), _model(frame, clip=True).predict(frame.head(20))
        )
