"""Model signatures: what a model takes (columns, dtypes, nullability) and what it returns.

A signature is inferred at registration from the training data (or an input example) and from the
model's output on a small sample of it; without an example, from what the fitted estimator
declares (:func:`signature_from_estimator`). The serving layer calls :meth:`ModelSignature.validate`
(every problem, as a list of sentences) or :meth:`ModelSignature.conform` (the data cast to the
training dtypes, in training column order, or :class:`~workbench.SignatureMismatchError`).

This module sits at the bottom of the package (it needs numpy, pandas and
:mod:`workbench.exceptions` only), so stores can read and write signatures;
:mod:`workbench.registry` re-exports :class:`ModelSignature`, :class:`ColumnSpec` and
:func:`infer_signature`.

Column kinds, from the dtype: ``integer``, ``float``, ``boolean``, ``string``, ``datetime``,
``category``, ``object`` (anything else; not type-checked).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench._columns import column_kind, dtype_kind
from workbench.exceptions import InvalidParameterError, SignatureMismatchError

__all__ = [
    "ColumnSpec",
    "ModelSignature",
    "check_signature",
    "example_data",
    "infer_signature",
    "make_input_example",
    "signature_from_estimator",
]

SAMPLE_ROWS = 100
EXAMPLE_ROWS = 5
MAX_OUTPUT_COLUMNS = 50
_SHOWN_BAD_VALUES = 3
_FLOAT_MAX = float(np.finfo(np.float64).max)
_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False}


@dataclass(frozen=True)
class ColumnSpec:
    """One input or output column: name, dtype as pandas writes it, kind, nullability."""

    name: str
    dtype: str
    kind: str
    nullable: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "nullable": self.nullable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        return cls(str(data["name"]), str(data["dtype"]), str(data["kind"]), bool(data["nullable"]))


def kind_of(dtype: Any, values: pd.Series | None = None) -> str:
    """The kind of a dtype (``integer``, ``float``, ...), as validation checks it.

    The dtype's kind (:func:`workbench._columns.dtype_kind`); a string or object column is
    ``string`` when its values are all strings (an object column: or all missing), else
    ``object``. Without values, any string-like dtype (object included) is ``string``.
    """
    kind = dtype_kind(dtype)
    if kind not in ("string", "object"):
        return kind
    if values is None:
        return "string" if pd.api.types.is_string_dtype(dtype) else "object"
    found = column_kind(values)
    return "string" if found == "string" or (found, kind) == ("empty", "object") else "object"


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes and returns.

    Parameters
    ----------
    inputs
        Input columns in training order (for arrays: ``"0"``, ``"1"``, ...).
    outputs
        Output columns (``prediction`` for a 1-D output); empty when unknown.
    input_type
        ``"dataframe"`` or ``"ndarray"``: what the model was trained on.
    output_shape
        Shape of one row's output without the row axis (``()`` for one value per row);
        ``None`` when unknown.
    method
        The model method the outputs were observed from (``predict``, ``transform``).
    """

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()
    input_type: str = "dataframe"
    output_shape: tuple[int, ...] | None = None
    method: str | None = None

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
            "input_type": self.input_type,
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSignature:
        shape = data.get("output_shape")
        return cls(
            inputs=tuple(ColumnSpec.from_dict(c) for c in data.get("inputs", ())),
            outputs=tuple(ColumnSpec.from_dict(c) for c in data.get("outputs", ())),
            input_type=str(data.get("input_type", "dataframe")),
            output_shape=None if shape is None else tuple(int(n) for n in shape),
            method=data.get("method"),
        )

    # -- checking data ----------------------------------------------------------------------
    def validate(self, data: Any, *, allow_extra: bool = True) -> list[str]:
        """Every way ``data`` does not fit the inputs, as sentences; empty when it fits.

        Reports missing columns (with a close match among unexpected ones), values that cannot
        be cast to the column's kind (with row positions), and missing values in columns that
        had none in training. Unexpected columns are reported when ``allow_extra`` is False,
        or as likely misspellings of missing ones.
        """
        frame, problems = self._as_frame(data)
        if frame is None:
            return problems
        expected = self.input_names
        present = [str(c) for c in frame.columns]
        missing = [c for c in self.inputs if c.name not in present]
        extra = [c for c in present if c not in expected]
        for spec in missing:
            close = difflib.get_close_matches(spec.name, extra, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"missing column {spec.name!r} ({spec.kind}, {spec.dtype}){hint}")
        if extra and (not allow_extra or missing):
            problems.append(f"unexpected columns {extra}; the model takes {expected}")
        frame.columns = present
        for spec in self.inputs:
            if spec.name in present:
                problems += _check_column(frame[spec.name], spec)
        return problems

    def conform(self, data: Any) -> Any:
        """``data`` as the model was trained on it: training column order and dtypes.

        Returns a DataFrame (or a 2-D array for models trained on arrays).

        Raises
        ------
        SignatureMismatchError
            With every problem :meth:`validate` finds, in ``.problems``.
        """
        problems = self.validate(data)
        if problems:
            listed = "\n".join(f"  - {p}" for p in problems)
            raise SignatureMismatchError(
                f"The input does not match the model's signature ({len(problems)} "
                f"problem{'s' if len(problems) > 1 else ''}):\n{listed}\n"
                f"Expected columns: {self.input_names}.",
                problems=problems,
            )
        frame, _ = self._as_frame(data)
        assert frame is not None
        frame.columns = [str(c) for c in frame.columns]
        return self._cast(frame[self.input_names])

    def _as_frame(self, data: Any) -> tuple[pd.DataFrame | None, list[str]]:
        if isinstance(data, pd.DataFrame):
            return data.copy(), []
        if isinstance(data, pd.Series):
            return data.to_frame(), []
        if isinstance(data, (list, tuple)) and data and all(isinstance(r, Mapping) for r in data):
            return pd.DataFrame(list(data)), []
        if isinstance(data, Mapping):
            try:
                return pd.DataFrame(dict(data)), []
            except ValueError as exc:
                return None, [f"the input columns cannot form a table: {exc}"]
        array = np.asarray(data) if isinstance(data, (list, tuple, np.ndarray)) else None
        if array is None:
            return None, [
                f"the input must be a DataFrame, a 2-D array or a list of records; "
                f"got {type(data).__name__}"
            ]
        if array.ndim == 1 and len(self.inputs) == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2 or array.shape[1] != len(self.inputs):
            return None, [
                f"the input array has shape {array.shape}; the model takes rows of "
                f"{len(self.inputs)} values ({self.input_names})"
            ]
        return pd.DataFrame(array, columns=self.input_names), []

    def _cast(self, frame: pd.DataFrame) -> Any:
        out = {}
        for spec in self.inputs:
            out[spec.name] = _cast_column(frame[spec.name], spec)
        cast = pd.DataFrame(out, index=frame.index)
        if self.input_type == "ndarray":
            dtype = self.inputs[0].dtype if self.inputs else None
            try:
                return cast.to_numpy(dtype=dtype)
            except (TypeError, ValueError):
                return cast.to_numpy()
        return cast


def _rows(mask: pd.Series) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask.to_numpy())[:_SHOWN_BAD_VALUES]]


def _describe_bad(series: pd.Series, mask: pd.Series, spec: ColumnSpec, what: str) -> str:
    positions = _rows(mask)
    values = [_plain(series.iloc[i]) for i in positions]
    count = int(mask.sum())
    more = f" and {count - len(positions)} more" if count > len(positions) else ""
    return (
        f"column {spec.name!r} ({spec.dtype}): {count} value{'s' if count > 1 else ''} "
        f"cannot be read as {what}: {values!r} at rows {positions}{more}"
    )


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so messages read ``2.5``, not ``np.float64(2.5)``."""
    return value.item() if isinstance(value, np.generic) else value


def _check_column(series: pd.Series, spec: ColumnSpec) -> list[str]:
    problems = []
    nulls = series.isna()
    if nulls.any() and not spec.nullable:
        positions = _rows(nulls)
        problems.append(
            f"column {spec.name!r} ({spec.dtype}): {int(nulls.sum())} missing value(s) at rows "
            f"{positions}, but the model was trained without missing values in this column"
        )
    present = series[~nulls]
    if present.empty:
        return problems
    bad: pd.Series | None = None
    what = ""
    if spec.kind in ("integer", "float"):
        numbers = _to_number(present)
        bad = numbers.isna()
        what = "numbers"
        if spec.kind == "integer" and not bad.all():
            fractional = (~bad) & (numbers.fillna(0) % 1 != 0)
            if fractional.any():
                problems.append(_describe_bad(present, fractional, spec, "whole numbers"))
            huge = (~bad) & (~fractional) & _outside_int64(numbers)
            if huge.any():
                problems.append(_describe_bad(present, huge, spec, "64-bit integers"))
    elif spec.kind == "boolean":
        bad = _to_bool(present).isna()
        what = "booleans (True/False, 1/0, 'true'/'false')"
    elif spec.kind == "datetime":
        bad = _to_datetime(present).isna()
        what = "dates/times"
    if bad is not None and bad.any():
        problems.append(_describe_bad(present, bad, spec, what))
    return problems


def _to_number(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    try:
        return pd.to_numeric(series, errors="coerce")
    except OverflowError:  # a Python int beyond the float range: not a number a model reads
        finite = series.map(lambda v: None if isinstance(v, int) and abs(v) > _FLOAT_MAX else v)
        return pd.to_numeric(finite, errors="coerce")


def _to_datetime(series: pd.Series) -> pd.Series:
    # numpy warns when a number is too large for a datetime64; it is reported as unreadable.
    with np.errstate(invalid="ignore", over="ignore"):
        return pd.to_datetime(series, errors="coerce", format="mixed")


def _outside_int64(numbers: pd.Series) -> pd.Series:
    """Which numbers an int64 column cannot hold (compared exactly for each numeric dtype)."""
    if pd.api.types.is_unsigned_integer_dtype(numbers.dtype):
        return numbers > np.iinfo(np.int64).max
    if pd.api.types.is_float_dtype(numbers.dtype):
        return (numbers >= 2.0**63) | (numbers < -(2.0**63))
    return pd.Series(False, index=numbers.index)


def _to_bool(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(object)

    def convert(value: Any) -> Any:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            return _BOOL_WORDS.get(value.strip().lower())
        return None

    return series.map(convert).astype(object)


def _cast_column(series: pd.Series, spec: ColumnSpec) -> pd.Series:
    """The column converted to the training dtype where possible (unchanged otherwise)."""
    try:
        if spec.kind in ("integer", "float"):
            series = _to_number(series)
        elif spec.kind == "boolean":
            series = _to_bool(series)
        elif spec.kind == "datetime":
            series = _to_datetime(series)
        return series.astype(pd.api.types.pandas_dtype(spec.dtype))
    except (TypeError, ValueError):
        return series


# -- inference ------------------------------------------------------------------------------


def _input_frame(data: Any) -> tuple[pd.DataFrame, str]:
    """``data`` as a DataFrame with string column names, and its input type."""
    if isinstance(data, pd.DataFrame):
        frame = data.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
        return frame, "dataframe"
    if isinstance(data, pd.Series):
        return data.to_frame(name=str(data.name if data.name is not None else "0")), "dataframe"
    if isinstance(data, (np.ndarray, list, tuple)):
        array = np.asarray(data)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:
            raise InvalidParameterError(
                f"The 'input_example' must be a DataFrame or a 2-D array. Got an array of shape "
                f"{array.shape} instead. Reshape it to (rows, features)."
            )
        return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])]), "ndarray"
    raise InvalidParameterError(
        "The 'input_example' must be a pandas DataFrame, a Series or a 2-D numpy array. Got "
        f"{type(data).__name__} instead. Pass the training features (X), or a sample of them."
    )


def _column_specs(frame: pd.DataFrame) -> tuple[ColumnSpec, ...]:
    return tuple(
        ColumnSpec(
            name=str(name),
            dtype=str(frame[name].dtype),
            kind=kind_of(frame[name].dtype, frame[name]),
            nullable=bool(frame[name].isna().any()),
        )
        for name in frame.columns
    )


def infer_signature(
    data: Any, model: Any = None, *, sample_rows: int = SAMPLE_ROWS
) -> ModelSignature:
    """The signature of ``model`` from its training data (all rows) and its output on a sample.

    Parameters
    ----------
    data
        The training features (DataFrame, Series or 2-D array), or a representative sample:
        nullability is read from every row given.
    model
        The fitted model; its ``predict`` (or ``transform``) is called on the first
        ``sample_rows`` rows to learn the output. ``None``: inputs only.
    """
    frame, input_type = _input_frame(data)
    inputs = _column_specs(frame)
    if model is None:
        return ModelSignature(inputs, input_type=input_type)
    method = next((m for m in ("predict", "transform") if callable(getattr(model, m, None))), None)
    if method is None:
        return ModelSignature(inputs, input_type=input_type)
    sample = data[:sample_rows] if not isinstance(data, pd.DataFrame) else data.iloc[:sample_rows]
    try:
        output = getattr(model, method)(sample)
    except Exception as exc:
        raise InvalidParameterError(
            f"Could not infer the model's output signature: {type(model).__name__}.{method}() "
            f"failed on the first {len(frame.iloc[:sample_rows])} rows of the input example with "
            f"{type(exc).__name__}: {exc}. Pass an input_example the fitted model accepts (its "
            "training features), or a signature= you built with infer_signature()."
        ) from exc
    outputs, shape = _output_specs(output)
    return ModelSignature(inputs, outputs, input_type, shape, method)


def _output_specs(output: Any) -> tuple[tuple[ColumnSpec, ...], tuple[int, ...]]:
    if isinstance(output, pd.DataFrame):
        frame = output.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
        return _column_specs(frame), (frame.shape[1],)
    if isinstance(output, pd.Series):
        name = str(output.name) if output.name is not None else "prediction"
        return _column_specs(output.to_frame(name=name)), ()
    if hasattr(output, "toarray"):  # scipy sparse
        output = output.toarray()
    array = np.asarray(output)
    if array.ndim <= 1:
        return _column_specs(pd.DataFrame({"prediction": array.reshape(-1)})), ()
    if array.ndim == 2 and array.shape[1] <= MAX_OUTPUT_COLUMNS:
        columns = [f"prediction_{i}" for i in range(array.shape[1])]
        return _column_specs(pd.DataFrame(array, columns=columns)), (array.shape[1],)
    nullable = bool(pd.isna(array).any()) if array.dtype.kind in "fOmM" else False
    spec = ColumnSpec("prediction", str(array.dtype), kind_of(array.dtype), nullable)
    return (spec,), tuple(int(n) for n in array.shape[1:])


# -- from a fitted estimator --------------------------------------------------------------

# scikit-learn estimators whose tags say "numbers only" but that take any values.
_TAKES_ANY_VALUES = frozenset(
    {"DummyClassifier", "DummyRegressor", "FunctionTransformer", "SimpleImputer"}
)


def signature_from_estimator(
    model: Any, training: ModelSignature | None = None
) -> ModelSignature | None:
    """The signature a fitted scikit-learn-style estimator declares about itself.

    Used at registration when no input example is given, so that a server can check requests
    before the model sees them.

    * Inputs: the column names it was fitted with (``feature_names_in_``), or, for a model
      fitted on an array, ``n_features_in_`` positional columns (``input_type="ndarray"``).
    * Their dtypes: those of ``training`` (the schema of the run's logged training dataset)
      where it has a column of that name (an array model: the same number of columns);
      otherwise ``float64`` when the estimator takes only numbers (its scikit-learn input tags,
      read from the first step of a pipeline), nullable if it accepts NaN; otherwise kind
      ``object``, whose values are not type-checked.
    * Outputs: for a single-output classifier, ``prediction`` of the dtype of ``classes_``.

    Returns None when the model declares neither ``feature_names_in_`` nor ``n_features_in_``.
    """
    names = getattr(model, "feature_names_in_", None)
    count = getattr(model, "n_features_in_", None)
    if names is not None:
        columns = [str(n) for n in names]
        input_type = "dataframe"
    elif isinstance(count, int | np.integer) and not isinstance(count, bool) and count > 0:
        columns = [str(i) for i in range(int(count))]
        input_type = "ndarray"
    else:
        return None
    known = {c.name: c for c in training.inputs} if training is not None else {}
    if input_type == "ndarray" and training is not None and len(training.inputs) == len(columns):
        known = dict(zip(columns, training.inputs, strict=True))
    numeric, allow_nan = _numeric_input(model)
    inputs = []
    for name in columns:
        spec = known.get(name)
        if spec is not None:
            inputs.append(spec)  # for an array model: the dataset's name for that position
        elif numeric:
            inputs.append(ColumnSpec(name, "float64", "float", allow_nan))
        else:
            inputs.append(ColumnSpec(name, "object", "object", True))
    method = next((m for m in ("predict", "transform") if callable(getattr(model, m, None))), None)
    outputs: tuple[ColumnSpec, ...] = ()
    shape: tuple[int, ...] | None = None
    classes = getattr(model, "classes_", None) if method == "predict" else None
    if isinstance(classes, np.ndarray) and classes.ndim == 1:
        outputs = (ColumnSpec("prediction", str(classes.dtype), kind_of(classes.dtype), False),)
        shape = ()
    return ModelSignature(tuple(inputs), outputs, input_type, shape, method)


def _numeric_input(model: Any) -> tuple[bool, bool]:
    """Whether ``model`` takes only numbers (by its scikit-learn input tags, conservatively),
    and whether it accepts NaN."""
    first = model
    while hasattr(first, "steps") and first.steps:  # a pipeline: its first step sees the input
        first = first.steps[0][1]
    if not type(first).__module__.startswith("sklearn.") or not hasattr(first, "fit"):
        return False, True
    if type(first).__name__ in _TAKES_ANY_VALUES or any(
        hasattr(first, a) for a in ("transformers", "transformer_list", "estimators", "estimator")
    ):
        return False, True  # column transformers, unions and meta-estimators: unknown
    categorical = getattr(first, "is_categorical_", None)
    if categorical is not None and bool(np.any(categorical)):
        return False, True  # e.g. HistGradientBoosting on pandas categories
    try:
        from sklearn.utils import get_tags

        tags = get_tags(first).input_tags
        allow_nan = bool(get_tags(model).input_tags.allow_nan)
    except Exception:  # older scikit-learn, or tags that cannot be read
        return False, True
    numeric = tags.two_d_array and not (tags.string or tags.categorical or tags.dict)
    return bool(numeric), allow_nan


# -- input examples -------------------------------------------------------------------------


def make_input_example(data: Any, rows: int = EXAMPLE_ROWS) -> dict[str, Any]:
    """The first ``rows`` rows of ``data`` as JSON-ready ``{"type", "columns", "data"}``."""
    frame, input_type = _input_frame(data)
    text = frame.head(rows).to_json(
        orient="split", index=False, date_format="iso", default_handler=str
    )
    payload = json.loads(text)
    return {"type": input_type, "columns": payload["columns"], "data": payload["data"]}


def example_data(example: Mapping[str, Any], signature: ModelSignature | None = None) -> Any:
    """A stored input example back as data the model takes (cast to the signature's dtypes)."""
    frame = pd.DataFrame(list(example.get("data", [])), columns=list(example.get("columns", [])))
    if signature is not None and set(signature.input_names) <= set(frame.columns):
        return signature._cast(frame[signature.input_names])
    return frame.to_numpy() if example.get("type") == "ndarray" else frame


def check_signature(value: Any, caller: str) -> ModelSignature | None:
    """``signature=`` of register_model: a ModelSignature, its dict form, or None."""
    if value is None or isinstance(value, ModelSignature):
        return value
    if isinstance(value, Mapping):
        try:
            return ModelSignature.from_dict(value)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"The 'signature' parameter of {caller} is a dict that is not a signature "
                f"({type(exc).__name__}: {exc}). Build one with "
                "workbench.registry.infer_signature(X, model)."
            ) from None
    raise InvalidParameterError(
        f"The 'signature' parameter of {caller} must be a ModelSignature or None. Got "
        f"{type(value).__name__} instead. Build one with "
        "workbench.registry.infer_signature(X, model)."
    )
