"""Scoring payloads (MLflow's formats and CSV) and their checks against a signature, in-process."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.exceptions import SignatureMismatchError
from workbench.registry import infer_signature
from workbench.serving import MalformedRequestError, PayloadTooLargeError
from workbench.serving._convert import InputConverter
from workbench.serving._errors import UnsupportedMediaTypeError
from workbench.serving._payloads import Table, encode_predictions, parse_payload

JSON = "application/json"
FRAME = pd.DataFrame({"a": [1.0, 2.5], "b": [3.0, 4.0]})


def parse(payload: Any, content_type: str = JSON, max_rows: int = 100) -> Table:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_payload(body, content_type, max_rows=max_rows)


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 3.0], [2.5, 4.0]]}},
        {
            "dataframe_split": {
                "columns": ["a", "b"],
                "data": [[1.0, 3.0], [2.5, 4.0]],
                "index": [7, 8],
            }
        },
        {"dataframe_records": [{"a": 1.0, "b": 3.0}, {"b": 4.0, "a": 2.5}]},
        {"instances": [{"a": 1.0, "b": 3.0}, {"a": 2.5, "b": 4.0}]},
        {"inputs": {"a": [1.0, 2.5], "b": [3.0, 4.0]}},
        {"inputs": [{"a": 1.0, "b": 3.0}, {"a": 2.5, "b": 4.0}]},
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 3], [2.5, 4]]}, "params": {}},
    ],
)
def test_every_json_format_gives_the_same_frame(payload: dict[str, Any]) -> None:
    converter = InputConverter(infer_signature(FRAME))
    data, table = converter.convert(parse(payload))
    pd.testing.assert_frame_equal(data, FRAME)
    assert table.names == ["a", "b"]


def test_positional_rows_take_the_signature_names() -> None:
    converter = InputConverter(infer_signature(FRAME))
    for payload in (
        {"instances": [[1.0, 3.0], [2.5, 4.0]]},
        {"inputs": [[1.0, 3.0], [2.5, 4.0]]},
        {"dataframe_split": {"data": [[1.0, 3.0], [2.5, 4.0]]}},
    ):
        data, table = converter.convert(parse(payload))
        pd.testing.assert_frame_equal(data, FRAME)
        assert json.loads(table.to_json()) == {
            "columns": ["a", "b"],
            "data": [[1.0, 3.0], [2.5, 4.0]],
        }


def test_one_record_and_scalars_for_one_column() -> None:
    one = pd.DataFrame({"x": [1.5, 2.0]})
    converter = InputConverter(infer_signature(one))
    data, _ = converter.convert(parse({"instances": [1.5, 2]}))
    pd.testing.assert_frame_equal(data, one)
    data, _ = converter.convert(parse({"inputs": {"x": 1.5}}))
    pd.testing.assert_frame_equal(data, one.head(1))


def test_csv_and_legacy_mlflow_1_content_types() -> None:
    converter = InputConverter(infer_signature(FRAME))
    data, _ = converter.convert(parse(b"a,b\n1.0,3\n2.5,4\n", "text/csv"))
    pd.testing.assert_frame_equal(data, FRAME)
    legacy = {"columns": ["a", "b"], "data": [[1.0, 3.0], [2.5, 4.0]]}
    data, _ = converter.convert(parse(legacy, "application/json; format=pandas-split"))
    pd.testing.assert_frame_equal(data, FRAME)
    records = [{"a": 1.0, "b": 3.0}, {"a": 2.5, "b": 4.0}]
    data, _ = converter.convert(parse(records, "application/json; format=pandas-records"))
    pd.testing.assert_frame_equal(data, FRAME)


def test_nan_and_infinity_literals_are_read_then_judged() -> None:
    converter = InputConverter(infer_signature(FRAME))
    table = parse(b'{"dataframe_split": {"columns": ["a", "b"], "data": [[NaN, Infinity]]}}')
    with pytest.raises(SignatureMismatchError) as info:
        converter.convert(table)
    problems = info.value.problems
    assert any("'a'" in p and "missing value" in p for p in problems)
    assert any("'b'" in p and "not finite" in p for p in problems)


@pytest.mark.parametrize(
    ("body", "content_type", "error", "match"),
    [
        (b"", JSON, MalformedRequestError, "body is empty"),
        (b"   ", JSON, MalformedRequestError, "body is empty"),
        (b"{not json", JSON, MalformedRequestError, "not valid JSON"),
        (b"[1, 2]", JSON, MalformedRequestError, "got a JSON array"),
        (b'{"rows": []}', JSON, MalformedRequestError, r"unknown key \['rows'\]"),
        (b"{}", JSON, MalformedRequestError, "no format key"),
        (
            b'{"instances": [[1]], "inputs": [[1]]}',
            JSON,
            MalformedRequestError,
            "several formats at once",
        ),
        (b'{"instances": [[1]], "params": {"k": 1}}', JSON, MalformedRequestError, "params"),
        (b'{"dataframe_split": [[1]]}', JSON, MalformedRequestError, "columns' and 'data'"),
        (
            b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}',
            JSON,
            MalformedRequestError,
            "row 0 has 2 values, but there are the 1 columns",
        ),
        (
            b'{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}',
            JSON,
            MalformedRequestError,
            "more than once",
        ),
        (b'{"dataframe_records": [1, 2]}', JSON, MalformedRequestError, "item 0 is a JSON number"),
        (b'{"instances": [[1], [1, 2]]}', JSON, MalformedRequestError, "row 1 has 2 values"),
        (b'{"instances": [[1], {"a": 1}]}', JSON, MalformedRequestError, "mixes"),
        (b'{"inputs": {"a": [1, 2], "b": [1]}}', JSON, MalformedRequestError, "same length"),
        (b'{"instances": []}', JSON, MalformedRequestError, "no rows"),
        (b"a,b\n", "text/csv", MalformedRequestError, "no rows"),
        (b"\xff\xfe\x00garbage", "text/csv", MalformedRequestError, "CSV body could not be read"),
        (b"a=1", "application/x-www-form-urlencoded", UnsupportedMediaTypeError, "text/csv"),
        (b'{"instances": [[1]]}', None, UnsupportedMediaTypeError, "no Content-Type"),
        (b'{"instances": [[1], [2], [3]]}', JSON, PayloadTooLargeError, "at most 2"),
    ],
)
def test_malformed_payloads_are_named_precisely(
    body: bytes, content_type: str | None, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        parse_payload(body, content_type, max_rows=2)


def test_signature_problems_name_the_column_the_value_and_the_row() -> None:
    frame = pd.DataFrame(
        {
            "age": np.array([30, 40], dtype=np.int64),
            "income": [1.5, np.nan],
            "city": ["a", "b"],
            "member": [True, False],
            "joined": pd.to_datetime(["2020-01-01", "2021-05-03"]),
        }
    )
    converter = InputConverter(infer_signature(frame))
    good = {
        "dataframe_records": [
            {"age": 31, "income": None, "city": "c", "member": True, "joined": "2022-02-02"}
        ]
    }
    data, _ = converter.convert(parse(good))
    assert list(data.dtypes.astype(str)) == list(frame.dtypes.astype(str))
    assert np.isnan(data["income"].iloc[0])
    bad = {
        "dataframe_records": [
            {"age": 31.5, "income": "rich", "city": 3, "member": "yes", "joined": "never"},
            {"age": None, "income": 1.0, "city": "x", "member": True, "joined": "2020-01-01"},
        ]
    }
    with pytest.raises(SignatureMismatchError) as info:
        converter.convert(parse(bad))
    text = str(info.value)
    assert (
        "column 'age' (int64): 1 value cannot be read as whole numbers: [31.5] at rows [0]" in text
    )
    assert "column 'age' (int64): 1 missing value(s) at rows [1]" in text
    assert "column 'income' (float64): 1 value cannot be read as numbers: ['rich']" in text
    assert "column 'city'" in text and "as strings: [3]" in text
    assert "column 'member'" in text and "booleans" in text
    assert "column 'joined'" in text and "['never']" in text
    assert len(info.value.problems) == 6


def test_missing_columns_suggest_the_misspelling() -> None:
    converter = InputConverter(infer_signature(FRAME))
    with pytest.raises(SignatureMismatchError, match=r"missing column 'b' .*did you mean 'bb'"):
        converter.convert(parse({"dataframe_records": [{"a": 1.0, "bb": 2.0}]}))
    with pytest.raises(SignatureMismatchError, match="rows have 3 values each"):
        converter.convert(parse({"instances": [[1.0, 2.0, 3.0]]}))


def test_extra_columns_are_ignored_and_order_does_not_matter() -> None:
    converter = InputConverter(infer_signature(FRAME))
    data, _ = converter.convert(
        parse({"dataframe_split": {"columns": ["z", "b", "a"], "data": [["?", 3.0, 1.0]]}})
    )
    pd.testing.assert_frame_equal(data, FRAME.head(1))


def test_booleans_and_huge_numbers_are_not_floats() -> None:
    converter = InputConverter(infer_signature(FRAME))
    with pytest.raises(SignatureMismatchError, match=r"'a'.*numbers: \[True\]"):
        converter.convert(parse({"instances": [[True, 1.0]]}))
    with pytest.raises(SignatureMismatchError, match="'a'"):
        converter.convert(parse(b'{"instances": [[1' + b"0" * 400 + b", 1.0]]}"))


def test_ndarray_models_get_arrays() -> None:
    array = np.array([[1.0, 2.0], [3.0, 4.0]])
    converter = InputConverter(infer_signature(array))
    data, _ = converter.convert(parse({"instances": [[1.0, 2.0], [3.0, 4]]}))
    assert isinstance(data, np.ndarray)
    np.testing.assert_array_equal(data, array)


def test_without_a_signature_rows_pass_unchecked() -> None:
    data, _ = InputConverter(None).convert(parse({"instances": [[1, 2], [3, 4]]}))
    np.testing.assert_array_equal(data, [[1, 2], [3, 4]])
    data, _ = InputConverter(None).convert(parse({"dataframe_records": [{"a": 1}]}))
    assert list(data.columns) == ["a"]


def test_predictions_encode_like_mlflow() -> None:
    assert encode_predictions(np.array([0, 1])) == b"[0,1]"
    assert json.loads(encode_predictions(np.array([[0.25, 0.75]]))) == [[0.25, 0.75]]
    assert json.loads(encode_predictions(np.array([1.0, np.nan]))) == [1.0, None]
    assert json.loads(encode_predictions(np.array(["a", "b"]))) == ["a", "b"]
    assert json.loads(encode_predictions(pd.DataFrame({"p": [1, 2]}))) == [{"p": 1}, {"p": 2}]
    assert json.loads(encode_predictions(pd.Series([3, 4]))) == [3, 4]
