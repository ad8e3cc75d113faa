"""Whose fault an error is: input errors are 4xx naming the column or shape problem, even for a
model registered without an input example; 5xx only for faults of the server (and of models
raising on input their signature accepted). In-process (the ASGI app with its lifespan), so
several models are cheap to serve."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _serving_models import FlakyModel, Models, opened
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import workbench as wb
from workbench.serving import ServingConfig, build_app

IRIS_X, IRIS_Y = load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def store(models: Models) -> Path:
    """Models registered the way the issue did: fitted, without an input example."""
    iris = LogisticRegression(max_iter=1000).fit(IRIS_X, IRIS_Y)
    on_array = LogisticRegression(max_iter=1000).fit(IRIS_X.to_numpy(), IRIS_Y)
    frame = IRIS_X.assign(kind=np.where(IRIS_X["sepal length (cm)"] > 5.8, "big", "small"))
    pipeline = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["kind"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=1000),
    ).fit(frame, IRIS_Y)
    with opened(models.store) as client:
        registry = wb.registry.ModelRegistry(client)
        with client.start_run("no-examples") as run:  # logs no training dataset
            pass
        registry.register_model("iris-noex", run=run.run_id, model=iris)
        registry.register_model("iris-array", run=run.run_id, model=on_array)
        registry.register_model("iris-pipe", run=run.run_id, model=pipeline)
        # A model that declares nothing about its input: no signature at all.
        registry.register_model(
            "iris-opaque", run=run.run_id, model=FlakyModel(on_array), flavor="pickle"
        )
    return models.store


def serve(
    store: Path, uri: str, requests: list[dict[str, Any]], *, trusted: bool = False
) -> list[httpx.Response]:
    """Start the app of ``uri`` in-process, send ``requests`` (httpx.post kwargs), stop it: the
    answers, then ``GET /metrics``."""
    app = build_app(ServingConfig(model_uri=uri, store=str(store), trusted=trusted))

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as h:
                answers = [await h.post("/invocations", **r) for r in requests]
                answers.append(await h.get("/metrics"))
                return answers

    return asyncio.run(run())


def split(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"json": {"dataframe_split": {"columns": columns, "data": rows}}}


def test_a_model_registered_without_an_example_declares_its_signature(store: Path) -> None:
    with opened(store) as client:
        registry = wb.registry.ModelRegistry(client)
        signature = registry.get_model_version("iris-noex/1").signature
        on_array = registry.get_model_version("iris-array/1").signature
    assert signature is not None
    assert signature.input_names == list(IRIS_X.columns)
    assert {(c.kind, c.dtype, c.nullable) for c in signature.inputs} == {
        ("float", "float64", False)
    }
    assert [(c.name, c.kind) for c in signature.outputs] == [("prediction", "integer")]
    assert on_array is not None and on_array.input_type == "ndarray"


def test_wrong_input_is_a_400_naming_the_column_or_the_shape(store: Path) -> None:
    columns = list(IRIS_X.columns)
    *answers, metrics = serve(
        store,
        "iris-noex/1",
        [
            split(["nope"], [[1]]),
            split(columns[:3], [[5.1, 3.5, 1.4]]),
            {"json": {"inputs": [[1, 2]]}},
            split(columns, [[5.1, 3.5, 1.4, "wide"]]),
            split(columns, IRIS_X.iloc[:2].values.tolist()),
        ],
    )
    statuses = [a.status_code for a in answers]
    assert statuses == [400, 400, 400, 400, 200], [a.text for a in answers]
    messages = [a.json().get("message", "") for a in answers[:4]]
    assert all(a.json()["error_code"] == "SIGNATURE_MISMATCH" for a in answers[:4])
    assert "missing column 'sepal length (cm)' (float, float64)" in messages[0]
    assert "unexpected columns ['nope']" in messages[0]
    assert "missing column 'petal width (cm)'" in messages[1]
    assert "the rows have 2 values each, but the model takes 4 columns" in messages[2]
    assert "column 'petal width (cm)' (float64): 1 value cannot be read as numbers" in messages[3]
    assert all(a.headers["x-request-id"] for a in answers)
    text = metrics.text
    assert re.search(
        r'workbench_request_errors_total\{error_code="SIGNATURE_MISMATCH",'
        r'kind="client",model="iris-noex",role="primary",version="1"\} 4\.0',
        text,
    )
    assert 'kind="server"' not in text


def test_positional_rows_reach_an_array_model_as_an_array(store: Path) -> None:
    rows = IRIS_X.iloc[:3].values.tolist()
    ok, wrong, _ = serve(
        store, "iris-array/1", [{"json": {"instances": rows}}, split(["a"], [[1]])]
    )
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 3
    assert wrong.status_code == 400 and "missing column '0'" in wrong.json()["message"]


def test_a_rejection_of_unchecked_values_is_the_inputs_fault(store: Path) -> None:
    good = IRIS_X.assign(kind="big").iloc[:2]
    columns = list(good.columns)
    bad = good.assign(**{"sepal width (cm)": "wide"})
    ok, rejected, missing, metrics = serve(
        store,
        "iris-pipe/1",
        [
            split(columns, good.values.tolist()),
            split(columns, bad.values.tolist()),
            split(columns[:2], good.iloc[:, :2].values.tolist()),
        ],
    )
    assert ok.status_code == 200
    assert rejected.status_code == 400, rejected.text
    body = rejected.json()
    assert body["error_code"] == "INPUT_REJECTED"
    assert "Model iris-pipe/1 rejected this input: ValueError" in body["message"]
    assert "does not give the types of columns" in body["message"]
    assert missing.status_code == 400 and "missing column 'kind'" in missing.json()["message"]
    assert 'error_code="INPUT_REJECTED",kind="client"' in metrics.text


@pytest.mark.filterwarnings("ignore::workbench.exceptions.UnsafeLoadWarning")
def test_without_any_signature_the_models_refusal_is_a_400(store: Path) -> None:
    ok, short, negative, _ = serve(
        store,
        "iris-opaque/1",
        [
            {"json": {"instances": IRIS_X.iloc[:2].values.tolist()}},
            {"json": {"inputs": [[1, 2]]}},
            {"json": {"instances": [[-1.0, 1.0, 1.0, 1.0]]}},  # FlakyModel raises ValueError
        ],
        trusted=True,
    )
    assert ok.status_code == 200
    assert short.status_code == 400 and short.json()["error_code"] == "INPUT_REJECTED"
    assert "X has 2 features, but LogisticRegression is expecting 4" in short.json()["message"]
    assert "The model has no signature" in short.json()["message"]
    assert negative.status_code == 400


@pytest.mark.filterwarnings("ignore::workbench.exceptions.UnsafeLoadWarning")
def test_a_model_failing_on_accepted_input_is_a_500_counted_as_the_servers(
    models: Models,
) -> None:
    failing = models.X.iloc[:1].assign(**{"mean radius": -1.0})
    answer, metrics = serve(
        models.store, "flk/2", [split(list(failing.columns), failing.values.tolist())], trusted=True
    )
    assert answer.status_code == 500 and answer.json()["error_code"] == "MODEL_ERROR"
    assert answer.headers["x-request-id"]
    assert 'error_code="MODEL_ERROR",kind="server"' in metrics.text


def test_a_fault_of_the_server_is_a_500_logged_once(
    store: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from workbench.serving import app as app_module

    def broken(result: Any) -> bytes:
        raise RuntimeError("encoder broke")

    monkeypatch.setattr(app_module, "encode_predictions", broken)
    rows = IRIS_X.iloc[:1]
    answer, metrics = serve(store, "iris-noex/1", [split(list(rows.columns), rows.values.tolist())])
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert body["error_code"] == "INTERNAL_ERROR"
    assert "RuntimeError: encoder broke" in body["message"]
    assert answer.headers["x-request-id"] in body["message"]
    assert 'error_code="INTERNAL_ERROR",kind="server"' in metrics.text
    tracebacks = [r for r in caplog.records if r.exc_info and "invocations" in r.getMessage()]
    assert len(tracebacks) == 1
