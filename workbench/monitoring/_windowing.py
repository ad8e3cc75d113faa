"""The one way monitoring cuts time-ordered data into windows (``drift_over_time`` and the loop).

A window is a pandas frequency of a timestamp column (or the DatetimeIndex), binned exactly as
``pandas.Grouper(freq=window, origin=origin)`` / ``DataFrame.resample`` bin it, or a block of a
number of rows:

* fixed spans (``"6h"``, ``"1D"``, ``"7D"``, ``"30D"``) start at ``origin``: by default
  ``"start_day"``, midnight of the first row's day, so windows follow the data (``"epoch"``
  aligns them to 1970-01-01, ``"start"`` to the first timestamp; a timestamp is taken as is);
* calendar periods (``"MS"`` month start, ``"ME"`` month end, ``"W"`` weeks ending on Sunday,
  ``"QS"``, ``"YS"``, business days, ...) follow the calendar, whatever ``origin`` is.

Every window is half-open, ``[start, end)``; empty periods between rows are windows too (with no
rows), so gaps in the data show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench import _validation as v

__all__ = [
    "DEFAULT_ORIGIN",
    "MIN_WINDOW_ROWS",
    "Window",
    "check_origin",
    "check_window",
    "cut_windows",
    "to_offset",
]

#: Where fixed-span windows start: midnight of the first row's day (pandas' default).
DEFAULT_ORIGIN = "start_day"
#: Windows with fewer rows are reported as "too few rows" by ``drift_over_time`` rather than
#: tested: below it, chance alone makes most windows of data drawn from the reference's own
#: distribution look drifted (measured in docs/monitoring.md, "Drift over time").
MIN_WINDOW_ROWS = 20
_ORIGINS = ("start_day", "start", "epoch", "end", "end_day")
_WINDOW_EXAMPLES = "a pandas frequency such as '6h', '1D', '7D', '30D', 'W', 'MS' (month start)"


@dataclass(frozen=True)
class Window:
    """One window: ``[start, end)`` (row positions for row windows) and its rows."""

    start: Any
    end: Any
    rows: pd.DataFrame


def to_offset(window: str) -> Any:
    """The pandas offset of a frequency string (already checked by :func:`check_window`)."""
    return pd.tseries.frequencies.to_offset(window)


def check_window(value: Any, caller: str, *, name: str = "window", rows: bool = True) -> Any:
    """``value`` if it is a pandas frequency (any offset alias, calendar ones included) or, with
    ``rows``, a positive number of rows; else an error naming what is accepted."""
    if rows and isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.strip():
        try:
            to_offset(value)
        except ValueError:
            pass
        else:
            return value
    accepted = f"{_WINDOW_EXAMPLES}{', or a number of rows' if rows else ''}"
    raise v.fail(
        name,
        caller,
        accepted,
        value,
        "Any pandas offset alias works: "
        "https://pandas.pydata.org/docs/user_guide/timeseries.html#offset-aliases.",
    )


def check_origin(value: Any, caller: str) -> Any:
    """``origin`` as pandas' resample takes it: one of its names, or a timestamp."""
    if isinstance(value, str) and value in _ORIGINS:
        return value
    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError):
        raise v.fail(
            "origin",
            caller,
            f"one of {list(_ORIGINS)} or a timestamp (as for pandas.Grouper)",
            value,
        ) from None


def _times(frame: pd.DataFrame, time_column: str | None, caller: str) -> pd.Series:
    if time_column is None:
        if isinstance(frame.index, pd.DatetimeIndex):
            return pd.Series(frame.index, index=frame.index)
        raise v.fail(
            "time_column",
            caller,
            "a timestamp column for a calendar window (or data with a DatetimeIndex)",
            None,
            f"Available: {[str(c) for c in frame.columns]}.",
        )
    if time_column not in frame.columns:
        raise v.fail(
            "time_column",
            caller,
            "a column of the data",
            time_column,
            f"Available: {[str(c) for c in frame.columns]}.",
        )
    times = pd.to_datetime(frame[time_column], errors="coerce")
    if times.isna().all():
        raise v.fail("time_column", caller, "a column of timestamps", time_column)
    return times


def _bounds(key: pd.Timestamp, offset: Any, label: str) -> tuple[Any, Any]:
    """``[start, end)`` of the bin pandas labels ``key``.

    Left-labelled bins (fixed spans, month/quarter/year starts) start at their label. The
    right-labelled ones (``ME``, ``QE``, ``YE``, ``W``, their business variants) are labelled with
    their last day and hold that whole day (pandas moves their edges by a day), so they run from
    the day after the previous label to the day after their own.
    """
    if label == "left":
        return key, key + offset
    day = pd.Timedelta(days=1)
    return key - offset + day, key + day


def cut_windows(
    frame: pd.DataFrame,
    *,
    time_column: str | None,
    window: str | int,
    origin: Any = DEFAULT_ORIGIN,
    caller: str,
) -> list[Window]:
    """Consecutive windows of ``frame`` in time order (see the module docstring).

    Row windows keep the frame's order; time windows sort the rows by time (stable) and leave
    out rows without a timestamp.
    """
    window = check_window(window, caller)
    if isinstance(window, int):
        return [
            Window(start, min(start + window, len(frame)), frame.iloc[start : start + window])
            for start in range(0, len(frame), window)
        ]
    origin = check_origin(origin, caller)
    offset = to_offset(window)
    times = _times(frame, time_column, caller)
    keep = times.notna().to_numpy()
    ordered = times[keep].reset_index(drop=True).sort_values(kind="stable")
    rows = frame[keep].iloc[ordered.index.to_numpy()]
    grouper = pd.Grouper(freq=offset, origin=origin)
    sizes = pd.Series(1, index=pd.DatetimeIndex(ordered)).groupby(grouper).size()
    label = str(getattr(grouper, "label", "left") or "left")
    out: list[Window] = []
    position = 0
    for key, size in sizes.items():
        start, end = _bounds(pd.Timestamp(key), offset, label)  # type: ignore[arg-type]
        out.append(Window(start, end, rows.iloc[position : position + int(size)]))
        position += int(size)
    return out
