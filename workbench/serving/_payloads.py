"""MLflow's scoring payloads, read into a :class:`Table` of rows, and predictions written back.

Accepted request bodies (``POST /invocations``), the same as ``mlflow models serve``:

* ``application/json`` with exactly one of
  ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` (pandas ``orient="split"``),
  ``{"dataframe_records": [{"col": value, ...}, ...]}``,
  ``{"instances": [...]}`` (records, rows, or scalars for a one-column model) and
  ``{"inputs": {...} | [...]}`` (columns as lists, one record, or like ``instances``); an
  optional empty ``"params"`` object is accepted. MLflow 1.x's ``format=pandas-split`` and
  ``format=pandas-records`` Content-Type parameters are honoured too.
* ``text/csv`` with a header row.

Everything that goes wrong raises an error whose message names the problem and the way out:
:class:`MalformedRequestError` (400), :class:`UnsupportedMediaTypeError` (415),
:class:`PayloadTooLargeError` (413). Checking rows against the model's signature is
:mod:`workbench.serving._convert`'s job.
"""

from __future__ import annotations

import io
import json
import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.serving._errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

try:  # ~10x faster than the json module on scoring payloads; optional.
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency of workbench[serve]
    orjson = None  # type: ignore[assignment]

__all__ = [
    "FORMATS",
    "Table",
    "dumps",
    "encode_predictions",
    "loads",
    "parse_payload",
    "preview",
]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv", "application/csv")
_LEGACY_FORMATS = {"pandas-split": "dataframe_split", "pandas-records": "dataframe_records"}
_ACCEPTED = (
    "a JSON object with one of the keys 'dataframe_split', 'dataframe_records', 'instances' or "
    "'inputs' (MLflow's scoring formats)"
)
_SHOWN = 3
LOG_DEPTH = 64  # values nested deeper are logged as a marker (orjson writes at most 254 levels)
_TOO_DEEP = f"<nested more than {LOG_DEPTH} levels deep: not logged>"


@dataclass
class Table:
    """The rows of one request, before they are checked against a signature.

    ``names`` are the column names (``None`` when rows are positional, as in
    ``{"instances": [[1, 2], ...]}``); ``rows`` holds row-major values as the JSON parser produced
    them. CSV bodies arrive as a DataFrame (``frame``) instead.
    """

    names: list[str] | None
    rows: list[list[Any]]
    fmt: str
    frame: pd.DataFrame | None = None

    @property
    def n_rows(self) -> int:
        return len(self.frame) if self.frame is not None else len(self.rows)

    def to_json(self) -> str:
        """The rows as ``{"columns": [...], "data": [[...], ...]}`` (what the request log keeps).

        Never fails on rows the parser accepted: values nested more than ``LOG_DEPTH`` levels
        deep (which the parser reads, up to 1024 levels, but orjson does not write beyond 254)
        are replaced by a marker string.
        """
        if self.frame is not None:
            return self.frame.to_json(orient="split", index=False, date_format="iso")
        try:
            return dumps({"columns": self.names, "data": self.rows}).decode()
        except (TypeError, ValueError, RecursionError):  # orjson.JSONEncodeError is a TypeError
            return dumps({"columns": self.names, "data": _loggable(self.rows)}).decode()


def _loggable(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with containers deeper than ``LOG_DEPTH`` replaced by a marker and
    text made valid UTF-8 (recursion bounded by ``LOG_DEPTH``, whatever the input's depth)."""
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, list | tuple):
        if depth >= LOG_DEPTH:
            return _TOO_DEEP
        return [_loggable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if depth >= LOG_DEPTH:
            return _TOO_DEEP
        return {_valid_text(str(k)): _loggable(item, depth + 1) for k, item in value.items()}
    return value


def _valid_text(text: str) -> str:
    """``text`` as valid Unicode: unpaired surrogates (which UTF-8 cannot hold) escaped."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# -- JSON -------------------------------------------------------------------------------------


def loads(body: bytes) -> Any:
    """Parse JSON; ``NaN``/``Infinity`` literals and integers beyond 64 bits are accepted too.

    Text must be valid Unicode either way: the ``json`` module, tried when orjson refuses a body,
    would let unpaired surrogates through (``"\\ud800"``), which no UTF-8 store can hold.
    """
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # maybe NaN/Infinity or a huge integer, which the json module reads
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequestError(
            f"The request body is not valid JSON ({_clip(str(exc))}). Send {_ACCEPTED}, e.g. "
            '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}.'
        ) from None
    bad = _invalid_text(value)
    if bad is not None:
        raise MalformedRequestError(
            f"The request body has text that is not valid Unicode: {preview(bad)} holds an "
            "unpaired UTF-16 surrogate (an escape such as \\ud800 without its partner). Send "
            "text as UTF-8, escaping characters outside the BMP as surrogate pairs."
        )
    return value


def _invalid_text(value: Any) -> str | None:
    """The first string (key or value) in ``value`` that UTF-8 cannot encode; iterative."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
    return None


_PREVIEW = reprlib.Repr()
_PREVIEW.maxlevel = 3
_PREVIEW.maxlist = _PREVIEW.maxtuple = _PREVIEW.maxdict = _PREVIEW.maxset = 4
_PREVIEW.maxstring = _PREVIEW.maxlong = _PREVIEW.maxother = 40


def preview(value: Any) -> str:
    """A short repr of a client's value for error messages: at most 3 levels deep, long strings
    and lists cut (so a list nested 1,000 deep is ``[[[[...]]]]``, not a RecursionError)."""
    if isinstance(value, np.generic):
        value = value.item()
    return _PREVIEW.repr(value)


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> bytes:
    """JSON bytes: NaN and infinities become ``null``; numpy values and arrays are written."""
    if orjson is not None:
        return orjson.dumps(value, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(_finite(value), default=_default, separators=(",", ":")).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def encode_predictions(result: Any) -> bytes:
    """A model's output as the JSON value of ``"predictions"`` (MLflow's response shapes).

    1-D outputs become a list, 2-D a list of rows, DataFrames a list of records.
    """
    if isinstance(result, pd.DataFrame):
        frame = result.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
        return frame.to_json(orient="records", date_format="iso").encode()
    if isinstance(result, pd.Series):
        result = result.to_numpy()
    if hasattr(result, "toarray"):  # scipy sparse
        result = result.toarray()
    if isinstance(result, np.ndarray):
        if orjson is not None and result.dtype.kind in "biuf":
            try:
                return orjson.dumps(np.ascontiguousarray(result), option=orjson.OPT_SERIALIZE_NUMPY)
            except orjson.JSONEncodeError:
                pass
        return dumps(result.tolist())
    return dumps(result)


# -- parsing ----------------------------------------------------------------------------------


def parse_payload(body: bytes, content_type: str | None, *, max_rows: int) -> Table:
    """The rows a scoring request carries, whatever its MLflow format."""
    mime, params = _media_type(content_type)
    if not body or not body.strip():
        raise MalformedRequestError(
            f"The request body is empty. Send {_ACCEPTED}, or CSV with Content-Type text/csv."
        )
    if mime in CSV_TYPES:
        return _csv(body, max_rows)
    if mime not in JSON_TYPES and not (mime.startswith("application/") and mime.endswith("+json")):
        shown = repr(content_type) if content_type else "no Content-Type"
        raise UnsupportedMediaTypeError(
            f"Unsupported media type: got {shown}. Send application/json ({_ACCEPTED}) or text/csv "
            "with a header row."
        )
    payload = loads(body)
    legacy = _LEGACY_FORMATS.get(params.get("format", ""))
    if legacy is not None and not (isinstance(payload, dict) and set(payload) & set(FORMATS)):
        payload = {legacy: payload}
    table = _json_payload(payload)
    if not table.rows:
        raise MalformedRequestError(
            f"The {table.fmt!r} payload has no rows; send at least one row to score."
        )
    if len(table.rows) > max_rows:
        raise PayloadTooLargeError(
            f"The request has {len(table.rows):,} rows; this server scores at most {max_rows:,} "
            "per request. Split it, or score files with workbench.batch_predict()."
        )
    return table


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    if not content_type:
        return "", {}
    mime, *rest = content_type.split(";")
    params = {}
    for item in rest:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    return mime.strip().lower(), params


def _json_payload(payload: Any) -> Table:
    if not isinstance(payload, dict):
        raise MalformedRequestError(
            f"The JSON body must be {_ACCEPTED}; got a JSON {_json_type(payload)}."
        )
    found = [key for key in FORMATS if key in payload]
    unknown = sorted(str(k) for k in payload if k not in FORMATS and k != "params")
    if unknown or len(found) != 1:
        if unknown:
            why = f"unknown key{'s' if len(unknown) > 1 else ''} {unknown}"
        elif found:
            why = f"several formats at once {found}"
        else:
            why = "no format key"
        raise MalformedRequestError(
            f"The JSON body must be {_ACCEPTED} (plus an optional 'params'); it has {why}."
        )
    params = payload.get("params")
    if params not in (None, {}):
        raise MalformedRequestError(
            "This server does not take inference 'params' (the model's predict() has none); "
            f"got {preview(params)}. Remove 'params' from the request."
        )
    fmt = found[0]
    value = payload[fmt]
    if fmt == "dataframe_split":
        return _split(value)
    if fmt == "dataframe_records":
        return _records(value, fmt)
    if fmt == "instances":
        return _list_payload(value, fmt)
    if isinstance(value, dict):
        return _columns(value)
    return _list_payload(value, fmt)


def _split(value: Any) -> Table:
    fmt = "dataframe_split"
    if not isinstance(value, dict):
        raise MalformedRequestError(
            f"'{fmt}' must be an object with 'columns' and 'data' (pandas orient='split'); got "
            f"a JSON {_json_type(value)}."
        )
    unknown = sorted(str(k) for k in value if k not in ("columns", "data", "index"))
    if unknown:
        raise MalformedRequestError(
            f"'{fmt}' takes the keys 'columns', 'data' and 'index'; unknown: {unknown}."
        )
    data = value.get("data")
    if not isinstance(data, list):
        raise MalformedRequestError(
            f"'{fmt}.data' must be a list of rows (each a list of values); got "
            f"{'nothing' if data is None else 'a JSON ' + _json_type(data)}."
        )
    columns = value.get("columns")
    names = None if columns is None else _names(columns, f"'{fmt}.columns'")
    width = len(names) if names is not None else None
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise MalformedRequestError(
                f"'{fmt}.data' must be a list of rows (lists); row {i} is a JSON {_json_type(row)}."
            )
        if width is None:
            width = len(row)
        if len(row) != width:
            what = f"the {width} columns" if names is not None else f"row 0's {width} values"
            raise MalformedRequestError(
                f"'{fmt}.data' row {i} has {len(row)} values, but there are {what}."
            )
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise MalformedRequestError(
            f"'{fmt}.index' must be a list with one label per row ({len(data)})."
        )
    return Table(names, data, fmt)


def _names(columns: Any, where: str) -> list[str]:
    if not isinstance(columns, list) or not all(
        isinstance(c, str) or (isinstance(c, int) and not isinstance(c, bool)) for c in columns
    ):
        raise MalformedRequestError(f"{where} must be a list of column names (strings).")
    names = [str(c) for c in columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise MalformedRequestError(f"{where} names a column more than once: {dupes}.")
    return names


def _records(value: Any, fmt: str) -> Table:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        got = _json_type(value)
        if isinstance(value, list):
            bad = next(i for i, r in enumerate(value) if not isinstance(r, dict))
            got = f"a list whose item {bad} is a JSON {_json_type(value[bad])}"
        raise MalformedRequestError(
            f"'{fmt}' must be a list of records (objects mapping column to value); got {got}."
        )
    names: dict[str, None] = {}
    for record in value:
        for key in record:
            names.setdefault(key, None)
    order = list(names)
    if len(value) == 1:
        record = value[0]
        return Table(order, [[record[k] for k in order]], fmt)
    return Table(order, [[r.get(k) for k in order] for r in value], fmt)


def _list_payload(value: Any, fmt: str) -> Table:
    if not isinstance(value, list):
        raise MalformedRequestError(
            f"'{fmt}' must be a list (of records, of rows, or of values for a one-column model) "
            f"or, for 'inputs', an object of columns; got a JSON {_json_type(value)}."
        )
    if not value:
        return Table(None, [], fmt)
    if all(isinstance(v, dict) for v in value):
        return _records(value, fmt)
    if all(isinstance(v, list) for v in value):
        width = len(value[0])
        for i, row in enumerate(value):
            if len(row) != width:
                raise MalformedRequestError(
                    f"'{fmt}' row {i} has {len(row)} values, but row 0 has {width}."
                )
        return Table(None, value, fmt)
    if not any(isinstance(v, list | dict) for v in value):
        return Table(None, [[v] for v in value], fmt)
    raise MalformedRequestError(
        f"'{fmt}' mixes records, rows and single values; use one shape for every item."
    )


def _columns(value: dict[str, Any], fmt: str = "inputs") -> Table:
    if not value:
        return Table([], [], fmt)
    names = list(value)
    columns = list(value.values())
    if not any(isinstance(c, list) for c in columns):  # one record
        return Table(names, [columns], fmt)
    lengths = {len(c) if isinstance(c, list) else -1 for c in columns}
    if len(lengths) != 1 or -1 in lengths:
        shown = {n: (len(c) if isinstance(c, list) else "a single value") for n, c in value.items()}
        raise MalformedRequestError(
            f"'{fmt}' as an object must map every column to a list of the same length (or every "
            f"column to one value); got lengths {_clip(repr(shown))}."
        )
    return Table(names, [list(row) for row in zip(*columns, strict=True)], fmt)


def _csv(body: bytes, max_rows: int) -> Table:
    try:
        frame = pd.read_csv(io.BytesIO(body), nrows=max_rows + 1)
    except Exception as exc:  # any parser failure is the request's fault
        raise MalformedRequestError(
            f"The CSV body could not be read ({type(exc).__name__}: {_clip(str(exc))}). Send a "
            "header row of column names, then one line per row."
        ) from None
    if len(frame) > max_rows:
        raise PayloadTooLargeError(
            f"The CSV has more than {max_rows:,} rows; this server scores at most {max_rows:,} "
            "per request. Split it, or score files with workbench.batch_predict()."
        )
    if frame.empty:
        raise MalformedRequestError(
            "The CSV has a header but no rows; send at least one row to score."
        )
    frame.columns = [str(c) for c in frame.columns]
    return Table(list(frame.columns), [], "csv", frame=frame)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
