"""Feature value types: one name each, and what it is in DuckDB, Arrow and pandas.

A feature declares one of :data:`DTYPES` (``"int64"``, ``"float64"``, ``"string"``, ...). A
source column may hold a narrower type of the same kind (``INTEGER`` for ``int64``, an integer
for ``float64``); values are cast to the declared type when read. Whether a source type fits is
:func:`fits`; a column that does not is a ``type`` violation of the view's expectations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench._validation import fail

__all__ = ["DTYPES", "DType", "dtype_name", "fits", "kind_of_sql"]


@dataclass(frozen=True)
class DType:
    """A feature type: its DuckDB type, the pandas dtype features come out as, its kind."""

    name: str
    sql: str
    pandas: str
    kind: str  # integer, float, string, bool, timestamp


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("int64", "BIGINT", "Int64", "integer"),
        DType("int32", "INTEGER", "Int32", "integer"),
        DType("float64", "DOUBLE", "float64", "float"),
        DType("float32", "FLOAT", "float32", "float"),
        DType("string", "VARCHAR", "str", "string"),
        DType("bool", "BOOLEAN", "boolean", "bool"),
        DType("timestamp", "TIMESTAMP", "datetime64[us, UTC]", "timestamp"),
    )
}

# Other spellings people use for the same types (Python types, numpy/pandas/SQL names).
_ALIASES = {
    "int": "int64",
    "integer": "int64",
    "bigint": "int64",
    "long": "int64",
    "int64": "int64",
    "int32": "int32",
    "float": "float64",
    "double": "float64",
    "float64": "float64",
    "float32": "float32",
    "real": "float32",
    "str": "string",
    "string": "string",
    "varchar": "string",
    "text": "string",
    "object": "string",
    "bool": "bool",
    "boolean": "bool",
    "timestamp": "timestamp",
    "datetime": "timestamp",
    "datetime64": "timestamp",
}


def dtype_name(value: Any, caller: str, *, name: str = "dtype") -> str:
    """The type name for ``value``: a name of :data:`DTYPES`, a Python type (``int``), a numpy or
    pandas dtype (``"Int64"``, ``np.float32``) or a SQL name (``"DOUBLE"``)."""
    if isinstance(value, type):  # int, str, numpy.float32, ...
        text = value.__name__
    elif isinstance(value, str):
        text = value
    else:
        text = str(getattr(value, "name", value))
    key = text.strip().lower()
    if key.startswith("datetime64"):
        key = "datetime64"
    found = _ALIASES.get(key)
    if found is None:
        raise fail(
            name,
            caller,
            f"one of {sorted(DTYPES)}",
            value,
            "Declare the type the model sees, e.g. Feature('trips', 'int64').",
        )
    return found


def kind_of_sql(sql_type: str) -> str:
    """The kind of a DuckDB column type: integer, float, string, bool, timestamp, date, other."""
    upper = sql_type.upper()
    if upper.startswith("TIMESTAMP") or upper == "DATETIME":
        return "timestamp"
    if upper == "DATE":
        return "date"
    if upper in ("VARCHAR", "TEXT", "STRING") or upper.startswith("VARCHAR"):
        return "string"
    if upper in ("BOOLEAN", "BOOL"):
        return "bool"
    if upper.startswith("DECIMAL") or upper in ("DOUBLE", "FLOAT", "REAL"):
        return "float"
    if upper.lstrip("U") in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        return "integer"
    return "other"


def fits(declared: str, sql_type: str) -> bool:
    """Whether a source column of ``sql_type`` can be read as a feature of type ``declared``."""
    kind = kind_of_sql(sql_type)
    want = DTYPES[declared].kind
    if want == "float":
        return kind in ("float", "integer")
    if want == "timestamp":
        return kind in ("timestamp", "date")
    return kind == want
