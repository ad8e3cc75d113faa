"""Drift statistical tests: a ``StatTest`` descriptor per test and a registry to look them up.

Each test is one small function on scipy/numpy that takes a :class:`ColumnPair` (the cleaned
reference and current values of one column, prepared once and shared by every test) and returns
``(statistic, p_value)``; distance tests return ``p_value = nan``. The descriptor says which
column kinds the test applies to, its default threshold, and how the threshold is read:

* ``kind="p_value"``: drift when ``p_value < threshold`` (hypothesis tests);
* ``kind="distance"``: drift when ``statistic >= threshold`` (distances and divergences).

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
_KINDS = ("numeric", "categorical", "binary")
_NAN = float("nan")


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
    """

    name: str
    display_name: str
    kinds: tuple[str, ...]
    default_threshold: float
    kind: Literal["p_value", "distance"]
    func: StatFunc

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
    from scipy import stats

    return z, float(2.0 * stats.norm.sf(abs(z)))


def _wasserstein(pair: ColumnPair) -> tuple[float, float]:
    """Wasserstein-1 distance divided by the reference std (at least 0.001), as Evidently."""
    norm = max(float(np.std(pair.reference)), 0.001)
    return pair.wasserstein() / norm, _NAN


def _jensenshannon(pair: ColumnPair) -> tuple[float, float]:
    """Jensen-Shannon distance (natural log) between binned / category shares."""
    from scipy.spatial import distance

    ref, cur = pair.binned_shares(fill_zeros=False)
    return float(distance.jensenshannon(ref, cur)), _NAN


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


for _test in (
    StatTest("ks", "K-S p-value", ("numeric",), 0.05, "p_value", _ks),
    StatTest("chisquare", "chi-square p-value", ("categorical",), 0.05, "p_value", _chisquare),
    StatTest("z", "Z-test p-value", ("binary",), 0.05, "p_value", _z),
    StatTest(
        "wasserstein", "Wasserstein distance (normed)", ("numeric",), 0.1, "distance", _wasserstein
    ),
    StatTest(
        "jensenshannon",
        "Jensen-Shannon distance",
        ("numeric", "categorical"),
        0.1,
        "distance",
        _jensenshannon,
    ),
    StatTest("psi", "PSI", ("numeric", "categorical"), 0.1, "distance", _psi),
    StatTest(
        "kl_div",
        "Kullback-Leibler divergence",
        ("numeric", "categorical"),
        0.1,
        "distance",
        _kl_div,
    ),
    StatTest(
        "hellinger", "Hellinger distance", ("numeric", "categorical"), 0.1, "distance", _hellinger
    ),
    StatTest("anderson", "Anderson-Darling p-value", ("numeric",), 0.1, "p_value", _anderson),
):
    register_stattest(_test)
