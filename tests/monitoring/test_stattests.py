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
