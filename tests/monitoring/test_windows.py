"""Drift over time on a real time-ordered dataset (Seattle weather, 2012-2015)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.exceptions import InvalidParameterError
from workbench.monitoring import drift_over_time, drift_report, plot_drift_over_time

WEATHER = Path(__file__).parents[2] / "data" / "seattle-weather.csv"


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
    assert (timeline.scores("drift_ratio") >= 0).all().all()
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
    assert list(timeline.windows["n_rows"]) == [365, 365, 365, 1]
    assert list(timeline.windows.index) == [1, 2, 3, 4]
    assert list(timeline.windows["n_tested"]) == [5, 5, 5, 5]
    assert timeline.windows["share_drifted"].between(0, 1).all()
    trimmed = drift_over_time(weather.drop(columns="date"), n_rows=365, min_rows=100)
    assert list(trimmed.windows.index) == [1, 2, 3]


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
        ({"window": "fortnight", "time_column": "date"}, "offset alias"),
        ({"n_rows": 0}, "positive int"),
        ({"n_rows": 10_000}, "at least two windows"),
    ],
)
def test_bad_windows(weather: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        drift_over_time(weather, **kwargs)
