"""The serving fast path (``serving._convert``) and ``ModelSignature.validate`` agree.

The fast path checks JSON request rows without building a DataFrame; ``validate`` checks a
DataFrame. On the same generated signatures and rows they must give the same answer, except where
the fast path is stricter by design (its module docstring): JSON values must have the column's
kind (numbers for numeric columns, ``true``/``false`` for booleans, strings for string and
datetime columns, scalars for categories) and numbers must be finite. That rule is written out
here independently (:func:`_json_strict`), so the property is exact:

    fast path accepts  <=>  validate accepts  and  no strict-JSON rule is broken
"""

from __future__ import annotations

import math
import os
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workbench.exceptions import SignatureMismatchError
from workbench.serving._convert import InputConverter
from workbench.serving._payloads import Table
from workbench.signature import ColumnSpec, ModelSignature

DTYPES = {
    "integer": ["int64", "int32"],
    "float": ["float64", "float32"],
    "boolean": ["bool"],
    "string": ["str", "object"],
    "datetime": ["datetime64[ns]", "datetime64[us]"],
    "category": ["category"],
    "object": ["object"],
}
NUMBER_TYPES = (int, float)
SCALAR_TYPES = (int, float, str, bool, type(None))

# Values a JSON parser can produce, good and bad for every kind.
_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, -1, 2**63 - 1, 2**63, -(2**63), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 1.5, -2.0, 1e300]),
    st.sampled_from(
        ["", "a", "abc", "1", "0", "1.5", "true", "false", "True", "nan", "inf", "1e3"]
    ),
    st.sampled_from(["2024-01-31", "2024-01-31T12:30:00", "2024-13-45", "31/01/2024", "yesterday"]),
    st.text(max_size=5),
)
_json_value = st.one_of(
    _json_scalar,
    _json_scalar.map(lambda v: [v]),
    _json_scalar.map(lambda v: {"k": v}),
)


@st.composite
def _spec(draw: st.DrawFn, name: str) -> ColumnSpec:
    kind = draw(st.sampled_from(sorted(DTYPES)))
    return ColumnSpec(name, draw(st.sampled_from(DTYPES[kind])), kind, draw(st.booleans()))


def _good_value(spec: ColumnSpec) -> st.SearchStrategy[Any]:
    """Values of the column's JSON kind (so that valid requests are common, not rare)."""
    return {
        "integer": st.integers(min_value=-(2**31), max_value=2**31),
        "float": st.floats(allow_nan=False, allow_infinity=False, width=32),
        "boolean": st.booleans(),
        "string": st.text(max_size=4),
        "datetime": st.sampled_from(["2024-01-31", "2023-06-01T08:00:00", "2020-02-29"]),
        "category": st.sampled_from(["a", "b", "c"]),
        "object": st.sampled_from(["a", 1, 2.5]),
    }[spec.kind]


@st.composite
def cases(draw: st.DrawFn) -> tuple[ModelSignature, list[str] | None, list[list[Any]]]:
    """A signature, the request's column names (None: positional rows) and its rows."""
    n = draw(st.integers(min_value=1, max_value=4))
    specs = tuple(draw(_spec(f"c{i}")) for i in range(n))
    input_type = draw(st.sampled_from(["dataframe", "ndarray"]))
    signature = ModelSignature(specs, input_type=input_type)
    positional = draw(st.booleans())
    if positional:
        names = None
        columns = list(specs)
    else:
        present = draw(st.lists(st.sampled_from(specs), unique=True, min_size=0, max_size=n))
        if draw(st.integers(0, 3)) > 0:  # usually all columns, in some order
            present = draw(st.permutations(list(specs)))
        extra = draw(st.lists(st.sampled_from(["extra", "c0x", "C1"]), unique=True, max_size=2))
        columns = list(present) + [ColumnSpec(e, "object", "object", True) for e in extra]
        columns = draw(st.permutations(columns))
        names = [c.name for c in columns]
    n_rows = draw(st.integers(min_value=1, max_value=4))
    bad_rate = draw(st.sampled_from([0.0, 0.1, 0.5]))
    rows = []
    for _ in range(n_rows):
        row = []
        for column in columns:
            wrong = draw(st.floats(0, 1)) < bad_rate
            row.append(draw(_json_value if wrong else _good_value(column)))
        rows.append(row)
    return signature, names, rows


def _is_null(value: Any) -> bool:
    return value is None or (type(value) is float and math.isnan(value))


def _breaks_json_kind(kind: str, value: Any) -> bool:
    """Whether ``value`` is not of the JSON kind the fast path takes for ``kind`` columns."""
    if _is_null(value):
        return False
    if kind in ("integer", "float"):
        return type(value) not in NUMBER_TYPES or (type(value) is float and math.isinf(value))
    allowed = {"boolean": (bool,), "string": (str,), "datetime": (str,), "category": SCALAR_TYPES}
    return kind in allowed and type(value) not in allowed[kind]


def _json_strict(signature: ModelSignature, names: list[str] | None, rows: list[list[Any]]) -> bool:
    """Whether a value breaks the fast path's documented JSON rules (independent of its code)."""
    names = names if names is not None else signature.input_names
    return any(
        _breaks_json_kind(spec.kind, row[names.index(spec.name)])
        for spec in signature.inputs
        if spec.name in names
        for row in rows
    )


def _fast_accepts(signature: ModelSignature, names: list[str] | None, rows: list[Any]) -> bool:
    try:
        InputConverter(signature).convert(Table(names, rows, "dataframe_split"))
    except SignatureMismatchError:
        return False
    return True


def _validate_accepts(
    signature: ModelSignature, names: list[str] | None, rows: list[list[Any]]
) -> bool:
    return not signature.validate(_frame(signature, names, rows))


def _frame(signature: ModelSignature, names: list[str] | None, rows: list[list[Any]]) -> Any:
    """The rows as the DataFrame a caller of ``validate`` would build from the same JSON."""
    return pd.DataFrame(rows, columns=names if names is not None else signature.input_names)


SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]
Case = tuple[ModelSignature, list[str] | None, list[list[Any]]]


def _assert_agree(case: Case) -> None:
    signature, names, rows = case
    fast = _fast_accepts(signature, names, rows)
    slow = _validate_accepts(signature, names, rows)
    strict = _json_strict(signature, names, rows)
    assert fast == (slow and not strict), (
        f"fast path {'accepts' if fast else 'rejects'}, validate "
        f"{'accepts' if slow else 'rejects'}, strict-JSON rule broken: {strict}\n"
        f"signature={signature.to_dict()['inputs']}\nnames={names}\nrows={rows}\n"
        f"validate: {signature.validate(_frame(signature, names, rows))}"
    )


@settings(max_examples=150, deadline=None, suppress_health_check=SUPPRESSED)
@given(cases())
@example(  # NaN in a nullable integer column is missing (found at length: int(NaN) raised)
    (ModelSignature((ColumnSpec("c0", "int64", "integer", True),)), ["c0"], [[1], [float("nan")]])
)
@example(  # an integer beyond int64 cannot be cast for the model
    (ModelSignature((ColumnSpec("c0", "int64", "integer", False),)), ["c0"], [[2**63]])
)
@example(  # a whole float in an integer column is a whole number
    (ModelSignature((ColumnSpec("c0", "int64", "integer", False),)), ["c0"], [[2.0]])
)
@example(  # an integer beyond the float range
    (ModelSignature((ColumnSpec("c0", "float64", "float", False),)), ["c0"], [[10**400]])
)
@example(  # a missing column, with a misspelling of it present
    (ModelSignature((ColumnSpec("c0", "float64", "float", False),)), ["c0x"], [[1.0]])
)
@example(  # an extra column is ignored by both
    (ModelSignature((ColumnSpec("c0", "float64", "float", True),)), ["c0", "extra"], [[None, "x"]])
)
@example(  # an array model whose columns have no common numpy dtype
    (
        ModelSignature(
            (
                ColumnSpec("c0", "category", "category", False),
                ColumnSpec("c1", "datetime64[ns]", "datetime", False),
                ColumnSpec("c2", "bool", "boolean", False),
            ),
            input_type="ndarray",
        ),
        None,
        [["a", "2024-01-31", True]],
    )
)
def test_fast_path_agrees_with_validate(case: Case) -> None:
    _assert_agree(case)


# 1,000 cases (~13 s) in every run; 5,000 in the stress mode (WORKBENCH_STRESS=1, README).
AT_LENGTH = 5000 if os.environ.get("WORKBENCH_STRESS") else 1000


@pytest.mark.slow
@settings(max_examples=AT_LENGTH, deadline=None, suppress_health_check=SUPPRESSED)
@given(cases())
def test_fast_path_agrees_with_validate_at_length(case: Case) -> None:
    _assert_agree(case)


@pytest.mark.parametrize(
    ("kind", "dtype", "value"),
    [
        ("float", "float64", "1.5"),  # a numeric string: validate coerces it, JSON does not
        ("boolean", "bool", 1),
        ("string", "str", 3),
        ("datetime", "datetime64[ns]", 0),
        ("float", "float64", math.inf),
    ],
)
def test_the_fast_path_is_stricter_only_about_json_kinds(kind: str, dtype: str, value: Any) -> None:
    signature = ModelSignature((ColumnSpec("c0", dtype, kind, False),))
    assert _validate_accepts(signature, ["c0"], [[value]])
    assert not _fast_accepts(signature, ["c0"], [[value]])
