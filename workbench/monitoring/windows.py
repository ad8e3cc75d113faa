"""Drift over time: the same drift tests on consecutive windows of time-ordered data.

    timeline = wb.drift_over_time(requests_df, time_column="ts", window="1D",
                                  reference=train_df, alert_columns=["prediction"])
    timeline.windows        # one row per window: rows, tested, drifted, share, dataset drift
    timeline.statistics     # one row per window and column: test, statistic, p-value, drifted
    timeline.alerts         # windows where the dataset (or an alert column) drifted
    timeline.to_figure()    # share drifted per window, and a window x column heatmap
    timeline.log_alerts()   # each alert kept in the store as a run (workbench.kind=drift_alert)

Windows are periods of a timestamp column or index (any pandas offset alias: ``"6h"``, ``"1D"``,
``"7D"``, ``"W"``, ``"MS"``, ...), binned as ``pandas.Grouper`` / ``resample`` bin them (fixed
spans start at ``origin``, by default midnight of the first row's day), or consecutive blocks of
``n_rows`` rows. Windows with fewer than ``min_rows`` rows are listed as ``too_few_rows``, not
tested. Without a ``reference``, the first window with enough rows is the reference and the
series starts after it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench.monitoring._engine import TESTED_STATUSES, ColumnResult, analyze_columns
from workbench.monitoring._options import DriftOptions
from workbench.monitoring._sources import resolve_data
from workbench.monitoring._windowing import (
    DEFAULT_ORIGIN,
    MIN_WINDOW_ROWS,
    Window,
    check_window,
    cut_windows,
)
from workbench.monitoring.stattests import StatTest, get_stattest
from workbench.tracking.client import TrackingClient, resolve_client

__all__ = [
    "ALERT_EXPERIMENT",
    "DriftAlert",
    "DriftTimeline",
    "drift_over_time",
    "plot_drift_over_time",
]

ALERT_EXPERIMENT = "drift-alerts"
MAX_RATIO = 10.0


@dataclass(frozen=True)
class DriftAlert:
    """A window where the dataset, or a watched column, drifted."""

    window: int
    start: Any
    end: Any
    kind: str  # "dataset" or "column"
    column: str | None
    value: float
    threshold: float
    message: str


@dataclass(frozen=True)
class DriftTimeline:
    """Per-window drift statistics, the dataset drift share per window, and alerts."""

    windows: pd.DataFrame
    statistics: pd.DataFrame
    alerts: tuple[DriftAlert, ...]
    drift_share: float
    reference: str
    alert_run_ids: list[str] = field(default_factory=list)

    def scores(self, value: str = "drift_ratio") -> pd.DataFrame:
        """A window x column table of ``value`` (``drift_ratio``, ``statistic``, ``p_value``,
        ``drifted``). ``drift_ratio`` is how far past its threshold a column is: distance /
        threshold for distance tests, threshold / p-value for p-value tests (>= 1 is drift).
        Windows that were not tested (too few rows) are rows of NaN."""
        table = self.statistics.pivot(index="window", columns="column", values=value)
        return table.reindex(self.windows.index)

    def to_figure(self) -> Any:
        """Plotly figure: share of drifted features per window, and the drift-ratio heatmap."""
        return plot_drift_over_time(self)

    def log_alerts(
        self, *, experiment: str = ALERT_EXPERIMENT, client: TrackingClient | None = None
    ) -> list[str]:
        """Keep each alert as a run tagged ``workbench.kind=drift_alert`` in ``client``'s store
        (default: the current one); returns run ids."""
        client = resolve_client(client, "DriftTimeline.log_alerts")
        ids = []
        for alert in self.alerts:
            tags = {
                "workbench.kind": "drift_alert",
                "drift.alert_kind": alert.kind,
                "drift.window_start": str(alert.start),
                "drift.window_end": str(alert.end),
                "drift.message": alert.message[:1000],
            }
            if alert.column is not None:
                tags["drift.column"] = alert.column
            name = f"drift-alert-{alert.window}"
            with client.start_run(experiment, name, tags=tags) as run:
                run.log_metrics({"value": alert.value, "threshold": alert.threshold})
                run.log_metric("window", float(alert.window))
            ids.append(run.run_id)
        client.flush()
        self.alert_run_ids.extend(ids)
        return ids

    def __repr__(self) -> str:
        drifted = int(self.windows["dataset_drift"].sum()) if len(self.windows) else 0
        few = int((self.windows["status"] == "too_few_rows").sum()) if len(self.windows) else 0
        untested = f", {few} with too few rows (not tested)" if few else ""
        return (
            f"DriftTimeline({len(self.windows)} windows, {drifted} with dataset drift"
            f"{untested}, {len(self.alerts)} alerts)"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from workbench._html import render, safe

        table = safe(self.windows.to_html(float_format=lambda x: f"{x:.3f}"))
        alerts = [a.message for a in self.alerts]
        page = render("titled_table.html.j2", title=repr(self), alerts=alerts, table=table)
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": page}
        if len(self.windows):
            bundle["application/vnd.plotly.v1+json"] = self.to_figure().to_plotly_json()
        return bundle


def _windows(
    frame: pd.DataFrame,
    time_column: str | None,
    window: str | None,
    n_rows: int | None,
    origin: Any,
) -> list[Window]:
    caller = "drift_over_time"
    if (window is None) == (n_rows is None):
        raise v.fail(
            "window",
            caller,
            "set, or n_rows set (exactly one of them)",
            window,
            "e.g. window='1D' with time_column='ts', or n_rows=10_000.",
        )
    if n_rows is not None:
        v.check_positive_int(n_rows, caller, name="n_rows")
        return cut_windows(frame, time_column=None, window=n_rows, caller=caller)
    check_window(window, caller, rows=False)
    assert window is not None
    return cut_windows(frame, time_column=time_column, window=window, origin=origin, caller=caller)


_WINDOW_FIELDS = (
    "window",
    "start",
    "end",
    "n_rows",
    "status",
    "n_tested",
    "n_drifted",
    "share_drifted",
    "dataset_drift",
)
_STATISTIC_FIELDS = (
    "window",
    "start",
    "column",
    "test",
    "statistic",
    "p_value",
    "threshold",
    "drift_ratio",
    "drifted",
    "status",
)
#: Window statuses: tested, or left out because it has fewer than ``min_rows`` rows.
WINDOW_STATUSES = ("ok", "too_few_rows")


def _summary(
    index: int, start: Any, end: Any, n_rows: int, results: list[ColumnResult], share: float
) -> dict[str, Any]:
    tested = [r for r in results if r.status in TESTED_STATUSES]
    n_drifted = sum(r.drifted for r in tested)
    drifted_share = n_drifted / len(tested) if tested else 0.0
    return {
        "window": index,
        "start": start,
        "end": end,
        "n_rows": n_rows,
        "status": "ok",
        "n_tested": len(tested),
        "n_drifted": n_drifted,
        "share_drifted": drifted_share,
        "dataset_drift": bool(tested) and drifted_share >= share,
    }


def _too_few(index: int, start: Any, end: Any, n_rows: int) -> dict[str, Any]:
    return {
        "window": index,
        "start": start,
        "end": end,
        "n_rows": n_rows,
        "status": "too_few_rows",
        "n_tested": 0,
        "n_drifted": 0,
        "share_drifted": math.nan,
        "dataset_drift": False,
    }


def _ratio(result: ColumnResult, test: StatTest | None) -> float:
    if test is None or result.status not in TESTED_STATUSES:
        return math.nan
    if test.kind == "p_value":
        p = result.p_value
        return MAX_RATIO if p <= 0 else min(result.threshold / p, MAX_RATIO)
    if result.threshold <= 0:
        return MAX_RATIO
    return min(result.statistic / result.threshold, MAX_RATIO)


def _window_rows(
    index: int, start: Any, end: Any, results: list[ColumnResult]
) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        test = get_stattest(r.test) if r.test else None
        rows.append(
            {
                "window": index,
                "start": start,
                "column": r.column,
                "test": r.test,
                "statistic": r.statistic,
                "p_value": r.p_value,
                "threshold": r.threshold,
                "drift_ratio": _ratio(r, test),
                "drifted": r.drifted,
                "status": r.status,
            }
        )
    return rows


def _alerts(
    summary: dict[str, Any], rows: list[dict[str, Any]], share: float, watched: Sequence[str]
) -> list[DriftAlert]:
    alerts = []
    index, start, end = summary["window"], summary["start"], summary["end"]
    if summary["dataset_drift"]:
        message = (
            f"Window {index} ({start} to {end}): {summary['n_drifted']} of "
            f"{summary['n_tested']} features drifted (share {summary['share_drifted']:.2f} "
            f">= {share:g})."
        )
        alerts.append(
            DriftAlert(index, start, end, "dataset", None, summary["share_drifted"], share, message)
        )
    for row in rows:
        if row["column"] in watched and row["drifted"]:
            score = row["p_value"] if not math.isnan(row["p_value"]) else row["statistic"]
            message = (
                f"Window {index} ({start} to {end}): column {row['column']!r} drifted "
                f"({row['test']} {score:.4g}, threshold {row['threshold']:g})."
            )
            alerts.append(
                DriftAlert(
                    index, start, end, "column", row["column"], score, row["threshold"], message
                )
            )
    return alerts


def drift_over_time(
    data: Any,
    *,
    reference: Any = None,
    time_column: str | None = None,
    window: str | None = None,
    n_rows: int | None = None,
    columns: Sequence[str] | None = None,
    tests: str | StatTest | Mapping[str, str | StatTest] | None = None,
    thresholds: float | Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    column_kinds: Mapping[str, str] | None = None,
    alert_columns: Sequence[str] = (),
    min_rows: int = MIN_WINDOW_ROWS,
    origin: Any = DEFAULT_ORIGIN,
    client: TrackingClient | None = None,
) -> DriftTimeline:
    """Drift statistics of each window of ``data`` against ``reference``.

    Parameters
    ----------
    data
        Time-ordered data: a DataFrame, a file, or a request-log window (``to_frame()``).
    reference
        What each window is compared with (default: the first window).
    time_column
        Timestamp column for ``window`` (default: the DatetimeIndex).
    window
        A pandas offset alias: fixed spans (``"6h"``, ``"1D"``, ``"7D"``, ``"30D"``) or calendar
        periods (``"W"``, ``"MS"``, ``"QS"``, ...), binned as ``pandas.Grouper(freq=window,
        origin=origin)`` bins them.
    n_rows
        Or: consecutive blocks of this many rows.
    columns, tests, thresholds, drift_share, column_kinds
        As for :func:`drift_report`.
    alert_columns
        Columns (e.g. the prediction) that raise an alert whenever they drift; windows with
        dataset drift always raise one.
    min_rows
        Windows with fewer rows (default {MIN_WINDOW_ROWS}) are not tested: they are listed in
        ``windows`` with status ``too_few_rows`` and never alert. Below about 20 rows, chance
        alone makes a window look drifted (docs/monitoring.md, "Drift over time").
    origin
        Where fixed-span windows start (as for ``pandas.Grouper``): ``"start_day"`` (midnight
        of the first row's day, the default), ``"start"`` (the first timestamp), ``"epoch"``
        (1970-01-01) or a timestamp. Calendar periods follow the calendar.
    client
        The client whose store model URIs and request logs are read from (default: the current
        store).
    """
    caller = "drift_over_time"
    frame, _ = resolve_data(data, name="data", caller=caller, client=client)
    options = DriftOptions.checked(
        caller,
        columns=columns,
        tests=tests,
        thresholds=thresholds,
        drift_share=drift_share,
        column_kinds=column_kinds,
    )
    share = options.drift_share
    v.check_positive_int(min_rows, caller, name="min_rows")
    parts = _windows(frame, time_column, window, n_rows, origin)
    if reference is None:
        first = next((i for i, w in enumerate(parts) if len(w.rows) >= min_rows), None)
        if first is None or first == len(parts) - 1:
            raise v.fail(
                "data",
                caller,
                f"at least two windows of {min_rows} rows or more when no reference is given",
                data,
                "Pass reference= (e.g. the training data), a longer window, or a lower min_rows.",
            )
        ref, ref_source = parts[first].rows, f"first window ({parts[first].start})"
        parts = parts[first + 1 :]
    else:
        ref, ref_source = resolve_data(reference, name="reference", caller=caller, client=client)
    plan = [(c, role) for c, role in options.plan(ref, frame, caller) if c != time_column]
    default_test, per_test, default_threshold, per_threshold, kinds = options.resolve(
        {c for c, _ in plan}, caller
    )
    summaries, rows, alerts = [], [], []
    for index, part in enumerate(parts, start=1):
        if len(part.rows) < min_rows:
            summaries.append(_too_few(index, part.start, part.end, len(part.rows)))
            continue
        results = analyze_columns(
            ref,
            part.rows,
            plan,
            kinds=kinds,
            tests=per_test,
            thresholds=per_threshold,
            default_test=default_test,
            default_threshold=default_threshold,
            progress=False,
        )
        summary = _summary(index, part.start, part.end, len(part.rows), results, share)
        window_rows = _window_rows(index, part.start, part.end, results)
        summaries.append(summary)
        rows.extend(window_rows)
        alerts.extend(_alerts(summary, window_rows, share, alert_columns))
    windows = pd.DataFrame(summaries, columns=list(_WINDOW_FIELDS)).set_index("window")
    statistics = pd.DataFrame(rows, columns=list(_STATISTIC_FIELDS))
    return DriftTimeline(windows, statistics, tuple(alerts), share, ref_source)


def plot_drift_over_time(timeline: DriftTimeline) -> Any:
    """Share of drifted features per window (with the dataset-drift line and alerts marked),
    over a window x column heatmap of drift ratios (>= 1 means drift)."""
    from plotly.subplots import make_subplots

    windows = timeline.windows
    x = [str(s) for s in windows["start"]]
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[0.4, 0.6],
        subplot_titles=("Share of drifted features", "Drift ratio by column (>= 1: drift)"),
    )
    figure.add_scatter(
        x=x, y=windows["share_drifted"], mode="lines+markers", name="share drifted", row=1, col=1
    )
    figure.add_scatter(
        x=x,
        y=[timeline.drift_share] * len(x),
        mode="lines",
        name="dataset drift threshold",
        line={"dash": "dash", "color": "#9b1c1c"},
        row=1,
        col=1,
    )
    alerted = windows[windows["dataset_drift"]]
    figure.add_scatter(
        x=[str(s) for s in alerted["start"]],
        y=alerted["share_drifted"],
        mode="markers",
        name="alert",
        marker={"color": "#9b1c1c", "size": 11, "symbol": "x"},
        row=1,
        col=1,
    )
    if len(timeline.statistics):
        ratios = timeline.scores("drift_ratio")
        figure.add_heatmap(
            x=x,
            y=[str(c) for c in ratios.columns],
            z=np.asarray(ratios.T, dtype=float),
            zmin=0,
            zmax=2,
            colorscale=[[0, "#e3f4e8"], [0.5, "#fff7d6"], [1, "#d62728"]],
            colorbar={"title": "ratio", "y": 0.3, "len": 0.6},
            row=2,
            col=1,
        )
    figure.update_layout(height=520, template="plotly_white", legend={"orientation": "h"})
    figure.update_yaxes(range=[0, 1], row=1, col=1)
    return figure
