"""Drift over time on a real time-ordered dataset (Seattle weather, 2012-2015)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.exceptions import InvalidParameterError
from workbench.monitoring import drift_over_time, drift_report, plot_drift_over_time

WEATHER = Path(__file__).parents[2] / "workbench" / "data" / "seattle-weather.csv"


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return pd.read_csv(WEATHER, parse_dates=["date"])


def test_calendar_windows_against_a_reference(weather: pd.DataFrame) -> None:
    reference = weather[weather["date"].dt.year == 2012]
    later = weather[weather["date"].dt.year > 2012]
    timeline = drift_over_time(
        later, reference=reference, time_column="date", window="30D", alert_columns=["weather"]
    )
    windows = timeline.windows
    assert windows["n_rows"].sum() == len(later)
    assert set(timeline.statistics["column"]) == {
        "precipitation",
        "temp_max",
        "temp_min",
        "wind",
        "weather",
    }
    # one month against a whole year: temperatures drift in most months (seasons)
    temp = timeline.scores("drifted")["temp_max"]
    assert temp.mean() > 0.5
    tested = timeline.scores("drift_ratio").dropna()
    assert (tested >= 0).all().all()
    # 1,095 days in 30-day windows from 2013-01-01: the last holds 15 days, too few to judge.
    assert list(windows["status"]) == ["ok"] * 36 + ["too_few_rows"]
    assert len(tested) == 36
    first = later[later["date"] < windows.iloc[0]["end"]]
    direct = drift_report(reference.drop(columns="date"), first.drop(columns="date"))
    row = timeline.statistics.query("window == 1 and column == 'wind'").iloc[0]
    assert row["statistic"] == pytest.approx(direct.columns.loc["wind", "statistic"])
    kinds = {a.kind for a in timeline.alerts}
    assert kinds <= {"dataset", "column"} and timeline.alerts
    assert all(a.kind == "dataset" for a in timeline.alerts if a.column is None)


def test_row_windows_with_the_first_window_as_reference(weather: pd.DataFrame) -> None:
    timeline = drift_over_time(weather.drop(columns="date"), n_rows=365)
    assert timeline.reference.startswith("first window")
    windows = timeline.windows
    assert list(windows["n_rows"]) == [365, 365, 365, 1]
    assert list(windows.index) == [1, 2, 3, 4]
    # The last block holds one day: too few rows to judge, so it is listed but not tested.
    assert list(windows["status"]) == ["ok", "ok", "ok", "too_few_rows"]
    assert list(windows["n_tested"]) == [5, 5, 5, 0]
    assert windows["share_drifted"].iloc[:3].between(0, 1).all()
    assert not windows["dataset_drift"].iloc[3] and 4 not in {a.window for a in timeline.alerts}
    assert timeline.scores().loc[4].isna().all()
    assert "1 with too few rows" in repr(timeline)
    everything = drift_over_time(weather.drop(columns="date"), n_rows=365, min_rows=1)
    assert list(everything.windows["n_tested"]) == [5, 5, 5, 5]


def test_any_pandas_frequency_calendar_ones_included(weather: pd.DataFrame) -> None:
    reference = weather[weather["date"].dt.year == 2012]
    later = weather[weather["date"].dt.year > 2012]
    months = drift_over_time(later, reference=reference, time_column="date", window="MS")
    windows = months.windows
    assert len(windows) == 36 and windows["n_rows"].sum() == len(later)
    assert list(windows["start"][:3]) == [pd.Timestamp(f"2013-0{m}-01") for m in (1, 2, 3)]
    assert list(windows["end"][:2]) == [pd.Timestamp("2013-02-01"), pd.Timestamp("2013-03-01")]
    assert list(windows["n_rows"][:3]) == [31, 28, 31]
    assert (windows["status"] == "ok").all()
    # Month ends and weeks ending on Sunday are the same calendar, labelled by their last day.
    ends = drift_over_time(later, reference=reference, time_column="date", window="ME").windows
    assert list(ends["start"]) == list(windows["start"]) and list(ends["n_rows"]) == list(
        windows["n_rows"]
    )
    weeks = drift_over_time(later, reference=reference, time_column="date", window="W").windows
    assert (weeks["start"].dt.day_of_week == 0).all()  # Mondays
    assert weeks["n_rows"].iloc[0] == 6  # Tue 2013-01-01 .. Sun 2013-01-06


def test_fixed_windows_start_with_the_data_not_in_1970(weather: pd.DataFrame) -> None:
    reference = weather[weather["date"].dt.year == 2012]
    # 2013-01-07 is a Monday; 7-day windows cut from 1970-01-01 (a Thursday) would start on
    # Thursday 2013-01-03 and give a first window of three days.
    later = weather[weather["date"] >= "2013-01-07"].iloc[:70]
    weeks = drift_over_time(later, reference=reference, time_column="date", window="7D")
    assert weeks.windows["start"].iloc[0] == pd.Timestamp("2013-01-07")
    assert list(weeks.windows["n_rows"]) == [7] * 10
    months = drift_over_time(later, reference=reference, time_column="date", window="30D")
    assert months.windows["start"].iloc[0] == pd.Timestamp("2013-01-07")
    # origin="epoch" is the old alignment, still available by name.
    epoch = drift_over_time(
        later, reference=reference, time_column="date", window="7D", origin="epoch", min_rows=1
    )
    assert epoch.windows["start"].iloc[0] == pd.Timestamp("2013-01-03")
    assert epoch.windows["n_rows"].iloc[0] == 3


def test_a_partial_window_of_a_few_rows_is_not_reported_as_drift(weather: pd.DataFrame) -> None:
    reference = weather[weather["date"].dt.year == 2012]
    later = weather[weather["date"] >= "2013-01-29"].iloc[:62]  # 3 days of January, then more
    timeline = drift_over_time(later, reference=reference, time_column="date", window="MS")
    first = timeline.windows.iloc[0]
    assert (first["n_rows"], first["status"], first["dataset_drift"]) == (3, "too_few_rows", False)
    assert first["n_tested"] == 0 and 1 not in {a.window for a in timeline.alerts}
    assert set(timeline.statistics["window"]) == {2, 3}


def test_drift_over_time_and_the_monitor_cut_the_same_windows(weather: pd.DataFrame) -> None:
    from workbench.monitoring.loop import split_windows

    later = weather[weather["date"] >= "2013-01-07"]
    for window in ("MS", "7D", "W", "90D"):
        timeline = drift_over_time(later, reference=weather, time_column="date", window=window)
        parts = split_windows(later, time_column="date", window=window, caller="test")
        assert [len(p) for p in parts] == list(timeline.windows["n_rows"]), window
        starts = [pd.Timestamp(p["date"].min()) for p in parts]
        bounds = zip(timeline.windows["start"], timeline.windows["end"], strict=True)
        assert all(s <= t < e for t, (s, e) in zip(starts, bounds, strict=True)), window


def test_alerts_are_recorded_as_runs(store_dir: Path, weather: pd.DataFrame) -> None:
    reference = weather[weather["date"].dt.month.isin([12, 1, 2])]
    summer = weather[weather["date"].dt.month.isin([6, 7, 8])].iloc[:184]
    timeline = drift_over_time(summer, reference=reference, time_column="date", window="92D")
    assert timeline.alerts and timeline.alerts[0].kind == "dataset"
    ids = timeline.log_alerts()
    assert len(ids) == len(timeline.alerts)
    runs = wb.search_runs("drift-alerts", filter="tags.workbench.kind = 'drift_alert'")
    assert set(runs["run_id"]) == set(ids)
    run = wb.get_run(ids[0])
    assert run.tags["drift.alert_kind"] == "dataset"
    assert run.metrics["value"] >= run.metrics["threshold"]


def test_plot(weather: pd.DataFrame) -> None:
    timeline = drift_over_time(weather, time_column="date", window="180D")
    figure = plot_drift_over_time(timeline)
    names = [trace.name for trace in figure.data]
    assert names[:3] == ["share drifted", "dataset drift threshold", "alert"]
    assert figure.data[-1].type == "heatmap"
    bundle = timeline._repr_mimebundle_()
    assert "application/vnd.plotly.v1+json" in bundle and "Alerts" in bundle["text/html"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of them"),
        ({"window": "1D", "n_rows": 10}, "exactly one of them"),
        ({"window": "1D"}, "time_column"),
        ({"window": "1D", "time_column": "nope"}, "Available"),
        ({"window": "fortnight", "time_column": "date"}, "pandas frequency such as"),
        ({"window": "MS", "time_column": "date", "origin": "dawn"}, "'origin' parameter"),
        ({"window": "MS", "time_column": "date", "min_rows": 0}, "'min_rows' parameter"),
        ({"n_rows": 0}, "positive int"),
        ({"n_rows": 10_000}, "at least two windows"),
    ],
)
def test_bad_windows(weather: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        drift_over_time(weather, **kwargs)
