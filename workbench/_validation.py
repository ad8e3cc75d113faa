"""Argument checks shared by every public function, with one error-message shape.

Messages follow: "The {name!r} parameter of {caller} must be {constraint}. Got {value!r} instead.
{how to fix}" so a user always sees which argument, what was expected, and what to do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from workbench.exceptions import InvalidParameterError

MAX_NAME_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
RESERVED_PREFIX = "workbench."

_NAME_RE = re.compile(r"^[A-Za-z0-9_\-.:/ ]+$")
_valid_keys: set[str] = set()


def _shorten(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(
    name: str, caller: str, constraint: str, value: Any, fix: str = ""
) -> InvalidParameterError:
    """Build the standard error for a bad argument (the caller raises it)."""
    subject = f"The {name}" if "'" in name else f"The {name!r} parameter"  # "value of param 'x'"
    message = f"{subject} of {caller} must be {constraint}. Got {_shorten(value)} instead."
    return InvalidParameterError(f"{message} {fix}".rstrip())


def check_key(key: Any, caller: str, *, name: str = "key", allow_reserved: bool = False) -> str:
    """A metric/param/tag key: a non-empty string of safe characters, not reserved."""
    if key in _valid_keys:
        return key  # type: ignore[no-any-return]
    if not isinstance(key, str) or not key.strip():
        raise fail(name, caller, "a non-empty string", key, "Name it, e.g. 'accuracy'.")
    if len(key) > MAX_NAME_LENGTH:
        raise fail(name, caller, f"at most {MAX_NAME_LENGTH} characters long", key)
    if not _NAME_RE.match(key):
        raise fail(
            name,
            caller,
            "made of letters, digits, spaces and _ - . : /",
            key,
            "Replace the other characters, e.g. with '_'.",
        )
    if key.startswith(RESERVED_PREFIX) and not allow_reserved:
        raise fail(
            name,
            caller,
            f"a name not starting with {RESERVED_PREFIX!r}",
            key,
            f"Keys under {RESERVED_PREFIX!r} are reserved for workbench itself.",
        )
    if not allow_reserved:
        _valid_keys.add(key)
    return key


def check_name(value: Any, caller: str, *, name: str) -> str:
    """A user-facing name (experiment, run): a non-empty string of reasonable length."""
    if not isinstance(value, str) or not value.strip():
        raise fail(name, caller, "a non-empty string", value)
    if len(value) > MAX_NAME_LENGTH:
        raise fail(name, caller, f"at most {MAX_NAME_LENGTH} characters long", value)
    if "\x00" in value or "\n" in value:
        raise fail(name, caller, "a single line without control characters", value)
    return value


def check_metric_value(value: Any, caller: str, *, key: str) -> float:
    """A metric value: a finite real number (bools are refused: they are usually a mistake)."""
    if type(value) is float:
        if math.isfinite(value):
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        as_float = float(value)
        if math.isfinite(as_float):
            return as_float
    elif hasattr(value, "item") and getattr(value, "size", 0) == 1:  # numpy / 0-d arrays
        return check_metric_value(value.item(), caller, key=key)
    raise fail(
        f"value of metric {key!r}",
        caller,
        "a finite number",
        value,
        "Log NaN/inf as a tag or skip the point; convert tensors with float(x).",
    )


def check_step(step: Any, caller: str) -> int:
    """A metric step: a non-negative integer."""
    if isinstance(step, bool) or not isinstance(step, int):
        if hasattr(step, "item") and isinstance(step.item(), int):
            step = step.item()
        else:
            raise fail("step", caller, "an int >= 0", step)
    if step < 0:
        raise fail("step", caller, "an int >= 0", step)
    return int(step)


def check_timestamp(timestamp: Any, caller: str) -> int:
    """A timestamp as seconds since the epoch (float) or a datetime; returns microseconds."""
    import datetime as dt

    if isinstance(timestamp, dt.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)
        return int(timestamp.timestamp() * 1_000_000)
    is_number = isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool)
    if is_number and math.isfinite(timestamp) and 0 <= timestamp < 1e11:
        return int(timestamp * 1_000_000)
    raise fail(
        "timestamp",
        caller,
        "seconds since the epoch or a datetime",
        timestamp,
        "Use time.time() or datetime.now(timezone.utc).",
    )


def param_to_record(key: str, value: Any, caller: str) -> tuple[str | None, float | None, str]:
    """Encode a param value as (text, numeric value, type name); refuse what cannot be stored."""
    if value is None:
        return None, None, "null"
    if isinstance(value, bool):
        return str(value), None, "bool"
    if isinstance(value, int):
        value = int(value)
        return str(value), float(value), "int"
    if isinstance(value, float):  # also numpy.float64, a float subclass: store the plain float
        value = float(value)
        return repr(value), (value if math.isfinite(value) else None), "float"
    if hasattr(value, "item") and getattr(value, "size", 0) == 1:  # numpy scalars
        return param_to_record(key, value.item(), caller)
    if isinstance(value, str):
        text, kind = value, "str"
    elif isinstance(value, (list, tuple, dict)):
        import json

        try:
            text = json.dumps(value, sort_keys=isinstance(value, dict), default=_json_default)
        except (TypeError, ValueError) as exc:
            raise fail(
                f"value of param {key!r}",
                caller,
                "JSON-serializable",
                value,
                f"({exc}). Log str(value) instead.",
            ) from None
        kind = "json"
    else:
        text, kind = _describe_object(value), "str"
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise fail(
            f"value of param {key!r}",
            caller,
            f"at most {MAX_PARAM_VALUE_LENGTH} characters when written out",
            value,
            "Log large values as an artifact with run.log_text() or run.log_dict().",
        )
    return text, None, kind


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _describe_object(value: Any) -> str:
    """Estimators and other objects are stored by their repr, as scikit-learn prints them."""
    text = repr(value)
    if " object at 0x" in text:
        return type(value).__qualname__
    return text


def check_mapping(value: Any, caller: str, *, name: str) -> Mapping[str, Any]:
    """A dict-like argument (params, metrics, tags)."""
    if not isinstance(value, Mapping):
        raise fail(name, caller, "a dict", value, "Pass e.g. {'lr': 0.01}.")
    return value


def check_tag_value(key: str, value: Any, caller: str) -> str:
    """Tags are strings; numbers and bools are converted, others refused."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float, bool)):
        text = str(value)
    else:
        raise fail(f"value of tag {key!r}", caller, "a str, number or bool", value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise fail(
            f"value of tag {key!r}", caller, f"at most {MAX_TAG_VALUE_LENGTH} characters", value
        )
    return text


def check_positive_int(
    value: Any, caller: str, *, name: str, allow_none: bool = False
) -> int | None:
    """A positive integer (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise fail(name, caller, "a positive int" + (" or None" if allow_none else ""), value)
    return value
