"""drift_report end to end: verdicts, roles, performance, inputs, storage and reload."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench import registry
from workbench.exceptions import ArtifactNotFoundError
from workbench.monitoring import DriftReport, drift_report, load_drift_report, make_drift_dataset


@pytest.fixture(scope="module")
def shifted() -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    data = make_drift_dataset(3000, n_numeric=6, n_categorical=4, drift=0.5, seed=1)
    return data.reference, data.current, data.drifted_columns


def test_columns_frame_has_the_documented_shape(
    shifted: tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]],
) -> None:
    reference, current, drifted = shifted
    report = drift_report(reference, current)
    columns = report.columns
    assert list(columns.index) == list(reference.columns)
    for field in ("test", "statistic", "p_value", "threshold", "drifted"):
        assert field in columns.columns
    assert columns["drifted"].dtype == bool
    assert columns["p_value"].isna().all()  # 3,000 rows: distance tests only
    assert sorted(report.drifted_columns) == sorted(drifted)
    assert report.n_drifted == 5 and report.n_tested == 10
    assert report.dataset_drift  # share 0.5 >= 0.5


def test_dataset_drift_follows_drift_share(
    shifted: tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]],
) -> None:
    reference, current, _ = shifted
    assert not drift_report(reference, current, drift_share=0.51).dataset_drift
    assert drift_report(reference, current, drift_share=0.2).dataset_drift
    assert not drift_report(reference, reference.sample(frac=1, random_state=0)).dataset_drift


def test_target_and_prediction_are_tested_and_excluded_from_dataset_drift() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    ref = pd.DataFrame({"x": rng.normal(size=n), "y": rng.integers(0, 2, n)})
    ref["score"] = 1 / (1 + np.exp(-2 * ref["x"]))
    cur = ref.copy()
    cur["y"] = 1  # target drift only
    report = drift_report(ref, cur, target="y", prediction="score")
    assert report.columns["role"].to_dict() == {
        "x": "feature",
        "y": "target",
        "score": "prediction",
    }
    assert report.target_drift is True and report.prediction_drift is False
    assert report.n_tested == 1 and not report.dataset_drift


def test_performance_with_labels_on_both_sides() -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score

    rng = np.random.default_rng(1)
    n = 1500
    x = rng.normal(size=2 * n)
    y = (x + rng.normal(size=2 * n) > 0).astype(int)
    frame = pd.DataFrame({"x": x, "y": y, "p": 1 / (1 + np.exp(-1.7 * x))})
    ref, cur = frame.iloc[:n], frame.iloc[n:].assign(p=lambda d: d["p"] ** 2)
    report = drift_report(ref, cur, target="y", prediction="p")
    perf = report.performance
    assert report.task == "classification" and perf is not None
    assert perf.loc["accuracy", "reference"] == pytest.approx(
        accuracy_score(ref["y"], ref["p"] >= 0.5)
    )
    assert perf.loc["roc_auc", "current"] == pytest.approx(roc_auc_score(cur["y"], cur["p"]))
    assert perf["estimated"].isna().all()


def test_performance_is_estimated_without_current_labels() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    x = rng.normal(size=2 * n)
    p = 1 / (1 + np.exp(-2 * x))
    y = (rng.random(2 * n) < p).astype(int)  # p is calibrated by construction
    frame = pd.DataFrame({"x": x, "y": y, "p": p})
    ref, cur = frame.iloc[:n], frame.iloc[n:]
    report = drift_report(ref, cur.drop(columns="y"), target="y", prediction="p")
    perf = report.performance
    assert perf is not None and perf["current"].isna().all()
    realized = ((cur["p"] >= 0.5) == cur["y"]).mean()
    assert perf.loc["accuracy", "estimated"] == pytest.approx(realized, abs=0.02)


def test_regression_performance() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    frame = pd.DataFrame({"x": x, "y": 2 * x + 10 + rng.normal(size=600)})
    frame["pred"] = 2 * frame["x"] + 10
    report = drift_report(frame.iloc[:300], frame.iloc[300:], target="y", prediction="pred")
    assert report.task == "regression"
    assert report.performance is not None
    assert list(report.performance.index) == ["mae", "rmse", "r2", "mape"]


def test_files_are_accepted(tmp_path: Path) -> None:
    data = make_drift_dataset(500, n_numeric=2, n_categorical=1, seed=2)
    data.reference.to_parquet(tmp_path / "ref.parquet")
    data.current.to_csv(tmp_path / "cur.csv", index=False)
    report = drift_report(tmp_path / "ref.parquet", str(tmp_path / "cur.csv"))
    assert report.sources["reference"].endswith("ref.parquet")
    assert report.columns.loc["cat_0", "kind"] == "categorical"


def test_model_uri_reference_is_the_training_data(store_dir: Path, tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    frame = pd.read_csv(Path(__file__).parents[2] / "workbench" / "data" / "seattle-weather.csv")
    train = tmp_path / "train.csv"
    frame.iloc[:1000].to_csv(train, index=False)
    features = ["precipitation", "temp_min", "wind"]
    with wb.start_run("weather") as run:
        run.log_input(train, name="train", context="training")
        model = LinearRegression().fit(frame.iloc[:1000][features], frame.iloc[:1000]["temp_max"])
    registry.register_model("weather", run=run, model=model)
    report = drift_report("weather/1", frame.iloc[1000:])
    assert report.reference_rows == 1000
    assert "training data of model weather/1" in report.sources["reference"]


def test_round_trip_through_dict(
    shifted: tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]],
) -> None:
    reference, current, _ = shifted
    report = drift_report(reference, current, name="weekly")
    again = DriftReport.from_dict(report.to_dict())
    assert again.to_dict() == report.to_dict()
    pd.testing.assert_frame_equal(again.columns, report.columns)


def test_log_and_reload_by_run_id(
    store_dir: Path, shifted: tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]
) -> None:
    reference, current, drifted = shifted
    report = drift_report(reference, current, name="weekly")
    run_id = report.log()
    loaded = load_drift_report(run_id)
    assert loaded.run_id == run_id
    assert loaded.to_dict() == report.to_dict()
    pd.testing.assert_frame_equal(loaded.columns, report.columns)
    run = wb.get_run(run_id)
    assert run.experiment == "drift-reports" and run.name == "weekly"
    assert run.tags["workbench.kind"] == "drift_report"
    assert run.tags["drift.dataset_drift"] == "true"
    assert run.metrics["drifted_share"] == pytest.approx(0.5)
    assert run.metrics[f"drift.{drifted[0]}"] == pytest.approx(
        report.columns.loc[drifted[0], "statistic"]
    )
    assert {a.path for a in run.artifacts} == {"report.json", "report.html"}
    found = wb.search_runs(filter="tags.workbench.kind = 'drift_report'")
    assert list(found["run_id"]) == [run_id]


def test_loading_a_run_that_is_not_a_report(store_dir: Path) -> None:
    with wb.start_run("other") as run:
        run.log_metric("x", 1.0)
    with pytest.raises(ArtifactNotFoundError, match="holds no drift report"):
        load_drift_report(run.run_id)


def test_repr_and_plot(shifted: tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]) -> None:
    reference, current, _ = shifted
    report = drift_report(reference, current)
    assert repr(report).startswith("DriftReport(DRIFT: 5/10 features drifted")
    figure = report.plot_column("num_0")
    assert [trace.name for trace in figure.data] == ["reference", "current"]
    assert sum(figure.data[0].y) == pytest.approx(1.0)


def test_frames_from_arrays_have_integer_column_labels() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame(rng.normal(size=(2000, 3)))
    current = pd.DataFrame(rng.normal(0.5, 1, size=(2000, 3)))
    report = drift_report(reference, current, tests={0: "psi"}, thresholds={1: 0.2})
    assert list(report.columns.index) == ["0", "1", "2"]
    assert report.columns["test"].tolist() == ["psi", "wasserstein", "wasserstein"]
    assert report.columns["threshold"].tolist() == [0.1, 0.2, 0.1]
    assert report.columns["status"].eq("ok").all() and report.dataset_drift


_FIRST_REPORT = """
import sys
import numpy as np
import pandas as pd

def scipy_loaded():
    return sorted(m for m in sys.modules if m == "scipy" or m.startswith("scipy."))

import workbench
assert not scipy_loaded(), ("import workbench", scipy_loaded())
import workbench.monitoring
import workbench.monitoring.report, workbench.monitoring.stattests, workbench.monitoring.windows
assert not scipy_loaded(), ("import workbench.monitoring", scipy_loaded())

rng = np.random.default_rng(0)
frame = lambda n: pd.DataFrame(
    {
        "x": rng.normal(size=n),
        "c": rng.choice(["a", "b", "c"], n),
        "b": rng.integers(0, 2, n),
    }
)
before = set(sys.modules)
report = workbench.drift_report(frame(5000), frame(5000), progress=False)
assert [str(t) for t in report.columns["test"]] == ["wasserstein", "jensenshannon", "jensenshannon"]
print(" ".join(sorted(set(sys.modules) - before)))
assert "scipy.stats" not in sys.modules
small = workbench.drift_report(frame(500), frame(500), progress=False)
assert [str(t) for t in small.columns["test"]] == ["ks", "chisquare", "z"]
assert "scipy.stats" in sys.modules  # imported by the K-S test, when first used
"""


def test_the_first_report_imports_only_what_its_tests_use() -> None:
    """The cold start of a first report in a fresh process is mostly imports. Neither
    ``import workbench`` nor importing the monitoring modules loads scipy; the default tests at
    scale (Wasserstein, Jensen-Shannon) need none of it, and a report without a progress bar
    needs no tqdm.auto. ``scipy.stats`` comes only with a test that uses it (K-S here)."""
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_REPORT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    imported = done.stdout.split()
    heavy = ("scipy", "tqdm.auto", "plotly", "jinja2", "sklearn")
    assert not [m for m in imported if m.startswith(heavy)], imported
