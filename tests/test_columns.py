"""workbench._columns: the one column-kind inference the signature, drift, compare and dataset
profiles build on."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pandas as pd
import pytest

from workbench._columns import column_kind, dtype_kind


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        (pd.Series([1, 2]), "integer"),
        (pd.Series([1, None], dtype="Int64"), "integer"),
        (pd.Series([1, 2], dtype=object), "integer"),
        (pd.Series([1.5, None]), "float"),
        (pd.Series([1, 2.5], dtype=object), "float"),
        (pd.Series([decimal.Decimal("1.5")]), "float"),
        (pd.Series([np.nan]), "empty"),
        (pd.Series([None, None], dtype=object), "empty"),
        (pd.Series([True, False]), "boolean"),
        (pd.Series([True, None], dtype=object), "boolean"),
        (pd.Series(["a", None]), "string"),
        (pd.Series(["a"], dtype="string"), "string"),
        (pd.Series(pd.Categorical(["a", "b"])), "category"),
        (pd.Series(pd.Categorical([None], categories=["a"])), "empty"),
        (pd.Series(pd.to_datetime(["2024-01-31"])), "datetime"),
        (pd.Series(pd.to_timedelta([1], unit="s")), "datetime"),
        (pd.Series([datetime.date(2024, 1, 31)]), "datetime"),
        (pd.Series([1, "a"]), "mixed"),
        (pd.Series([1 + 2j]), "mixed"),
    ],
)
def test_column_kind(series: pd.Series, kind: str) -> None:
    assert column_kind(series) == kind


@pytest.mark.parametrize(
    ("dtype", "kind"),
    [
        ("int64", "integer"),
        ("Int64", "integer"),
        ("uint8", "integer"),
        ("float32", "float"),
        ("bool", "boolean"),
        ("boolean", "boolean"),
        ("datetime64[ns]", "datetime"),
        ("category", "category"),
        ("string", "string"),
        ("str", "string"),
        ("object", "object"),
        ("timedelta64[ns]", "object"),
        ("complex128", "object"),
    ],
)
def test_dtype_kind(dtype: str, kind: str) -> None:
    assert dtype_kind(pd.api.types.pandas_dtype(dtype)) == kind
