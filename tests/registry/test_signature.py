"""Signatures: inferred from data and the model's output, or from what a fitted estimator
declares; validate() finds every problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import workbench as wb
from workbench.exceptions import SignatureMismatchError
from workbench.registry import ModelSignature, infer_signature
from workbench.signature import (
    example_data,
    make_input_example,
    signature_from_estimator,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([30, 40, 50, 60], dtype="int64"),
            "income": [1.5, np.nan, 3.0, 4.5],
            "plan": ["a", "b", None, "a"],
            "active": [True, False, True, True],
            "since": pd.to_datetime(["2020-01-01", "2021-02-03", "2022-03-04", "2023-04-05"]),
            "segment": pd.Categorical(["x", "y", "x", "y"]),
        }
    )


def test_inputs_columns_dtypes_kinds_nullability(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    got = [(c.name, c.kind, c.nullable) for c in signature.inputs]
    assert got == [
        ("age", "integer", False),
        ("income", "float", True),
        ("plan", "string", True),
        ("active", "boolean", False),
        ("since", "datetime", False),
        ("segment", "category", False),
    ]
    assert signature.inputs[0].dtype == "int64"
    assert signature.outputs == () and signature.output_shape is None


def test_outputs_from_the_model_on_a_sample() -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    classifier = LogisticRegression(max_iter=500).fit(X, y)
    signature = infer_signature(X, classifier)
    assert signature.method == "predict" and signature.output_shape == ()
    assert [(c.name, c.kind) for c in signature.outputs] == [("prediction", "integer")]
    scaler = StandardScaler().fit(X.to_numpy())
    array_signature = infer_signature(X.to_numpy(), scaler)
    assert array_signature.input_type == "ndarray"
    assert array_signature.input_names == ["0", "1", "2", "3"]
    assert array_signature.method == "transform" and array_signature.output_shape == (4,)
    assert [c.name for c in array_signature.outputs][:2] == ["prediction_0", "prediction_1"]


def test_a_model_that_fails_on_the_example_is_a_clear_error() -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.raises(wb.InvalidParameterError, match=r"LogisticRegression.predict\(\) failed"):
        infer_signature(X.drop(columns=X.columns[0]), model)


def test_round_trips_through_dict(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    assert ModelSignature.from_dict(signature.to_dict()) == signature


def test_validate_accepts_matching_and_castable_data(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    assert signature.validate(frame) == []
    as_json = pd.DataFrame(
        {
            "since": ["2024-01-01", "2024-01-02"],  # any order, strings for dates
            "age": ["31", 41.0],  # numbers as text; whole floats for ints
            "income": [None, "2.5"],
            "plan": ["c", "d"],
            "active": ["true", 0],
            "segment": ["x", "z"],
            "extra": [1, 2],  # ignored
        }
    )
    assert signature.validate(as_json) == []
    conformed = signature.conform(as_json)
    assert list(conformed.columns) == signature.input_names
    assert conformed["age"].tolist() == [31, 41] and str(conformed["age"].dtype) == "int64"
    assert conformed["active"].tolist() == [True, False]
    assert str(conformed["since"].dtype).startswith("datetime64")


def test_validate_lists_every_problem_precisely(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    bad = pd.DataFrame(
        {
            "agee": [1, 2, 3],  # misspelled
            "income": ["1.0", "lots", "3"],
            "plan": ["a", "b", "c"],
            "active": [True, "maybe", None],
            "since": ["2020-01-01", "not a date", "2020-01-03"],
            "segment": ["x", "y", "x"],
        }
    )
    problems = signature.validate(bad)
    text = "\n".join(problems)
    assert "missing column 'age' (integer, int64) (did you mean 'agee'?)" in text
    assert "unexpected columns ['agee']" in text
    assert (
        "column 'income' (float64): 1 value cannot be read as numbers: ['lots'] at rows [1]" in text
    )
    assert "column 'active' (bool): 1 missing value(s) at rows [2]" in text
    assert "column 'active' (bool): 1 value cannot be read as booleans" in text
    assert "'maybe'" in text
    assert "column 'since' (datetime64[us]): 1 value cannot be read as dates/times" in text
    assert len(problems) == 6
    with pytest.raises(SignatureMismatchError, match=r"6 problems") as caught:
        signature.conform(bad)
    assert caught.value.problems == problems
    assert isinstance(caught.value, wb.InvalidParameterError)


def test_integers_must_be_whole_and_shapes_must_fit() -> None:
    signature = infer_signature(np.array([[1, 2], [3, 4]], dtype="int64"))
    assert signature.validate([[1, 2.5]]) == [
        "column '1' (int64): 1 value cannot be read as whole numbers: [2.5] at rows [0]"
    ]
    assert "shape (1, 3)" in signature.validate([[1, 2, 3]])[0]
    assert "got str" in signature.validate("1,2")[0]
    conformed = signature.conform([{"0": 5, "1": 6}])
    assert isinstance(conformed, np.ndarray) and conformed.tolist() == [[5, 6]]


def test_input_example_round_trip(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    example = make_input_example(frame, rows=3)
    assert example["columns"] == signature.input_names and len(example["data"]) == 3
    back = example_data(example, signature)
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True), frame.head(3), check_dtype=False, check_categorical=False
    )
    assert str(back["age"].dtype) == "int64" and back["since"].dtype == frame["since"].dtype


# -- from a fitted estimator, when no input example is given ----------------------------------


def test_a_fitted_estimator_declares_names_types_and_classes() -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    signature = signature_from_estimator(LogisticRegression(max_iter=500).fit(X, y))
    assert signature is not None
    assert signature.input_names == list(X.columns) and signature.input_type == "dataframe"
    assert {(c.dtype, c.kind, c.nullable) for c in signature.inputs} == {
        ("float64", "float", False)  # LogisticRegression takes numbers, and no NaN
    }
    assert signature.method == "predict" and signature.output_shape == ()
    assert [(c.name, c.dtype) for c in signature.outputs] == [("prediction", "int64")]
    labels = signature_from_estimator(
        LogisticRegression(max_iter=500).fit(X, np.array(["a", "b", "c"])[y])
    )
    assert labels is not None and labels.outputs[0].kind in ("string", "object")
    assert signature.validate(X) == []
    assert "missing column 'petal width (cm)'" in signature.validate(X.iloc[:, :3])[0]


def test_an_array_model_takes_positional_columns_and_nan_where_it_can() -> None:
    X, y = load_iris(return_X_y=True)
    signature = signature_from_estimator(HistGradientBoostingClassifier(max_iter=5).fit(X, y))
    assert signature is not None and signature.input_type == "ndarray"
    assert signature.input_names == ["0", "1", "2", "3"]
    assert all(c.kind == "float" and c.nullable for c in signature.inputs)  # it accepts NaN


def test_the_training_datasets_dtypes_are_used_where_it_has_the_column() -> None:
    frame = pd.DataFrame({"age": [30, 40, 50, 60], "score": [0.5, 0.1, 0.9, 0.3]})
    model = LogisticRegression().fit(frame, [0, 1, 0, 1])
    training = infer_signature(frame.assign(target=[0, 1, 0, 1]))  # logged with the target
    signature = signature_from_estimator(model, training)
    assert signature is not None and signature.input_names == ["age", "score"]
    assert [(c.dtype, c.kind) for c in signature.inputs] == [
        ("int64", "integer"),
        ("float64", "float"),
    ]
    on_array = LogisticRegression().fit(frame.to_numpy(), [0, 1, 0, 1])
    positional = signature_from_estimator(on_array, infer_signature(frame))
    assert positional is not None and positional.input_type == "ndarray"
    assert positional.input_names == ["age", "score"]  # the dataset's names, in order


def test_columns_of_unknown_type_are_not_type_checked() -> None:
    frame = pd.DataFrame({"city": ["a", "b", "a", "c"], "x": [1.0, 2.0, 3.0, 4.0]})
    pipeline = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, [0, 1, 0, 1])
    signature = signature_from_estimator(pipeline)
    assert signature is not None
    assert [(c.name, c.kind, c.nullable) for c in signature.inputs] == [
        ("city", "object", True),
        ("x", "object", True),
    ]
    scaled = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame[["x"]], [0, 1, 0, 1])
    assert signature_from_estimator(scaled).inputs[0].kind == "float"  # type: ignore[union-attr]
    assert signature_from_estimator(object()) is None


def test_register_model_without_an_example_stores_the_declared_signature(
    tmp_path: Path,
) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    client = wb.Workbench(tmp_path / "store")
    registry = wb.registry.ModelRegistry(client)
    with client.start_run("train") as run:
        run.log_input(X.assign(target=y), name="training", context="training")
    version = registry.register_model("iris", run=run.run_id, model=model)
    assert version.signature is not None
    assert version.signature.input_names == list(X.columns)  # not the target
    assert version.signature.outputs[0].name == "prediction"
    assert version.input_example is None
    client.close()
