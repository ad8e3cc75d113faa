"""Check request rows against a model's signature and build exactly what the model was trained on.

The checks are :meth:`ModelSignature.validate`'s (missing columns with a suggestion for a likely
misspelling, values of the wrong kind with their row positions, missing values in columns that had
none in training), plus non-finite numbers, which no estimator accepts. They run on the parsed JSON
values directly: for a one-row request that costs microseconds, where building a DataFrame and
validating it column by column with pandas costs milliseconds. CSV bodies, already a DataFrame,
go through :meth:`ModelSignature.conform`.

JSON is strict about kinds: numeric columns take JSON numbers, boolean columns ``true``/``false``,
string columns strings, datetime columns ISO 8601 strings; ``null`` is a missing value, accepted
only in columns that had missing values in training. Columns the model does not take are ignored.
Beyond these kind rules, the fast path accepts exactly what ``validate`` accepts (a hypothesis
test, tests/serving/test_convert_agrees.py, holds the two to that).
"""

from __future__ import annotations

import difflib
import math
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from workbench.exceptions import SignatureMismatchError
from workbench.registry import ColumnSpec, ModelSignature
from workbench.serving._payloads import Table, preview

__all__ = ["InputConverter"]

_SHOWN = 3
_LISTED_MISSING = 5
_INT64 = (-(2**63), 2**63 - 1)
_NUMBER_TYPES = frozenset({int, float})
_SCALAR_TYPES = frozenset({int, float, str, bool, type(None)})
_NONE = type(None)


class InputConverter:
    """Turns request tables into model input for one signature (or none: no checks)."""

    def __init__(self, signature: ModelSignature | None) -> None:
        self.signature = signature
        self.specs: tuple[ColumnSpec, ...] = signature.inputs if signature else ()
        self.names = [s.name for s in self.specs]
        self.index = pd.Index(self.names)  # built once: ~30 µs a request saved
        self.ndarray = signature is not None and signature.input_type == "ndarray"
        self.all_float64 = bool(self.specs) and all(
            s.kind == "float" and s.dtype == "float64" for s in self.specs
        )
        self.dtypes = [_dtype(s.dtype) for s in self.specs]
        # Columns whose values are passed on unchecked (kind "object": no known type).
        self.unchecked = [s.name for s in self.specs if s.kind == "object"]
        self.checks_all = signature is not None and not self.unchecked

    # -- entry point --------------------------------------------------------------------------
    def convert(self, table: Table) -> tuple[Any, Table]:
        """The model input for ``table``, and the table with column names resolved (for logs).

        Raises
        ------
        SignatureMismatchError
            Listing every problem found, in ``.problems``.
        """
        if self.signature is None:
            return self._unchecked(table), table
        if table.frame is not None:
            try:
                return self._frame(table.frame), table
            except SignatureMismatchError:
                raise
            except Exception as exc:  # pandas on arbitrary CSV text: the input's fault
                _raise(
                    [f"the CSV rows could not be read as the model's columns: {exc}"], self.names
                )
        if table.names is None:
            width = len(table.rows[0]) if table.rows else 0
            if width != len(self.specs):
                _raise(
                    [
                        f"the rows have {width} values each, but the model takes "
                        f"{len(self.specs)} columns: {self.names}"
                    ],
                    self.names,
                )
            table = Table(list(self.names), table.rows, table.fmt)
        assert table.names is not None
        rows = self._select(table.names, table.rows)
        if self.all_float64:
            array = _float_matrix(rows, self.specs)
            if self.ndarray:
                return array, table
            return pd.DataFrame(array, columns=self.index, copy=False), table
        columns, problems = [], []
        transposed = list(zip(*rows, strict=True)) if rows else [() for _ in self.specs]
        for spec, dtype, values in zip(self.specs, self.dtypes, transposed, strict=True):
            column, found = _column(list(values), spec, dtype)
            columns.append(column)
            problems += found
        if problems:
            _raise(problems, self.names)
        if self.ndarray:
            return _stack(columns, self.dtypes[0]), table
        frame = pd.DataFrame(dict(zip(self.names, columns, strict=True)), copy=False)
        return frame, table

    # -- steps --------------------------------------------------------------------------------
    def _select(self, names: list[str], rows: list[list[Any]]) -> list[list[Any]]:
        """Rows reduced to the signature's columns, in its order (problems if some are missing)."""
        if names == self.names:
            return rows
        index = {name: i for i, name in enumerate(names)}
        missing = [s for s in self.specs if s.name not in index]
        if missing:
            known = set(self.names)
            extra = [n for n in names if n not in known]
            problems = []
            for spec in missing[:_LISTED_MISSING]:
                close = difflib.get_close_matches(spec.name, extra, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"missing column {spec.name!r} ({spec.kind}, {spec.dtype}){hint}")
            if len(missing) > _LISTED_MISSING:
                rest = [s.name for s in missing[_LISTED_MISSING:]]
                problems.append(f"{len(rest)} more missing columns: {_clip(repr(rest))}")
            if extra:
                problems.append(f"unexpected columns {_clip(repr(extra))}")
            _raise(problems, self.names)
        positions = [index[name] for name in self.names]
        return [[row[p] for p in positions] for row in rows]

    def _frame(self, frame: pd.DataFrame) -> Any:
        assert self.signature is not None
        problems = self.signature.validate(frame)
        present = set(frame.columns)
        for spec in self.specs:
            if spec.kind in ("float", "integer") and spec.name in present:
                numbers = pd.to_numeric(frame[spec.name], errors="coerce")
                infinite = np.isinf(numbers.to_numpy(dtype=float, na_value=np.nan))
                if infinite.any():
                    problems.append(_not_finite(spec, list(np.flatnonzero(infinite))))
        if problems:
            _raise(problems, self.names)
        return self.signature.conform(frame)

    def _unchecked(self, table: Table) -> Any:
        if table.frame is not None:
            return table.frame
        if table.names is None:
            try:
                return np.asarray(table.rows)
            except ValueError as exc:
                raise SignatureMismatchError(
                    f"The rows do not form an array ({exc}); the model has no signature to say "
                    "what it takes.",
                    problems=[str(exc)],
                ) from None
        return pd.DataFrame(table.rows, columns=table.names)


def _dtype(text: str) -> Any:
    try:
        return pd.api.types.pandas_dtype(text)
    except TypeError:
        return None


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 4] + "...]"


def _raise(problems: list[str], expected: list[str]) -> NoReturn:
    listed = "\n".join(f"  - {p}" for p in problems)
    raise SignatureMismatchError(
        f"The input does not match the model's signature ({len(problems)} "
        f"problem{'s' if len(problems) > 1 else ''}):\n{listed}\nExpected columns: {expected}.",
        problems=problems,
    )


def _float_matrix(rows: list[list[Any]], specs: tuple[ColumnSpec, ...]) -> np.ndarray:
    """All-float64 signatures (the common case): one array, checked with numpy."""
    kinds = {type(v) for row in rows for v in row}
    if kinds <= _NUMBER_TYPES or kinds <= _NUMBER_TYPES | {_NONE}:
        try:
            array = np.array(rows, dtype=np.float64)
        except (OverflowError, ValueError, TypeError):
            array = None
        if array is not None and array.ndim == 2:
            finite = np.isfinite(array)
            if finite.all():
                return array
            problems = []
            for j, spec in enumerate(specs):
                column = array[:, j]
                nan = np.isnan(column)
                if nan.any() and not spec.nullable:
                    problems.append(_missing(spec, list(np.flatnonzero(nan))))
                infinite = np.isinf(column)
                if infinite.any():
                    problems.append(_not_finite(spec, list(np.flatnonzero(infinite))))
            if not problems:
                return array
            _raise(problems, [s.name for s in specs])
    # Something other than numbers: find every problem column by column.
    columns, problems = [], []
    for j, spec in enumerate(specs):
        column, found = _column([row[j] for row in rows], spec, np.dtype(np.float64))
        columns.append(column)
        problems += found
    if problems:
        _raise(problems, [s.name for s in specs])
    return np.column_stack(columns).astype(np.float64, copy=False)


def _stack(columns: list[Any], dtype: Any) -> np.ndarray:
    """The columns as one 2-D array of the first column's dtype where they convert to it (as
    ``ModelSignature.conform`` does for models trained on arrays), else as they are."""
    try:
        with np.errstate(invalid="ignore", over="ignore"):  # as pandas' to_numpy(dtype) casts
            return np.column_stack(columns).astype(dtype or object, copy=False)
    except (TypeError, ValueError, OverflowError):  # e.g. datetimes beside booleans
        return np.column_stack([np.asarray(c, dtype=object) for c in columns])


def _column(values: list[Any], spec: ColumnSpec, dtype: Any) -> tuple[Any, list[str]]:
    """One column as an array of the training dtype, or the problems that prevent it."""
    kind = spec.kind
    nulls = [i for i, v in enumerate(values) if v is None or (type(v) is float and v != v)]
    problems = []
    if nulls and not spec.nullable:
        problems.append(_missing(spec, nulls))
    if kind in ("float", "integer"):
        return _numbers(values, spec, dtype, nulls, problems)
    if kind == "boolean":
        bad = [i for i, v in enumerate(values) if not isinstance(v, bool) and v is not None]
        if bad:
            problems.append(_bad(values, bad, spec, "booleans (true/false)"))
        if problems:
            return None, problems
        return _series(values, dtype, nulls), problems
    if kind == "string":
        bad = [i for i, v in enumerate(values) if not isinstance(v, str) and v is not None]
        if bad:
            problems.append(_bad(values, bad, spec, "strings"))
        if problems:
            return None, problems
        return _series(values, dtype, nulls), problems
    if kind == "datetime":
        bad = [i for i, v in enumerate(values) if not isinstance(v, str) and v is not None]
        if not bad:
            parsed = pd.to_datetime(
                pd.Series(values, dtype=object), errors="coerce", format="mixed"
            )
            null_rows = set(nulls)
            unread = np.flatnonzero(parsed.isna().to_numpy())
            bad = [int(i) for i in unread if int(i) not in null_rows]
        if bad:
            problems.append(_bad(values, bad, spec, "dates/times (ISO 8601 strings)"))
        if problems:
            return None, problems
        try:
            return parsed.astype(dtype) if dtype is not None else parsed, problems
        except (TypeError, ValueError):
            return parsed, problems
    if kind == "category":
        bad = [i for i, v in enumerate(values) if type(v) not in _SCALAR_TYPES]
        if bad:
            problems.append(_bad(values, bad, spec, "category values (strings or numbers)"))
        if problems:
            return None, problems
        return pd.Series(values, dtype=object).astype("category"), problems
    if problems:
        return None, problems
    return pd.Series(values, dtype=object), problems


def _numbers(
    values: list[Any], spec: ColumnSpec, dtype: Any, nulls: list[int], problems: list[str]
) -> tuple[Any, list[str]]:
    bad = [
        i
        for i, v in enumerate(values)
        if type(v) not in _NUMBER_TYPES and v is not None and not isinstance(v, np.number)
    ]
    if bad:
        problems.append(_bad(values, bad, spec, "numbers"))
        return None, problems
    if spec.kind == "integer":
        fractional = [
            i
            for i, v in enumerate(values)
            if type(v) is float and math.isfinite(v) and not v.is_integer()
        ]
        if fractional:
            problems.append(_bad(values, fractional, spec, "whole numbers"))
        huge = [
            i
            for i, v in enumerate(values)
            if v is not None
            and (type(v) is int or (type(v) is float and math.isfinite(v)))
            and not _INT64[0] <= v <= _INT64[1]
        ]
        if huge:
            problems.append(_bad(values, huge, spec, "64-bit integers"))
    try:
        array = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    except OverflowError:
        too_big = [i for i, v in enumerate(values) if type(v) is int and abs(v) > 1e308]
        problems.append(_bad(values, too_big, spec, "finite numbers"))
        return None, problems
    infinite = list(np.flatnonzero(np.isinf(array)))
    if infinite:
        problems.append(_not_finite(spec, infinite, values))
    if problems:
        return None, problems
    if spec.kind == "integer":
        if nulls:
            # Missing: None or NaN, as ``nulls`` counts them (int(NaN) would raise).
            missing = [v is None or v != v for v in values]
            ints = [None if gap else int(v) for v, gap in zip(values, missing, strict=True)]
            return pd.array(ints, dtype="Int64"), []
        return np.array([int(v) for v in values], dtype=np.int64).astype(
            dtype if dtype is not None else np.int64, copy=False
        ), []
    if dtype is not None and dtype != np.float64:
        try:
            with np.errstate(over="ignore"):  # 1e300 as float32 is inf, as pandas casts it
                return array.astype(dtype), []
        except (TypeError, ValueError):
            return array, []
    return array, []


def _series(values: list[Any], dtype: Any, nulls: list[int]) -> Any:
    series = pd.Series(values, dtype=object)
    if dtype is None:
        return series
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def _describe(values: list[Any], rows: list[int]) -> str:
    """``['abc', [[[...]]]] at rows [0, 4]``: the first bad values, each cut short (a client's
    value may be nested a thousand levels deep; ``repr`` of it would recurse that far)."""
    shown = ", ".join(preview(values[i]) for i in rows[:_SHOWN]) if values else ""
    more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    return f"[{shown}] at rows {[int(i) for i in rows[:_SHOWN]]}{more}"


def _bad(values: list[Any], rows: list[int], spec: ColumnSpec, what: str) -> str:
    count = len(rows)
    return (
        f"column {spec.name!r} ({spec.dtype}): {count} value{'s' if count > 1 else ''} "
        f"cannot be read as {what}: {_describe(values, rows)}"
    )


def _missing(spec: ColumnSpec, rows: list[int]) -> str:
    shown = [int(i) for i in rows[:_SHOWN]]
    more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    return (
        f"column {spec.name!r} ({spec.dtype}): {len(rows)} missing value(s) at rows "
        f"{shown}{more}, but the model was trained without missing values in this column"
    )


def _not_finite(spec: ColumnSpec, rows: list[Any], values: list[Any] | None = None) -> str:
    shown = [int(i) for i in rows[:_SHOWN]]
    more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    return (
        f"column {spec.name!r} ({spec.dtype}): {len(rows)} value(s) are not finite numbers "
        f"(infinity) at rows {shown}{more}"
    )
