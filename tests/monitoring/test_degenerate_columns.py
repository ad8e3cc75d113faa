"""Bad columns are reported with a clear status; they never take the report down."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from workbench.exceptions import InvalidParameterError
from workbench.monitoring import drift_report


@pytest.fixture
def messy() -> tuple[pd.DataFrame, pd.DataFrame]:
    n = 400
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "good": rng.normal(size=n),
            "constant": 3.0,
            "all_nan": np.nan,
            "mixed": pd.Series([1, "a", 2.5, None] * (n // 4), dtype=object),
            "only_in_reference": 1.0,
            "numbers_then_text": rng.normal(size=n),
            "with_inf": np.r_[rng.normal(size=n - 2), [np.inf, -np.inf]],
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "user_id": [f"user-{i}" for i in range(n)],
        }
    )
    current = reference.drop(columns=["only_in_reference"]).assign(
        numbers_then_text=rng.choice(["a", "b"], n),
        only_in_current=1,
        constant=4.0,
    )
    return reference, current


def test_each_problem_has_its_status(messy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    report = drift_report(*messy)
    status = report.columns["status"].to_dict()
    assert status == {
        "good": "ok",
        "constant": "constant",
        "all_nan": "empty",
        "mixed": "mixed_types",
        "only_in_reference": "missing_in_current",
        "numbers_then_text": "type_mismatch",
        "with_inf": "ok",
        "when": "unsupported",
        "user_id": "unsupported",
        "only_in_current": "missing_in_reference",
    }
    notes = report.columns["note"]
    assert "all missing" in notes["all_nan"]
    assert "not in the current data" in notes["only_in_reference"]
    assert "numeric values, the current data string values" in notes["numbers_then_text"]
    assert "column_kinds" in notes["user_id"]
    assert set(report.problems.index) == set(status) - {"good", "with_inf"}


def test_untested_columns_do_not_count_towards_dataset_drift(
    messy: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    report = drift_report(*messy)
    assert report.n_tested == 4  # good, constant, mixed, with_inf
    assert report.columns.loc["constant", "drifted"]  # 3.0 -> 4.0 is real drift
    assert report.n_drifted == 1 and report.share_drifted == 0.25
    assert not report.dataset_drift
    untested = report.columns[~report.columns["status"].isin(["ok", "constant", "mixed_types"])]
    assert not untested["drifted"].any() and untested["test"].isna().all()


def test_infinities_count_as_missing(messy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    row = drift_report(*messy).columns.loc["with_inf"]
    assert row["n_reference"] == 398
    assert row["missing_reference"] == pytest.approx(2 / 400)


def test_a_messy_report_still_exports(messy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    report = drift_report(*messy)
    json.loads(report.to_json())  # strict JSON: no NaN literals
    assert "type_mismatch" in report.to_html(interactive=False)
    assert "user_id" in report._repr_mimebundle_()["text/html"]


def test_columns_missing_everywhere_and_kinds_of_one_sided_columns(
    messy: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    report = drift_report(*messy, columns=["good", "ghost", "only_in_current"], target="label")
    assert report.columns["status"].to_dict() == {
        "good": "ok",
        "ghost": "missing",
        "only_in_current": "missing_in_reference",
        "label": "missing",
    }
    assert report.columns.loc["only_in_current", "kind"] == "categorical"  # ints, one value
    assert report.target_drift is None


def test_panel_hint_when_panel_is_missing(
    messy: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    report = drift_report(*messy)
    monkeypatch.setitem(sys.modules, "panel", None)  # makes `import panel` fail
    with pytest.raises(ImportError, match="pip install panel"):
        report.__panel__()


def test_empty_frames() -> None:
    empty = pd.DataFrame({"x": pd.Series([], dtype=float), "y": pd.Series([], dtype=object)})
    report = drift_report(empty, empty)
    assert report.columns["status"].tolist() == ["empty", "empty"]
    assert report.n_tested == 0 and not report.dataset_drift
    assert "empty" in report.columns.loc["x", "note"]
    report.to_html()


def test_all_missing_on_one_side_only() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    cur = pd.DataFrame({"x": [None, None]}, dtype=object)
    row = drift_report(ref, cur).columns.loc["x"]
    assert row["status"] == "empty" and "current column is all missing" in row["note"]
    assert row["missing_current"] == 1.0


def test_int_column_that_gains_missing_values_is_not_a_type_change() -> None:
    ref = pd.DataFrame({"n": np.arange(50) % 3})
    cur = pd.DataFrame({"n": [0.0, 1.0, np.nan, 2.0] * 10})  # float64 because of NaN
    row = drift_report(ref, cur).columns.loc["n"]
    assert row["status"] == "ok" and row["kind"] == "categorical"


def test_a_failing_custom_test_is_an_error_status(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.monitoring import StatTest
    from workbench.monitoring.stattests import _registry

    def broken(pair: object) -> tuple[float, float]:
        raise RuntimeError("boom")

    registry = dict(_registry)
    registry["broken"] = StatTest("broken", "Broken", ("numeric",), 0.1, "distance", broken)
    monkeypatch.setattr("workbench.monitoring.stattests._registry", registry)
    report = drift_report(
        pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [1.0, 3.0]}), tests="broken"
    )
    row = report.columns.loc["x"]
    assert row["status"] == "error" and "RuntimeError: boom" in row["note"]
    assert math.isnan(row["statistic"]) and not row["drifted"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drift_share": 0}, "drift_share"),
        ({"tests": {"nope": "ks"}}, r"Available: \['x'\]"),
        ({"tests": "kolmogorov"}, "Available"),
        ({"thresholds": {"x": "high"}}, "a number"),
        ({"column_kinds": {"x": "ordinal"}}, "numeric"),
        ({"columns": "x"}, "a list of column names"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(InvalidParameterError, match=message):
        drift_report(frame, frame, **kwargs)  # type: ignore[arg-type]


def test_bad_inputs_are_refused(tmp_path: object) -> None:
    frame = pd.DataFrame({"x": [1.0]})
    with pytest.raises(InvalidParameterError, match="No such file"):
        drift_report("missing.csv", frame)
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        drift_report(42, frame)
    with pytest.raises(InvalidParameterError, match="not available yet"):
        drift_report(frame, "deployment:churn-api")


@pytest.fixture
def schema_changed() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One feature missing on the current side, one all-NaN, one turned from numbers into text."""
    rng = np.random.default_rng(3)
    n = 500
    reference = pd.DataFrame(
        {
            "good": rng.normal(size=n),
            "gone": rng.normal(size=n),
            "emptied": rng.normal(size=n),
            "as_text": rng.normal(size=n),
        }
    )
    current = pd.DataFrame(
        {
            "good": rng.normal(size=n),
            "emptied": np.nan,
            "as_text": rng.normal(size=n).round(2).astype(str),
        }
    )
    return reference, current


def test_the_headline_names_columns_that_were_not_tested(
    schema_changed: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    report = drift_report(*schema_changed)
    assert not report.dataset_drift and report.n_tested == 1
    expected = "'gone' (missing_in_current), 'emptied' (empty), 'as_text' (type_mismatch)"
    assert f"3 NOT TESTED: {expected}" in report.headline
    assert report.headline in repr(report)
    assert report.skipped_columns == ["gone", "emptied", "as_text"]
    assert list(report.schema_changes.index) == ["gone", "emptied", "as_text"]
    assert "Not tested (3 schema changes)" in report.to_html(interactive=False)
    data = json.loads(report.to_json())
    assert data["schema_changes"] == ["gone", "emptied", "as_text"]
    assert [c["status"] for c in data["skipped_columns"]] == [
        "missing_in_current",
        "empty",
        "type_mismatch",
    ]
    assert data["on_schema_change"] == "report" and "NOT TESTED" in data["headline"]
    again = type(report).from_dict(data)
    assert again.headline == report.headline


def test_schema_changes_can_count_as_drift(
    schema_changed: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    report = drift_report(*schema_changed, on_schema_change="drift")
    assert report.dataset_drift and report.n_drifted == 0
    assert report.headline.startswith("DRIFT (schema changed): 0/1 features drifted")
    assert type(report).from_dict(report.to_dict()).dataset_drift
    reference = schema_changed[0]
    assert not drift_report(reference, reference, on_schema_change="drift").dataset_drift
    with pytest.raises(InvalidParameterError, match="'on_schema_change' parameter"):
        drift_report(*schema_changed, on_schema_change="fail")
