"""Each drift test equals scipy's statistic on the same data (Evidently's preparation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from workbench.exceptions import InvalidParameterError
from workbench.monitoring import StatTest, get_stattest, list_stattests, register_stattest
from workbench.monitoring._columns import ColumnPair, prepare_column
from workbench.monitoring.stattests import _registry


def _pair(reference: pd.Series, current: pd.Series, kind: str | None = None) -> ColumnPair:
    pair, status, note = prepare_column("x", reference, current, kind)
    assert isinstance(pair, ColumnPair), (status, note)
    return pair


def _run(name: str, pair: ColumnPair) -> tuple[float, float]:
    return get_stattest(name).func(pair)


@pytest.fixture
def numeric() -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(7)
    return pd.Series(rng.normal(0, 1, 700)), pd.Series(rng.normal(0.3, 1.2, 450))


@pytest.fixture
def categorical() -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(8)
    ref = pd.Series(rng.choice(["a", "b", "c", "d"], 600, p=[0.4, 0.3, 0.2, 0.1]))
    cur = pd.Series(rng.choice(["a", "b", "c", "d"], 500, p=[0.25, 0.25, 0.25, 0.25]))
    return ref, cur


def test_ks_equals_scipy(numeric: tuple[pd.Series, pd.Series]) -> None:
    ref, cur = numeric
    statistic, p_value = _run("ks", _pair(ref, cur))
    expected = stats.ks_2samp(ref, cur)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("sizes", [(700, 450), (500, 500), (3, 1000), (1000, 999)])
def test_wasserstein_equals_scipy_normed_by_reference_std(sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(sizes[0])
    ref = pd.Series(rng.gamma(2.0, 1.5, sizes[0]))
    cur = pd.Series(rng.gamma(2.2, 1.4, sizes[1]).round(1))  # ties too
    statistic, p_value = _run("wasserstein", _pair(ref, cur))
    expected = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
    assert statistic == pytest.approx(expected, rel=1e-9)
    assert math.isnan(p_value)


def test_anderson_equals_scipy(numeric: tuple[pd.Series, pd.Series]) -> None:
    ref, cur = numeric
    statistic, p_value = _run("anderson", _pair(ref, cur))
    with pytest.warns(UserWarning, match="p-value"):
        expected = stats.anderson_ksamp([ref.to_numpy(), cur.to_numpy()], variant="midrank")
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue)


def test_chisquare_equals_scipy_on_aligned_frequencies(
    categorical: tuple[pd.Series, pd.Series],
) -> None:
    ref, cur = categorical
    statistic, p_value = _run("chisquare", _pair(ref, cur))
    keys = ["a", "b", "c", "d"]
    observed = [int((cur == k).sum()) for k in keys]
    expected = [(ref == k).sum() * len(cur) / len(ref) for k in keys]
    result = stats.chisquare(observed, expected)
    assert statistic == pytest.approx(result.statistic, rel=1e-12)
    assert p_value == pytest.approx(result.pvalue, rel=1e-9)


def test_chisquare_new_category_is_infinite_drift() -> None:
    ref = pd.Series(["a", "b"] * 50)
    cur = pd.Series(["a", "b", "c"] * 30)
    assert _run("chisquare", _pair(ref, cur)) == (math.inf, 0.0)


def test_jensenshannon_numeric_uses_sturges_bins_over_both_sides(
    numeric: tuple[pd.Series, pd.Series],
) -> None:
    ref, cur = numeric
    statistic, _ = _run("jensenshannon", _pair(ref, cur))
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    expected = distance.jensenshannon(
        np.histogram(ref, edges)[0] / len(ref), np.histogram(cur, edges)[0] / len(cur)
    )
    assert statistic == pytest.approx(expected, rel=1e-12)


def test_jensenshannon_categorical_uses_category_shares(
    categorical: tuple[pd.Series, pd.Series],
) -> None:
    ref, cur = categorical
    statistic, _ = _run("jensenshannon", _pair(ref, cur))
    keys = ["a", "b", "c", "d"]
    expected = distance.jensenshannon(
        [(ref == k).mean() for k in keys], [(cur == k).mean() for k in keys]
    )
    assert statistic == pytest.approx(expected, rel=1e-12)


def _evidently_fill(shares: np.ndarray) -> np.ndarray:
    smallest = shares[shares > 0].min()
    return np.where(shares == 0, smallest / 1e6 if smallest <= 1e-4 else 1e-4, shares)


def test_psi_and_kl_on_binned_shares_with_zero_filling() -> None:
    rng = np.random.default_rng(3)
    ref = pd.Series(rng.normal(0, 1, 800))
    cur = pd.Series(rng.normal(2.5, 0.5, 800))  # leaves bins empty on one side
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    r = _evidently_fill(np.histogram(ref, edges)[0] / len(ref))
    c = _evidently_fill(np.histogram(cur, edges)[0] / len(cur))
    pair = _pair(ref, cur)
    assert _run("psi", pair)[0] == pytest.approx(np.sum((r - c) * np.log(r / c)), rel=1e-12)
    assert _run("kl_div", pair)[0] == pytest.approx(stats.entropy(r, c), rel=1e-12)


def test_hellinger_numeric_and_categorical(
    numeric: tuple[pd.Series, pd.Series], categorical: tuple[pd.Series, pd.Series]
) -> None:
    ref, cur = numeric
    keys = np.union1d(ref.unique(), cur.unique())
    edges = np.histogram_bin_edges(keys, bins="sturges")
    h1 = np.histogram(ref, edges, density=True)[0]
    h2 = np.histogram(cur, edges, density=True)[0]
    width = (edges.max() - edges.min()) / (len(edges) - 1)
    expected = math.sqrt(1 - min(float(np.sum(np.sqrt(h1 * h2)) * width), 1.0))
    assert _run("hellinger", _pair(ref, cur))[0] == pytest.approx(expected, rel=1e-12)

    ref, cur = categorical
    shares = [((ref == k).mean(), (cur == k).mean()) for k in "abcd"]
    expected = math.sqrt(1 - sum(math.sqrt(a * b) for a, b in shares))
    assert _run("hellinger", _pair(ref, cur))[0] == pytest.approx(expected, rel=1e-12)


def test_z_test_is_the_two_proportion_z_test() -> None:
    ref = pd.Series(["no"] * 70 + ["yes"] * 30)
    cur = pd.Series(["no"] * 50 + ["yes"] * 50)
    z, p_value = _run("z", _pair(ref, cur))
    p1, p2, pooled = 0.3, 0.5, 0.4
    expected_z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert z == pytest.approx(expected_z)
    assert p_value == pytest.approx(2 * stats.norm.sf(abs(expected_z)))
    # the same single value on both sides: identical, not an error
    assert _run("z", _pair(pd.Series(["a"] * 5), pd.Series(["a"] * 9))) == (0.0, 1.0)


def test_verdict_directions() -> None:
    ks, wasserstein = get_stattest("ks"), get_stattest("wasserstein")
    assert ks.is_drift(0.2, 0.01, 0.05) and not ks.is_drift(0.1, 0.2, 0.05)
    assert wasserstein.is_drift(0.1, math.nan, 0.1)
    assert not wasserstein.is_drift(0.09, math.nan, 0.1)
    assert not ks.is_drift(math.nan, math.nan, 0.05)  # no score is never drift


def test_registry_lookup_lists_available_tests() -> None:
    names = [t.name for t in list_stattests()]
    assert {"ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", "kl_div"} <= set(names)
    assert {"hellinger", "anderson"} <= set(names)
    with pytest.raises(InvalidParameterError, match=r"Available: \[.*'ks'.*\]"):
        get_stattest("kolmogorov")


def test_register_custom_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("workbench.monitoring.stattests._registry", dict(_registry))

    def mean_shift(pair: ColumnPair) -> tuple[float, float]:
        shift = abs(pair.current.mean() - pair.reference.mean()) / pair.reference.std()
        return float(shift), math.nan

    test = StatTest("mean_shift", "Mean shift", ("numeric",), 0.5, "distance", mean_shift)
    register_stattest(test)
    assert get_stattest("mean_shift") is test
    with pytest.raises(InvalidParameterError, match="replace=True"):
        register_stattest(test)
    register_stattest(test, replace=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kinds", ("numbers",), "kinds"),
        ("kind", "score", "'p_value' or 'distance'"),
        ("default_threshold", "0.1", "a number"),
        ("func", None, "callable"),
    ],
)
def test_stattest_descriptor_is_validated(field: str, value: object, message: str) -> None:
    fields = {
        "name": "t",
        "display_name": "T",
        "kinds": ("numeric",),
        "default_threshold": 0.1,
        "kind": "distance",
        "func": lambda pair: (0.0, math.nan),
    }
    fields[field] = value
    with pytest.raises(InvalidParameterError, match=message):
        StatTest(**fields)  # type: ignore[arg-type]


def _many_categories(n_reference: int, n_current: int, seed: int) -> tuple[pd.Series, pd.Series]:
    """Two samples of one distribution over 230 categories (shares ~ 1/rank, like zip codes)."""
    rng = np.random.default_rng(seed)
    shares = 1.0 / np.arange(1, 231)
    shares /= shares.sum()
    labels = np.asarray([f"z{i:03d}" for i in range(230)], dtype=object)
    return (
        pd.Series(labels[rng.choice(230, n_reference, p=shares)]),
        pd.Series(labels[rng.choice(230, n_current, p=shares)]),
    )


def test_chisquare_with_tiny_expected_counts_is_flagged_and_the_contingency_test_is_offered() -> (
    None
):
    from workbench.monitoring import drift_report

    ref, cur = _many_categories(800, 800, seed=2)
    report = drift_report(ref.to_frame("zip"), cur.to_frame("zip"))
    row = report.columns.loc["zip"]
    # Evidently's rule and verdict are kept (comparability), but flagged as unreliable.
    assert row["test"] == "chisquare" and row["p_value"] == 0.0 and row["drifted"]
    assert row["status"] == "small_sample"
    assert "expected count of at least 5" in row["note"]
    assert "tests={'zip': 'chi2_contingency'}" in row["note"]
    assert report.warnings and report.warnings[0].startswith("zip: chi-square needs")
    assert "1 unreliable" in report.headline
    contingency = drift_report(
        ref.to_frame("zip"), cur.to_frame("zip"), tests={"zip": "chi2_contingency"}
    ).columns.loc["zip"]
    assert contingency["status"] == "ok" and not contingency["drifted"]
    assert contingency["p_value"] > 0.05


def test_chi2_contingency_equals_scipy_on_the_two_by_k_table(
    categorical: tuple[pd.Series, pd.Series],
) -> None:
    ref, cur = categorical
    statistic, p_value = _run("chi2_contingency", _pair(ref, cur))
    table = np.vstack(
        [ref.value_counts().sort_index().to_numpy(), cur.value_counts().sort_index().to_numpy()]
    )
    expected = stats.chi2_contingency(table)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
    binary = _pair(pd.Series(["a"] * 30 + ["b"] * 10), pd.Series(["a"] * 20 + ["b"] * 20))
    assert _run("chi2_contingency", binary)[1] == pytest.approx(
        stats.chi2_contingency([[30, 10], [20, 20]]).pvalue  # Yates' correction, as scipy
    )


def test_a_new_category_with_many_rows_is_drift_without_a_caveat() -> None:
    ref = pd.Series(["a"] * 300 + ["b"] * 300)
    cur = pd.Series(["a"] * 200 + ["b"] * 200 + ["c"] * 200)
    pair = _pair(ref, cur)
    assert _run("chisquare", pair) == (math.inf, 0.0)
    assert get_stattest("chisquare").caveat(pair, 0.05) == ""  # type: ignore[misc]


def test_jensenshannon_on_many_categories_and_few_rows_is_flagged() -> None:
    from workbench.monitoring import drift_report

    ref, cur = _many_categories(2000, 2000, seed=1)
    row = drift_report(ref.to_frame("zip"), cur.to_frame("zip")).columns.loc["zip"]
    assert row["test"] == "jensenshannon" and row["statistic"] > 0.1 and row["drifted"]
    assert row["status"] == "small_sample" and "values per side" in row["note"]
    ref, cur = _many_categories(20_000, 20_000, seed=1)
    row = drift_report(ref.to_frame("zip"), cur.to_frame("zip")).columns.loc["zip"]
    assert row["status"] == "ok" and not row["drifted"]


@pytest.mark.parametrize(("categories", "n"), [(8, 400), (50, 2000), (230, 2000)])
def test_the_small_sample_rule_matches_simulated_false_alarms(categories: int, n: int) -> None:
    """The caveat's 95th percentile of JS on identical distributions, chi2(k-1) * h / 8, is
    within 10 % of the one measured on 300 pairs of samples."""
    rng = np.random.default_rng(categories)
    shares = 1.0 / np.arange(1, categories + 1)
    shares /= shares.sum()
    values = []
    for _ in range(300):
        a, b = rng.choice(categories, n, p=shares), rng.choice(categories, n, p=shares)
        values.append(_run("jensenshannon", _pair(pd.Series(a), pd.Series(b), "categorical"))[0])
    measured = float(np.quantile(values, 0.95))
    bins = categories  # every category occurs in 2 x n draws here
    predicted = math.sqrt(stats.chi2.ppf(0.95, bins - 1) * (2 / n) / 8)
    assert measured == pytest.approx(predicted, rel=0.1)


def test_wasserstein_on_a_small_current_sample_is_flagged() -> None:
    rng = np.random.default_rng(5)
    small = _pair(pd.Series(rng.normal(size=5000)), pd.Series(rng.normal(size=100)))
    caveat = get_stattest("wasserstein").caveat
    assert caveat is not None
    assert "values per side" in caveat(small, 0.1)
    large = _pair(pd.Series(rng.normal(size=5000)), pd.Series(rng.normal(size=2000)))
    assert caveat(large, 0.1) == ""


@pytest.mark.parametrize("df", [*range(1, 60), 100, 229, 1000, 10_000, 100_000])
def test_the_scipy_free_chi2_quantile_bound_is_an_upper_bound(df: int) -> None:
    """Distance caveats skip importing scipy when even this bound says the verdict is reliable,
    so the bound must never be below the exact 95th percentile."""
    from workbench.monitoring.stattests import _chi2_quantile, _chi2_quantile_bound

    exact = _chi2_quantile(df)
    assert exact == pytest.approx(stats.chi2.ppf(0.95, df))
    assert exact <= _chi2_quantile_bound(df) <= 2.5 * exact + 10


def test_z_test_p_value_equals_scipy_in_both_tails() -> None:
    ref = pd.Series([0] * 480 + [1] * 20)
    for ones in (0, 5, 20, 40, 120, 400):
        cur = pd.Series([0] * (500 - ones) + [1] * ones)
        z, p_value = _run("z", _pair(ref, cur, "categorical"))
        assert p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12, abs=1e-300)
