"""Argument handling shared by ``drift_report`` and ``drift_over_time``: which columns to test
in which role, and per-column options (a single value for all, or a dict by column)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from workbench import _validation as v
from workbench.monitoring.performance import PredictionSpec
from workbench.monitoring.stattests import StatTest, get_stattest

__all__ = [
    "check_drift_share",
    "per_column",
    "plan_columns",
    "resolve_options",
]

_KINDS = ("numeric", "categorical")


def check_drift_share(drift_share: Any, caller: str) -> float:
    """``drift_share`` as a float in (0, 1]."""
    if (
        isinstance(drift_share, bool)
        or not isinstance(drift_share, (int, float))
        or not 0 < drift_share <= 1
    ):
        raise v.fail("drift_share", caller, "a number in (0, 1]", drift_share, "e.g. 0.5.")
    return float(drift_share)


def _prediction_columns(prediction: PredictionSpec | None) -> list[Any]:
    if prediction is None:
        return []
    if isinstance(prediction, str):
        return [prediction]
    if isinstance(prediction, Mapping):
        return list(prediction.values())
    return list(prediction)


def plan_columns(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str] | None,
    target: str | None,
    prediction: PredictionSpec | None,
    caller: str,
) -> list[tuple[Any, str]]:
    """``(column label, role)`` pairs: features (default: every column of either side, reference
    order first), then the target and prediction columns. Labels keep their type (a frame
    built from an array has integer column labels)."""
    special: dict[Any, str] = {target: "target"} if target is not None else {}
    special.update({c: "prediction" for c in _prediction_columns(prediction)})
    if columns is None:
        names = list(reference.columns)
        names += [c for c in current.columns if c not in reference.columns]
        features = [c for c in names if c not in special]
    else:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise v.fail("columns", caller, "a list of column names", columns)
        features = [c for c in columns if c not in special]
    return [(c, "feature") for c in features] + [(c, role) for c, role in special.items()]


def per_column(
    value: Any, names: set[Any], caller: str, parameter: str, convert: Any
) -> tuple[Any, dict[Any, Any]]:
    """A single value for every column, or a dict column -> value (checked against names)."""
    if value is None:
        return None, {}
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - names)
        if unknown:
            raise v.fail(
                parameter,
                caller,
                "a dict keyed by columns of the report",
                unknown,
                f"Available: {sorted(names)}.",
            )
        return None, {k: convert(x, k) for k, x in value.items()}
    return convert(value, None), {}


def _threshold(value: Any, column: str | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        where = f" for column {column!r}" if column else ""
        raise v.fail("thresholds", "drift_report", f"a number{where}", value)
    return float(value)


def _kind(value: Any, column: str | None) -> str:
    if value not in _KINDS:
        raise v.fail("column_kinds", "drift_report", f"one of {list(_KINDS)}", value)
    return str(value)


def resolve_options(
    names: set[Any],
    tests: Any,
    thresholds: Any,
    column_kinds: Any,
    caller: str,
) -> tuple[StatTest | None, dict[Any, StatTest], float | None, dict[Any, float], dict[Any, str]]:
    """``(default test, tests by column, default threshold, thresholds by column, kinds)``."""
    default_test, per_test = per_column(tests, names, caller, "tests", _stattest)
    default_threshold, per_threshold = per_column(
        thresholds, names, caller, "thresholds", _threshold
    )
    if column_kinds is not None and not isinstance(column_kinds, Mapping):
        raise v.fail(
            "column_kinds", caller, "a dict column -> 'numeric'/'categorical'", column_kinds
        )
    _, kinds = per_column(column_kinds, names, caller, "column_kinds", _kind)
    return default_test, per_test, default_threshold, per_threshold, kinds


def _stattest(value: Any, column: str | None) -> StatTest:
    return get_stattest(value)
