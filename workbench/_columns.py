"""What kind of values a column holds: one answer for the package (pandas only, bottom layer).

Two questions, two functions:

* :func:`dtype_kind`: from the dtype alone (what a model was trained with, what a profile
  summarises): ``boolean``, ``integer``, ``float``, ``datetime``, ``category``, ``string`` (a
  pandas string dtype) or ``object`` (object columns and anything else).
* :func:`column_kind`: from the values when the dtype does not say (object columns): the kinds
  above without ``object``, plus ``empty`` (no value that is not missing) and ``mixed``. Object
  columns of numbers are ``integer`` or ``float``; timedeltas, dates and periods count as
  ``datetime``; complex numbers are ``mixed``.

The signature (:func:`workbench.signature.kind_of`), drift's column families
(``monitoring._columns``), run comparison's numeric axes (``compare._data``) and dataset profiles
(``tracking._datasets``) are all built on these two.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["column_kind", "dtype_kind"]

_FLOAT_FAMILIES = {"floating", "mixed-integer-float", "decimal"}
_DATETIME_FAMILIES = {
    "datetime64",
    "datetime",
    "date",
    "timedelta64",
    "timedelta",
    "time",
    "period",
}


def dtype_kind(dtype: Any) -> str:
    """The kind a dtype declares (see the module docstring)."""
    api = pd.api.types
    if api.is_bool_dtype(dtype):
        return "boolean"
    if api.is_integer_dtype(dtype):
        return "integer"
    if api.is_float_dtype(dtype):
        return "float"
    if api.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if api.is_string_dtype(dtype) and not api.is_object_dtype(dtype):
        return "string"
    return "object"


def column_kind(series: pd.Series) -> str:
    """The kind of the values of ``series`` (see the module docstring)."""
    api = pd.api.types
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category" if series.count() else "empty"
    if api.is_bool_dtype(dtype):
        return "boolean"
    if api.is_numeric_dtype(dtype) and not api.is_complex_dtype(dtype):
        if not series.count():
            return "empty"
        return "integer" if api.is_integer_dtype(dtype) else "float"
    inferred = api.infer_dtype(series, skipna=True)
    if inferred in ("empty", "integer", "string", "boolean"):
        return inferred
    if inferred in _FLOAT_FAMILIES:
        return "float"
    if inferred in _DATETIME_FAMILIES:
        return "datetime"
    return "mixed"
