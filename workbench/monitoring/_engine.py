"""Per-column drift computation: prepare a column, choose its test, run it, bin it for plots.

Columns are independent, so large inputs are processed by a small thread pool (numpy's sort,
search and arithmetic release the GIL); progress shows through ``tqdm.auto`` when there is
enough work to be worth a bar.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.monitoring._columns import ColumnPair, Skipped, missing_shares, prepare_column
from workbench.monitoring._defaults import default_stattest
from workbench.monitoring.stattests import StatTest, get_stattest

__all__ = [
    "COLUMN_FIELDS",
    "SCHEMA_STATUSES",
    "TESTED_STATUSES",
    "ColumnResult",
    "analyze_columns",
    "column_drift",
]

#: Statuses of columns that were tested (``small_sample``: with a verdict that chance alone
#: may explain; the note says why and what to do).
TESTED_STATUSES = frozenset({"ok", "constant", "mixed_types", "small_sample"})
#: Statuses that mean the data's schema changed between the sides (so the column is not tested).
SCHEMA_STATUSES = frozenset(
    {"missing_in_current", "missing_in_reference", "missing", "empty", "type_mismatch"}
)
DEFAULT_RULE_CAP = 5  # the default rule only asks whether a column has more than 5 values
PARALLEL_MIN_VALUES = 200_000  # rows x columns below which threads cost more than they save
PROGRESS_MIN_VALUES = 20_000_000
PROGRESS_MIN_COLUMNS = 50
COLUMN_FIELDS = (
    "role",
    "kind",
    "test",
    "statistic",
    "p_value",
    "threshold",
    "drifted",
    "status",
    "note",
    "n_reference",
    "n_current",
    "missing_reference",
    "missing_current",
)


@dataclass(frozen=True)
class ColumnResult:
    """The drift verdict of one column, and its binned distributions for plots."""

    column: str
    role: str
    kind: str
    test: str | None
    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    status: str
    note: str
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    distribution: Mapping[str, Any] | None

    def row(self) -> dict[str, Any]:
        """The fields shown in ``DriftReport.columns``."""
        return {field: getattr(self, field) for field in COLUMN_FIELDS}


def _choose_test(pair: ColumnPair, requested: StatTest | None) -> tuple[StatTest, str]:
    kinds = pair.column_kinds
    n_unique = pair.count_distinct(DEFAULT_RULE_CAP)
    default = get_stattest(default_stattest(pair.kind, pair.reference.size, n_unique))
    if requested is None:
        return default, ""
    if requested.applies_to(kinds):
        return requested, ""
    note = (
        f"{requested.name!r} does not apply to a {'/'.join(sorted(kinds))} column; "
        f"used the default {default.name!r}."
    )
    return default, note


def column_drift(
    name: str,
    reference: pd.Series | None,
    current: pd.Series | None,
    *,
    role: str = "feature",
    kind: str | None = None,
    test: StatTest | None = None,
    threshold: float | None = None,
) -> ColumnResult:
    """Drift of one column; never raises for bad data (the status says what went wrong)."""
    prepared, status, note = prepare_column(name, reference, current, kind)
    if isinstance(prepared, Skipped):
        return ColumnResult(
            column=name,
            role=role,
            kind=prepared.kind,
            test=None,
            statistic=math.nan,
            p_value=math.nan,
            threshold=math.nan,
            drifted=False,
            status=status,
            note=note,
            n_reference=prepared.n_reference,
            n_current=prepared.n_current,
            missing_reference=prepared.missing_reference,
            missing_current=prepared.missing_current,
            distribution=None,
        )
    assert reference is not None and current is not None
    pair = prepared
    chosen, choice_note = _choose_test(pair, test)
    limit = chosen.default_threshold if threshold is None else float(threshold)
    missing_ref, missing_cur = missing_shares(pair, reference, current)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            statistic, p_value = chosen.func(pair)
        statistic, p_value = float(statistic), float(p_value)
    except Exception as exc:  # a custom test failing must not take the report down
        statistic, p_value = math.nan, math.nan
        status, note = "error", f"{chosen.name} failed: {type(exc).__name__}: {exc}"
    drifted = chosen.is_drift(statistic, p_value, limit)
    caveat = ""
    if status != "error" and chosen.caveat is not None:
        try:
            caveat = chosen.caveat(pair, limit)
        except Exception as exc:  # a custom caveat failing must not take the report down
            caveat = f"{chosen.name}'s caveat check failed: {type(exc).__name__}: {exc}"
        if caveat:
            status = "small_sample"
    notes = "; ".join(n for n in (note, choice_note, caveat) if n)
    return ColumnResult(
        column=name,
        role=role,
        kind=pair.kind,
        test=chosen.name,
        statistic=statistic,
        p_value=p_value,
        threshold=limit,
        drifted=drifted,
        status=status,
        note=notes,
        n_reference=int(pair.reference.size),
        n_current=int(pair.current.size),
        missing_reference=missing_ref,
        missing_current=missing_cur,
        distribution=pair.distribution(),
    )


class _NoProgress:
    """Stands in for a disabled bar: importing ``tqdm.auto`` and starting its monitor thread
    would cost a first report more than small inputs take to test."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]  # no stubs

    return tqdm(total=total, desc="drift", unit="column", leave=False)


def analyze_columns(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    plan: Sequence[tuple[Any, str]],
    *,
    kinds: Mapping[Any, str],
    tests: Mapping[Any, StatTest],
    thresholds: Mapping[Any, float],
    default_test: StatTest | None = None,
    default_threshold: float | None = None,
    progress: bool | None = None,
) -> list[ColumnResult]:
    """Test every ``(column, role)`` of ``plan``, in order."""

    def one(item: tuple[Any, str]) -> ColumnResult:
        label, role = item
        return column_drift(
            str(label),
            reference[label] if label in reference.columns else None,
            current[label] if label in current.columns else None,
            role=role,
            kind=kinds.get(label),
            test=tests.get(label, default_test),
            threshold=thresholds.get(label, default_threshold),
        )

    values = (len(reference) + len(current)) * max(len(plan), 1)
    workers = min(os.cpu_count() or 1, len(plan)) if values >= PARALLEL_MIN_VALUES else 1
    if progress is None:
        progress = values >= PROGRESS_MIN_VALUES or len(plan) >= PROGRESS_MIN_COLUMNS
    with _progress(len(plan), progress) as bar:
        if workers <= 1:
            return [_tick(bar, one(item)) for item in plan]
        with ThreadPoolExecutor(workers, thread_name_prefix="workbench-drift") as pool:
            return [_tick(bar, result) for result in pool.map(one, plan)]


def _tick(bar: Any, result: ColumnResult) -> ColumnResult:
    bar.update(1)
    return result
