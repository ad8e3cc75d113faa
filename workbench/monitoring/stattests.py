"""Drift statistical tests: a ``StatTest`` descriptor per test and a registry to look them up.

Each test is one small function on scipy/numpy that takes a :class:`ColumnPair` (the cleaned
reference and current values of one column, prepared once and shared by every test) and returns
``(statistic, p_value)``; distance tests return ``p_value = nan``. The descriptor says which
column kinds the test applies to, its default threshold, and how the threshold is read:

* ``kind="p_value"``: drift when ``p_value < threshold`` (hypothesis tests);
* ``kind="distance"``: drift when ``statistic >= threshold`` (distances and divergences).

A test may also say when its verdict cannot be trusted on the data at hand (``caveat``): the
chi-square goodness-of-fit test when expected counts are below 5, the z-test when a side has
fewer than 5 of either value, distances when samples are so small that identical distributions
would exceed the threshold in more than 5 % of samples. The column's status is then
``small_sample`` and its note says what to do; the verdict is kept (so it still agrees with
Evidently's).

scipy submodules are imported inside the tests that use them, and the default tests at scale
(Wasserstein, Jensen-Shannon) and the z-test need no scipy at all (numpy and :mod:`math`, the
same formulas), so the first report in a process on more than 1,000 reference rows imports no
scipy (``scipy.special`` alone takes ~0.3 s to import, ``scipy.stats`` ~1 s). The small-sample
defaults (K-S, chi-square) import ``scipy.stats`` on their first use.

The statistics follow Evidently's legacy implementations (``evidently.legacy.calculations.
stattests``) so verdicts agree with it: the same normalisation of the Wasserstein distance, the
same binning for PSI / KL / Jensen-Shannon / Hellinger, the same zero-filling. Add a test with
:func:`register_stattest`::

    from workbench.monitoring import StatTest, register_stattest

    def _mean_shift(pair):
        shift = abs(pair.current.mean() - pair.reference.mean()) / max(pair.reference.std(), 1e-3)
        return float(shift), float("nan")

    register_stattest(StatTest("mean_shift", "Mean shift (in std)", ("numeric",), 0.5,
                               "distance", _mean_shift))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from workbench import _validation as v
from workbench.monitoring._columns import ColumnPair

__all__ = [
    "ColumnPair",
    "StatTest",
    "get_stattest",
    "list_stattests",
    "register_stattest",
]

ColumnKind = Literal["numeric", "categorical", "binary"]
StatFunc = Callable[[ColumnPair], tuple[float, float]]
CaveatFunc = Callable[[ColumnPair, float], str]
_KINDS = ("numeric", "categorical", "binary")
_NAN = float("nan")
#: Smallest expected count per category for the chi-square approximation (Cochran's rule, as
#: scipy.stats.chisquare's documentation gives it).
MIN_EXPECTED = 5
#: The false-alarm rate a distance threshold may have on identical distributions before the
#: verdict is flagged ``small_sample``.
FALSE_ALARM = 0.05
#: 95th percentile of W1 / std * sqrt(1 / (1/n_ref + 1/n_cur)) on two samples of one
#: distribution (scipy.stats.wasserstein_distance, 300 pairs per case and sizes from 100 to
#: 100,000: normal 1.99-2.17, uniform 2.02-2.07, exponential 2.10-2.21, lognormal 2.06-2.36).
WASSERSTEIN_NOISE_95 = 2.2


@dataclass(frozen=True)
class StatTest:
    """A registered drift test.

    Parameters
    ----------
    name
        Registry name (``"ks"``, ``"wasserstein"``, ...), used in ``tests=`` arguments.
    display_name
        Human-readable name for tables and reports.
    kinds
        Column kinds the test applies to: ``"numeric"``, ``"categorical"`` (also numeric
        columns with at most 5 distinct values), ``"binary"`` (at most 2 distinct values).
    default_threshold
        Threshold used when the caller gives none.
    kind
        ``"p_value"`` (drift when p < threshold) or ``"distance"`` (drift when statistic >=
        threshold).
    func
        ``func(pair) -> (statistic, p_value)``; ``p_value`` is NaN for distance tests.
    caveat
        Optional ``caveat(pair, threshold) -> note``: a non-empty note when the verdict is not
        reliable on this data (too few rows, too small expected counts) saying what to do.
    """

    name: str
    display_name: str
    kinds: tuple[str, ...]
    default_threshold: float
    kind: Literal["p_value", "distance"]
    func: StatFunc
    caveat: CaveatFunc | None = None

    def __post_init__(self) -> None:
        caller = "StatTest"
        v.check_key(self.name, caller, name="name")
        if not self.kinds or any(k not in _KINDS for k in self.kinds):
            raise v.fail(
                "kinds", caller, f"a non-empty tuple drawn from {list(_KINDS)}", self.kinds
            )
        if self.kind not in ("p_value", "distance"):
            raise v.fail("kind", caller, "'p_value' or 'distance'", self.kind)
        threshold = self.default_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise v.fail("default_threshold", caller, "a number", threshold)
        if not callable(self.func):
            raise v.fail("func", caller, "a callable taking a ColumnPair", self.func)
        if self.caveat is not None and not callable(self.caveat):
            raise v.fail(
                "caveat", caller, "None or a callable (pair, threshold) -> str", self.caveat
            )

    def is_drift(self, statistic: float, p_value: float, threshold: float) -> bool:
        """The verdict for a result at ``threshold`` (NaN scores are never drift)."""
        if self.kind == "p_value":
            return bool(p_value < threshold)
        return bool(statistic >= threshold)

    def score(self, statistic: float, p_value: float) -> float:
        """The number the threshold is compared with: the p-value or the distance."""
        return p_value if self.kind == "p_value" else statistic

    def applies_to(self, column_kinds: frozenset[str]) -> bool:
        """Whether the test can run on a column of these kinds."""
        return bool(column_kinds.intersection(self.kinds))


_registry: dict[str, StatTest] = {}


def register_stattest(test: StatTest, *, replace: bool = False) -> StatTest:
    """Add a test to the registry (``replace=True`` to override one of the same name)."""
    if not isinstance(test, StatTest):
        raise v.fail("test", "register_stattest", "a StatTest", test)
    if test.name in _registry and not replace:
        raise v.fail(
            "test",
            "register_stattest",
            "a StatTest with a new name",
            test.name,
            "Pass replace=True to override the registered one.",
        )
    _registry[test.name] = test
    return test


def get_stattest(name: str | StatTest) -> StatTest:
    """The registered test called ``name`` (a ``StatTest`` is returned as is)."""
    if isinstance(name, StatTest):
        return name
    test = _registry.get(name) if isinstance(name, str) else None
    if test is None:
        raise v.fail(
            "test",
            "get_stattest",
            "the name of a registered drift test",
            name,
            f"Available: {sorted(_registry)}.",
        )
    return test


def list_stattests() -> list[StatTest]:
    """Every registered test, by name."""
    return [_registry[name] for name in sorted(_registry)]


# -- the tests ------------------------------------------------------------------------------


def _ks(pair: ColumnPair) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov (scipy.stats.ks_2samp)."""
    from scipy import stats

    result = stats.ks_2samp(pair.reference, pair.current)
    return float(result.statistic), float(result.pvalue)


def _chisquare(pair: ColumnPair) -> tuple[float, float]:
    """Pearson chi-square of current counts against reference shares scaled to current size.

    As Evidently: expected = reference count * n_current / n_reference per category of the union.
    A category absent from the reference but present now gives an infinite statistic (p = 0).
    """
    ref, cur = pair.aligned_counts()
    if ref.size < 2:
        return 0.0, 1.0  # one category on both sides: identical distributions
    expected = ref * (cur.sum() / ref.sum())
    if np.any(expected == 0):
        return math.inf, 0.0
    from scipy import stats

    result = stats.chisquare(cur, expected)
    return float(result.statistic), float(result.pvalue)


def _z(pair: ColumnPair) -> tuple[float, float]:
    """Two-proportion z-test on a binary column (share of values other than the first)."""
    ref, cur = pair.aligned_counts()
    if ref.size > 2:
        raise ValueError(f"the z-test needs at most 2 distinct values, got {ref.size}")
    n1, n2 = float(ref.sum()), float(cur.sum())
    p1, p2 = float(ref[1:].sum()) / n1, float(cur[1:].sum()) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:
        return 0.0, 1.0  # both samples are the same single value
    z = (p1 - p2) / math.sqrt(variance)
    # Two-sided normal tail 2 * norm.sf(|z|) = erfc(|z| / sqrt(2)): no scipy import for it.
    return z, math.erfc(abs(z) / math.sqrt(2.0))


def _wasserstein(pair: ColumnPair) -> tuple[float, float]:
    """Wasserstein-1 distance divided by the reference std (at least 0.001), as Evidently."""
    norm = max(float(np.std(pair.reference)), 0.001)
    return pair.wasserstein() / norm, _NAN


def _jensenshannon(pair: ColumnPair) -> tuple[float, float]:
    """Jensen-Shannon distance (natural log) between binned / category shares.

    Computed as ``scipy.spatial.distance.jensenshannon`` computes it (``rel_entr`` against the
    mixture, halved, square root), in numpy so that no scipy package is imported for it.
    """
    ref, cur = pair.binned_shares(fill_zeros=False)
    p, q = ref / ref.sum(), cur / cur.sum()
    m = (p + q) / 2.0
    divergence = float(np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m)))
    return math.sqrt(max(divergence, 0.0) / 2.0), _NAN


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``scipy.special.rel_entr`` for shares: ``x * log(x / y)`` where ``x > 0``, else 0 (``y``
    is the mixture, so it is positive wherever ``x`` is)."""
    ratio = np.divide(x, y, out=np.ones_like(x), where=x > 0)
    terms: np.ndarray = x * np.log(ratio)
    return terms


def _psi(pair: ColumnPair) -> tuple[float, float]:
    """Population stability index over binned / category shares (empty bins filled)."""
    ref, cur = pair.binned_shares(fill_zeros=True)
    return float(np.sum((ref - cur) * np.log(ref / cur))), _NAN


def _kl_div(pair: ColumnPair) -> tuple[float, float]:
    """Kullback-Leibler divergence KL(reference || current) over binned shares."""
    from scipy import stats

    ref, cur = pair.binned_shares(fill_zeros=True)
    return float(stats.entropy(ref, cur)), _NAN


def _hellinger(pair: ColumnPair) -> tuple[float, float]:
    """Hellinger distance: category shares, or Sturges-binned densities over distinct values."""
    if pair.kind == "numeric":
        ref, cur, width = pair.hellinger_densities()
        overlap = float(np.sum(np.sqrt(ref * cur)) * width)
    else:
        ref_counts, cur_counts = pair.aligned_counts()
        overlap = float(
            np.sum(np.sqrt(ref_counts / ref_counts.sum() * cur_counts / cur_counts.sum()))
        )
    return math.sqrt(1.0 - min(max(overlap, 0.0), 1.0)), _NAN


def _anderson(pair: ColumnPair) -> tuple[float, float]:
    """k-sample Anderson-Darling (midrank); scipy caps the p-value to [0.001, 0.25]."""
    if pair.count_distinct(1) < 2:
        return _NAN, 1.0  # no distinct observations: nothing can differ
    from scipy import stats

    with warnings.catch_warnings():
        # The cap/floor notice is part of the documented behaviour (Evidently reads the same
        # capped value); silence only it, locally.
        warnings.filterwarnings("ignore", message="p-value (capped|floored)", category=UserWarning)
        try:
            result = stats.anderson_ksamp([pair.reference, pair.current], variant="midrank")
        except TypeError:  # scipy < 1.17 has no `variant`; midrank is its default
            result = stats.anderson_ksamp([pair.reference, pair.current])
    return float(result.statistic), float(result.pvalue)


def _chi2_contingency(pair: ColumnPair) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table of counts (both sides are samples):
    ``scipy.stats.chi2_contingency``, with scipy's continuity correction for 2 categories.

    Unlike ``chisquare`` (reference shares taken as the truth), a category seen on one side
    only is evidence in proportion to its count, so small samples of many categories do not
    alarm on identical distributions.
    """
    ref, cur = pair.aligned_counts()
    if ref.size < 2:
        return 0.0, 1.0  # one category on both sides: identical distributions
    from scipy import stats

    result = stats.chi2_contingency(np.vstack([ref, cur]))
    return float(result.statistic), float(result.pvalue)


# -- when a verdict cannot be trusted ----------------------------------------------------------


def _sizes(pair: ColumnPair) -> float:
    """``1/n_reference + 1/n_current``: the sampling noise of a two-sample statistic scales
    with it (its inverse is the effective sample size)."""
    return 1.0 / pair.reference.size + 1.0 / pair.current.size


def _rows_needed(h_max: float, pair: ColumnPair) -> int:
    """Rows per side, at the current reference/current ratio, for 1/n_ref + 1/n_cur <= h_max."""
    ratio = pair.current.size / pair.reference.size
    return math.ceil((1.0 + 1.0 / ratio) / h_max) if h_max > 0 else 0


def _chi2_quantile(df: int) -> float:
    """The 95th percentile of the chi-square distribution with ``df`` degrees of freedom."""
    from scipy import special

    return float(special.chdtri(df, FALSE_ALARM))


def _chi2_quantile_bound(df: int) -> float:
    """An upper bound of :func:`_chi2_quantile` without scipy (Laurent & Massart 2000, lemma 1:
    ``P(X - df >= 2 sqrt(df x) + 2 x) <= exp(-x)``, here with ``exp(-x) = FALSE_ALARM``)."""
    x = math.log(1.0 / FALSE_ALARM)
    return df + 2.0 * math.sqrt(df * x) + 2.0 * x


def _chisquare_caveat(pair: ColumnPair, threshold: float) -> str:
    """Expected counts below 5 make the goodness-of-fit p-value unreliable; it matters when a
    two-sample test of homogeneity on the same counts reaches the other verdict."""
    ref, cur = pair.aligned_counts()
    if ref.size < 2:
        return ""
    expected = ref * (cur.sum() / ref.sum())
    low = int(np.count_nonzero(expected < MIN_EXPECTED))
    if not low:
        return ""
    _, p_value = _chisquare(pair)
    _, p_homogeneity = _chi2_contingency(pair)
    if (p_value < threshold) == (p_homogeneity < threshold):
        return ""
    absent = int(np.count_nonzero((ref == 0) & (cur > 0)))
    unseen = (
        f"; {absent} categories of the current data never occur in the reference, which alone "
        "gives p = 0"
        if absent
        else ""
    )
    return (
        f"chi-square needs an expected count of at least {MIN_EXPECTED} per category: {low} of "
        f"{ref.size} categories have less{unseen}. The p-value is unreliable: a two-sample test "
        f"of homogeneity on the same counts gives p = {p_homogeneity:.3g}. Use "
        f"tests={{{pair.name!r}: 'chi2_contingency'}}, more rows, or group rare categories."
    )


def _z_caveat(pair: ColumnPair, threshold: float) -> str:
    """The z-test's normal approximation needs n * p >= 5 and n * (1 - p) >= 5 on each side,
    with p the pooled share (its expected counts under no drift)."""
    ref, cur = pair.aligned_counts()
    if ref.size < 2:
        return ""
    pooled = float(ref[1:].sum() + cur[1:].sum()) / float(ref.sum() + cur.sum())
    smallest = min(float(ref.sum()), float(cur.sum())) * min(pooled, 1.0 - pooled)
    if smallest >= MIN_EXPECTED:
        return ""
    return (
        f"the z-test's normal approximation needs an expected count of at least {MIN_EXPECTED} "
        f"of each value on each side; the smallest is {smallest:.3g}. The p-value is "
        "unreliable: with so few of one value, chance alone decides. Use more rows."
    )


def _binned_caveat(scale: float, power: float, display: str) -> CaveatFunc:
    """Caveat of a divergence between binned shares. On identical distributions such a
    divergence is about ``scale * chi2(k - 1) * h`` (``h = 1/n_ref + 1/n_cur``, ``k`` bins),
    raised to ``power`` for distances (JS and Hellinger: square root of chi2 * h / 8; PSI:
    chi2 * h; KL: chi2 * h / 2): measured against simulations in docs/monitoring.md."""

    def caveat(pair: ColumnPair, threshold: float) -> str:
        ref, _ = pair.binned_shares(fill_zeros=False)
        bins = int(ref.size)
        if bins < 2 or threshold <= 0:
            return ""
        if (scale * _chi2_quantile_bound(bins - 1) * _sizes(pair)) ** power < threshold:
            return ""  # reliable even at the bound: no need to import scipy for the quantile
        quantile = _chi2_quantile(bins - 1)
        noise = (scale * quantile * _sizes(pair)) ** power
        if noise < threshold:
            return ""
        needed = _rows_needed(threshold ** (1.0 / power) / (scale * quantile), pair)
        return (
            f"with {pair.reference.size:,} reference and {pair.current.size:,} current values "
            f"over {bins} {'categories' if pair.kind == 'categorical' else 'bins'}, {display} "
            f"reaches {noise:.3f} (threshold {threshold:g}) in 5 % of samples of identical "
            f"distributions: the verdict is unreliable. Use at least about {needed:,} values "
            "per side (at this ratio), group rare categories, or "
            f"tests={{{pair.name!r}: 'chi2_contingency'}}."
        )

    return caveat


def _wasserstein_caveat(pair: ColumnPair, threshold: float) -> str:
    noise = WASSERSTEIN_NOISE_95 * math.sqrt(_sizes(pair))
    if noise < threshold or threshold <= 0:
        return ""
    needed = _rows_needed((threshold / WASSERSTEIN_NOISE_95) ** 2, pair)
    return (
        f"with {pair.reference.size:,} reference and {pair.current.size:,} current values, the "
        f"normed Wasserstein distance of identical distributions reaches about {noise:.3f} "
        f"(threshold {threshold:g}) in 5 % of samples: the verdict is unreliable. Use at least "
        f"about {needed:,} values per side (at this ratio), or tests={{{pair.name!r}: 'ks'}}."
    )


for _test in (
    StatTest("ks", "K-S p-value", ("numeric",), 0.05, "p_value", _ks),
    StatTest(
        "chisquare",
        "chi-square p-value",
        ("categorical",),
        0.05,
        "p_value",
        _chisquare,
        _chisquare_caveat,
    ),
    StatTest(
        "chi2_contingency",
        "chi-square homogeneity p-value",
        ("categorical",),
        0.05,
        "p_value",
        _chi2_contingency,
    ),
    StatTest("z", "Z-test p-value", ("binary",), 0.05, "p_value", _z, _z_caveat),
    StatTest(
        "wasserstein",
        "Wasserstein distance (normed)",
        ("numeric",),
        0.1,
        "distance",
        _wasserstein,
        _wasserstein_caveat,
    ),
    StatTest(
        "jensenshannon",
        "Jensen-Shannon distance",
        ("numeric", "categorical"),
        0.1,
        "distance",
        _jensenshannon,
        _binned_caveat(1 / 8, 0.5, "the Jensen-Shannon distance"),
    ),
    StatTest(
        "psi",
        "PSI",
        ("numeric", "categorical"),
        0.1,
        "distance",
        _psi,
        _binned_caveat(1.0, 1.0, "PSI"),
    ),
    StatTest(
        "kl_div",
        "Kullback-Leibler divergence",
        ("numeric", "categorical"),
        0.1,
        "distance",
        _kl_div,
        _binned_caveat(1 / 2, 1.0, "the Kullback-Leibler divergence"),
    ),
    StatTest(
        "hellinger",
        "Hellinger distance",
        ("numeric", "categorical"),
        0.1,
        "distance",
        _hellinger,
        _binned_caveat(1 / 8, 0.5, "the Hellinger distance"),
    ),
    StatTest("anderson", "Anderson-Darling p-value", ("numeric",), 0.1, "p_value", _anderson),
):
    register_stattest(_test)
