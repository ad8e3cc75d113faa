"""The default test per column follows Evidently's rule table, directly and through reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.monitoring import default_stattest, drift_report


@pytest.mark.parametrize(
    ("kind", "n_reference", "n_unique", "expected"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("numeric", 1000, 1, "z"),
        ("categorical", 1000, 40, "chisquare"),
        ("categorical", 10, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("numeric", 1001, 2, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 50_000, 300, "jensenshannon"),
    ],
)
def test_rule_table(kind: str, n_reference: int, n_unique: int, expected: str) -> None:
    assert default_stattest(kind, n_reference, n_unique) == expected


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "float_many": rng.normal(size=n),
            "float_few": rng.integers(0, 4, n).astype(float),  # 4 values: low cardinality
            "float_binary": rng.integers(0, 2, n).astype(float),
            "int_many": rng.integers(0, 100, n),  # > 10 distinct ints: numeric
            "int_few": rng.integers(0, 8, n),  # <= 10 distinct ints: categorical
            "text": rng.choice(["x", "y", "z"], n),
            "flag": rng.choice([True, False], n),
        }
    )


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (
            1000,
            {
                "float_many": "ks",
                "float_few": "chisquare",
                "float_binary": "z",
                "int_many": "ks",
                "int_few": "chisquare",
                "text": "chisquare",
                "flag": "z",
            },
        ),
        (
            1001,
            {
                "float_many": "wasserstein",
                "float_few": "jensenshannon",
                "float_binary": "jensenshannon",
                "int_many": "wasserstein",
                "int_few": "jensenshannon",
                "text": "jensenshannon",
                "flag": "jensenshannon",
            },
        ),
    ],
)
def test_reports_choose_by_the_rule(n: int, expected: dict[str, str]) -> None:
    report = drift_report(_frame(n, 1), _frame(300, 2))
    assert report.columns["test"].to_dict() == expected
    assert report.columns.loc["int_few", "kind"] == "categorical"
    assert report.columns.loc["int_many", "kind"] == "numeric"


def test_reference_size_counts_non_missing_values() -> None:
    ref = pd.DataFrame({"x": np.r_[np.arange(900.0), [np.nan] * 300]})  # 1,200 rows, 900 values
    report = drift_report(ref, ref)
    assert report.columns.loc["x", "test"] == "ks"


def test_named_tests_and_thresholds_override_the_rule() -> None:
    ref, cur = _frame(2000, 3), _frame(2000, 4)
    report = drift_report(
        ref, cur, tests={"float_many": "psi", "text": "chisquare"}, thresholds={"text": 0.01}
    )
    assert report.columns.loc["float_many", "test"] == "psi"
    assert report.columns.loc["text", ["test", "threshold"]].tolist() == ["chisquare", 0.01]
    assert report.columns.loc["int_many", "test"] == "wasserstein"


def test_a_test_that_does_not_apply_falls_back_with_a_note() -> None:
    report = drift_report(_frame(2000, 3), _frame(2000, 4), tests="ks")
    assert report.columns.loc["float_many", "test"] == "ks"
    row = report.columns.loc["text"]
    assert row["test"] == "jensenshannon"
    assert "'ks' does not apply" in row["note"]
