"""The drift options, declared once (:class:`DriftOptions`), shared by ``drift_report``,
``drift_over_time`` and ``workbench drift``: which columns to test in which role, and per-column
options (a single value for all, or a dict by column)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench import _options as o
from workbench import _validation as v
from workbench.monitoring.performance import PredictionSpec
from workbench.monitoring.stattests import StatTest, get_stattest

__all__ = [
    "DriftOptions",
    "per_column",
    "plan_columns",
    "resolve_options",
]

_KINDS = ("numeric", "categorical")
SCHEMA_CHANGE_POLICIES = ("report", "drift")
#: (default test, tests by column, default threshold, thresholds by column, kinds by column)
Resolved = tuple[
    StatTest | None, dict[Any, StatTest], float | None, dict[Any, float], dict[Any, str]
]


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
) -> Resolved:
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


def _columns(value: Any, name: str, caller: str) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise v.fail(name, caller, "a list of column names", value)
    if not all(isinstance(c, str) for c in value):
        raise v.fail(name, caller, "a list of column names", value)
    return list(value)


def _tests(value: Any, name: str, caller: str) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    return _stattest(value, None)  # a single test for every column: known now


def _thresholds(value: Any, name: str, caller: str) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    return _threshold(value, None)


def _column_kinds(value: Any, name: str, caller: str) -> dict[Any, str]:
    if not isinstance(value, Mapping):
        raise v.fail(name, caller, "a dict column -> 'numeric'/'categorical'", value)
    return {column: _kind(kind, column) for column, kind in value.items()}


def _prediction(value: Any, name: str, caller: str) -> Any:
    if isinstance(value, str | Mapping) or (
        isinstance(value, Sequence) and all(isinstance(c, str) for c in value)
    ):
        return value
    raise v.fail(name, caller, "a column name, a list of them, or a dict label -> column", value)


@dataclass(frozen=True)
class DriftOptions:
    """What a drift test is asked, declared once: the options of :func:`workbench.drift_report`
    (also :func:`workbench.drift_over_time`'s, and ``workbench drift``'s flags). Per-column
    values are checked against the data's columns by :meth:`resolve`."""

    target: str | None = o.option(
        None,
        flag="--target",
        check=o.Name(none=True),
        help="The label column; tested for drift like a feature (with ``prediction``, "
        "performance on reference vs current is added).",
    )
    prediction: Any = o.option(
        None,
        flag="--prediction",
        cli={"nargs": "+"},
        check=o.Check(_prediction, "a column name, a list of them or a dict", none=True),
        help="The model output column(s) (see :mod:`workbench.monitoring.performance`).",
    )
    columns: list[str] | None = o.option(
        None,
        flag="--columns",
        cli={"nargs": "+"},
        check=o.Check(_columns, "a list of column names", none=True),
        default_text="every column but target and prediction",
        help="The features to test.",
    )
    tests: Any = o.option(
        None,
        flag="--test",
        cli={"action": "append", "metavar": "[COLUMN=]TEST"},
        check=o.Check(_tests, "a test name, a StatTest, or a dict column -> test", none=True),
        default_text="the default rule",
        help="A test for every column (``'psi'``), or a dict column -> test (CLI: repeat "
        "``--test COLUMN=TEST``). A test that does not apply to a column's kind falls back to "
        "the default rule, with a note.",
    )
    thresholds: Any = o.option(
        None,
        flag="--threshold",
        cli={"action": "append", "metavar": "[COLUMN=]VALUE"},
        check=o.Check(_thresholds, "a number, or a dict column -> number", none=True),
        default_text="the test's",
        help="One threshold for every column, or a dict column -> threshold (CLI: repeat "
        "``--threshold COLUMN=VALUE``).",
    )
    drift_share: float = o.option(
        0.5,
        flag="--drift-share",
        cli={"type": float},
        check=o.Number(0, 1, low_open=True, fix="e.g. 0.5."),
        help="The dataset drifts when at least this share of the tested features drifted.",
    )
    column_kinds: Mapping[str, str] | None = o.option(
        None,
        flag="--column-kind",
        cli={"action": "append", "metavar": "COLUMN=KIND"},
        check=o.Check(_column_kinds, "a dict column -> 'numeric'/'categorical'", none=True),
        default_text="inferred",
        help="Force ``numeric`` or ``categorical`` for some columns.",
    )
    on_schema_change: str = o.option(
        "report",
        check=o.OneOf(
            SCHEMA_CHANGE_POLICIES, fix="'drift' makes a schema change count as dataset drift."
        ),
        help="A column missing on one side, empty on a side, or numbers on one side and text "
        "on the other: ``report`` names it (headline, ``schema_changes``, JSON); ``drift`` also "
        "makes ``dataset_drift`` true (CLI: ``--fail-on-schema-change``).",
    )

    @classmethod
    def checked(cls, caller: str, **params: Any) -> DriftOptions:
        """The options from a drift function's keywords, each checked (naming ``caller``)."""
        return cls(**o.check_fields(cls(**params), caller))

    def plan(
        self, reference: pd.DataFrame, current: pd.DataFrame, caller: str
    ) -> list[tuple[Any, str]]:
        """``(column, role)`` pairs to test (see :func:`plan_columns`)."""
        return plan_columns(reference, current, self.columns, self.target, self.prediction, caller)

    def resolve(self, names: set[Any], caller: str) -> Resolved:
        """The per-column options for the tested columns ``names`` (see :func:`resolve_options`)."""
        return resolve_options(names, self.tests, self.thresholds, self.column_kinds, caller)
