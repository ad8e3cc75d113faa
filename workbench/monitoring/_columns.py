"""Column preparation for drift tests: kind inference, cleaning, encoding, and the shared pair.

Every column is prepared once per side: missing values (NaN, None, +-inf) are dropped, numeric
values are sorted (one ``np.sort`` per side), categorical values become integer codes into one
sorted list of categories shared by both sides. Every statistic, bin count and plot is then
derived from those arrays, never from pandas objects.

Kind inference follows Evidently 0.7 (``evidently.core.datasets.infer_column_type``) so that the
default test choice agrees with it: float columns are numeric; integer columns are categorical
with at most 10 distinct values, numeric otherwise; strings, booleans and pandas categoricals are
categorical, except strings with more distinct values than half the rows (free text or ids,
which are not tested unless the caller forces a kind); datetimes are not tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench._columns import column_kind

__all__ = [
    "ColumnPair",
    "Skipped",
    "column_family",
    "infer_kind",
    "label_of",
    "missing_shares",
    "prepare_column",
]

INTEGER_CARDINALITY_LIMIT = 10  # Evidently: int columns with <= 10 distinct values are categorical
TEXT_UNIQUE_SHARE = 0.5  # Evidently: strings with > 50 % distinct values are text
LOW_CARDINALITY = 5  # numeric columns with <= 5 distinct values also take categorical tests
BINARY = 2
PLOT_BINS = 30
PLOT_TOP_CATEGORIES = 20
_NUMERIC_KINDS = {"integer": "numeric", "float": "numeric"}


@dataclass(frozen=True)
class Skipped:
    """A column that could not be tested, with the reason in words."""

    name: str
    kind: str
    status: str
    note: str
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float


def column_family(series: pd.Series) -> str:
    """What the values are: ``numeric``, ``boolean``, ``string``, ``category``, ``datetime``,
    ``mixed`` or ``empty`` (no non-missing value): :func:`workbench._columns.column_kind`, with
    integers and floats together as ``numeric``."""
    kind = column_kind(series)
    return _NUMERIC_KINDS.get(kind, kind)


def infer_kind(series: pd.Series, family: str) -> str:
    """``numeric``, ``categorical``, ``text`` or ``datetime`` for a column of ``family``."""
    if family == "numeric":
        if pd.api.types.is_integer_dtype(series.dtype):
            return "categorical" if series.nunique() <= INTEGER_CARDINALITY_LIMIT else "numeric"
        return "numeric"
    if family == "datetime":
        return "datetime"
    if family in ("string", "mixed") and series.nunique() > series.count() * TEXT_UNIQUE_SHARE:
        return "text"
    return "categorical"


def _float_values(series: pd.Series) -> np.ndarray:
    """Finite values as float64 (numbers stored as objects are converted), sorted."""
    if series.dtype == object:
        series = pd.to_numeric(series, errors="coerce")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    values.sort()
    return values


def _codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the non-missing values and the distinct values they index."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        used = np.unique(codes[codes >= 0])
        remap = np.full(len(series.cat.categories), -1, dtype=np.int64)
        remap[used] = np.arange(used.size)
        return remap[codes[codes >= 0]], np.asarray(series.cat.categories[used], dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes[codes >= 0], np.asarray(uniques, dtype=object)


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (bool, np.bool_)):
        return (0, int(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (1, float(value))
    return (2, str(value))


def _align_codes(
    ref: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-code both sides into one sorted list of categories."""
    ref_codes, ref_uniques = ref
    cur_codes, cur_uniques = cur
    labels = pd.Index(ref_uniques, dtype=object).append(pd.Index(cur_uniques, dtype=object))
    labels = labels.unique()
    order = sorted(range(len(labels)), key=lambda i: _sort_key(labels[i]))
    categories = np.asarray([labels[i] for i in order], dtype=object)
    position = np.empty(len(labels), dtype=np.int64)
    position[order] = np.arange(len(labels))
    ref_map = position[labels.get_indexer(pd.Index(ref_uniques, dtype=object))]
    cur_map = position[labels.get_indexer(pd.Index(cur_uniques, dtype=object))]
    return ref_map[ref_codes], cur_map[cur_codes], categories


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _counts_sorted(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """How often each of ``keys`` (sorted, distinct) occurs in sorted ``values``."""
    left = np.searchsorted(values, keys, side="left")
    right = np.searchsorted(values, keys, side="right")
    return (right - left).astype(np.float64)


def _histogram_sorted(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` for sorted values: [e_i, e_i+1), last bin closed."""
    positions = np.searchsorted(values, edges, side="left")
    positions[-1] = np.searchsorted(values, edges[-1], side="right")
    return np.diff(positions).astype(np.float64)


def _sturges_edges(low: float, high: float, n: int) -> np.ndarray:
    """``np.histogram_bin_edges(x, bins="sturges")`` for data with this min, max and size."""
    if low == high:
        low, high = low - 0.5, high + 0.5
        return np.linspace(low, high, 2)
    width = (high - low) / (math.log2(n) + 1.0)
    n_bins = math.ceil((high - low) / width) if width else 1
    return np.linspace(low, high, n_bins + 1, endpoint=True)


def _fill_zeros(shares: np.ndarray) -> np.ndarray:
    """Evidently's zero filling for PSI/KL: empty bins get a tiny share."""
    nonzero = shares[shares != 0]
    if nonzero.size == 0:
        return shares
    smallest = float(nonzero.min())
    filler = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(shares == 0, filler, shares)


class ColumnPair:
    """The cleaned reference and current values of one column, shared by every drift test.

    For ``kind == "numeric"``, ``reference`` and ``current`` are the sorted finite values
    (float64). For ``kind == "categorical"``, they are integer codes into ``categories`` (sorted
    distinct values of both sides). Derived quantities are computed on first use and cached.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        reference: np.ndarray,
        current: np.ndarray,
        categories: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.reference = reference
        self.current = current
        self.categories = categories

    def __repr__(self) -> str:
        return (
            f"ColumnPair(name={self.name!r}, kind={self.kind!r}, "
            f"n_reference={self.reference.size}, n_current={self.current.size})"
        )

    # -- distinct values ----------------------------------------------------------------------
    @cached_property
    def _distinct(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "numeric":
            return _distinct_sorted(self.reference), _distinct_sorted(self.current)
        size = 0 if self.categories is None else len(self.categories)
        ref = np.flatnonzero(np.bincount(self.reference, minlength=size))
        cur = np.flatnonzero(np.bincount(self.current, minlength=size))
        return ref, cur

    @property
    def reference_n_unique(self) -> int:
        """Distinct values in the reference."""
        return int(self._distinct[0].size)

    @cached_property
    def n_unique(self) -> int:
        """Distinct values over both sides."""
        return int(self.distinct_values.size)

    def count_distinct(self, cap: int) -> int:
        """Distinct values over both sides, or ``cap + 1`` if there are more than ``cap``;
        cheap for columns with many values (no merge of the two sides)."""
        ref, cur = self._distinct
        if ref.size > cap or cur.size > cap:
            return cap + 1
        return min(self.n_unique, cap + 1)

    @cached_property
    def distinct_values(self) -> np.ndarray:
        """Sorted distinct values (numeric) or category indices (categorical) of both sides."""
        ref, cur = self._distinct
        return np.union1d(ref, cur)

    @property
    def column_kinds(self) -> frozenset[str]:
        """The kinds of tests that apply: the column's kind, plus ``categorical`` for numeric
        columns with at most 5 distinct values, plus ``binary`` for at most 2."""
        kinds = {self.kind}
        n_unique = self.count_distinct(LOW_CARDINALITY)
        if n_unique <= LOW_CARDINALITY:
            kinds.add("categorical")
        if n_unique <= BINARY:
            kinds.add("binary")
        return frozenset(kinds)

    # -- frequencies --------------------------------------------------------------------------
    @cached_property
    def _aligned_counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "numeric":
            keys = self.distinct_values
            return _counts_sorted(self.reference, keys), _counts_sorted(self.current, keys)
        size = 0 if self.categories is None else len(self.categories)
        ref = np.bincount(self.reference, minlength=size).astype(np.float64)
        cur = np.bincount(self.current, minlength=size).astype(np.float64)
        present = (ref > 0) | (cur > 0)
        return ref[present], cur[present]

    def aligned_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Counts per distinct value of both sides, aligned, in sorted value order."""
        return self._aligned_counts

    def binned_shares(self, *, fill_zeros: bool) -> tuple[np.ndarray, np.ndarray]:
        """Shares per bin as Evidently's ``get_binned_data``: Sturges bins over both sides for
        numeric columns with more than 20 distinct reference values, else shares per value."""
        if self.kind == "numeric" and self.reference_n_unique > 20:
            ref_counts, cur_counts = self._sturges_counts
        else:
            ref_counts, cur_counts = self.aligned_counts()
        ref = ref_counts / self.reference.size
        cur = cur_counts / self.current.size
        if fill_zeros:
            return _fill_zeros(ref), _fill_zeros(cur)
        return ref, cur

    @cached_property
    def _sturges_counts(self) -> tuple[np.ndarray, np.ndarray]:
        low = min(self.reference[0], self.current[0])
        high = max(self.reference[-1], self.current[-1])
        edges = _sturges_edges(float(low), float(high), self.reference.size + self.current.size)
        return _histogram_sorted(self.reference, edges), _histogram_sorted(self.current, edges)

    def hellinger_densities(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Densities on Sturges bins built over the distinct values (Evidently's Hellinger)."""
        keys = self.distinct_values
        edges = _sturges_edges(float(keys[0]), float(keys[-1]), keys.size)
        widths = np.diff(edges)
        ref = _histogram_sorted(self.reference, edges)
        cur = _histogram_sorted(self.current, edges)
        bin_width = float(edges[-1] - edges[0]) / (edges.size - 1)
        return ref / widths / ref.sum(), cur / widths / cur.sum(), bin_width

    # -- distances on sorted values ----------------------------------------------------------
    def wasserstein(self) -> float:
        """Wasserstein-1 distance between the two samples (equal to
        ``scipy.stats.wasserstein_distance``), from the sorted values without re-sorting.

        W1 is the integral over t in [0, 1] of |Q_ref(t) - Q_cur(t)|; both quantile functions
        are steps at multiples of 1/n, so the integral is a sum over the merged steps.
        """
        u, w = self.reference, self.current
        nu, nw = u.size, w.size
        if nu == nw:
            return float(np.mean(np.abs(u - w)))
        gcd = math.gcd(nu, nw)
        step_u, step_w = nw // gcd, nu // gcd  # steps on a common integer grid of length L
        length = nu * step_u
        starts = np.concatenate(
            [np.arange(nu, dtype=np.int64) * step_u, np.arange(nw, dtype=np.int64) * step_w]
        )
        starts.sort()
        starts = _distinct_sorted(starts)
        widths = np.diff(starts, append=length).astype(np.float64)
        gaps = u[starts // step_u]
        gaps -= w[starts // step_w]
        np.abs(gaps, out=gaps)
        return float(np.dot(widths, gaps)) / length

    # -- plots --------------------------------------------------------------------------------
    def distribution(self) -> dict[str, Any]:
        """Binned shares of both sides for plots (never raw rows): numeric columns on 30 equal
        bins over the 0.5-99.5 % range (outliers counted in the end bins), categorical columns
        as the 20 most frequent values plus ``(other)``."""
        if self.kind == "numeric":
            return self._numeric_distribution()
        ref, cur = self.aligned_counts()
        labels = [label_of(c) for c in self._present_categories()]
        order = np.argsort(-(ref / ref.sum() + cur / cur.sum()), kind="stable")
        top = order[:PLOT_TOP_CATEGORIES]
        rest = order[PLOT_TOP_CATEGORIES:]
        ref_shares = [float(x) for x in ref[top] / ref.sum()]
        cur_shares = [float(x) for x in cur[top] / cur.sum()]
        names = [labels[i] for i in top]
        if rest.size:
            names.append("(other)")
            ref_shares.append(float(ref[rest].sum() / ref.sum()))
            cur_shares.append(float(cur[rest].sum() / cur.sum()))
        return {
            "type": "categorical",
            "labels": names,
            "reference": ref_shares,
            "current": cur_shares,
        }

    def _present_categories(self) -> list[Any]:
        if self.kind == "numeric":
            return [float(x) for x in self.distinct_values]
        assert self.categories is not None
        ref = np.bincount(self.reference, minlength=len(self.categories))
        cur = np.bincount(self.current, minlength=len(self.categories))
        return [c for c, r, k in zip(self.categories, ref, cur, strict=True) if r or k]

    def _numeric_distribution(self) -> dict[str, Any]:
        u, w = self.reference, self.current

        def quantile(values: np.ndarray, q: float) -> float:
            return float(values[min(int(q * values.size), values.size - 1)])

        low = min(quantile(u, 0.005), quantile(w, 0.005))
        high = max(quantile(u, 0.995), quantile(w, 0.995))
        if low == high:
            low, high = float(min(u[0], w[0])), float(max(u[-1], w[-1]))
        if low == high:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, PLOT_BINS + 1)
        inner = edges.copy()
        inner[0], inner[-1] = -np.inf, np.inf  # outliers fall into the end bins
        ref = _histogram_sorted(u, inner) / u.size
        cur = _histogram_sorted(w, inner) / w.size
        return {
            "type": "numeric",
            "edges": [float(x) for x in edges],
            "reference": [float(x) for x in ref],
            "current": [float(x) for x in cur],
            "outliers": bool(u[0] < low or w[0] < low or u[-1] > high or w[-1] > high),
        }


def label_of(value: Any) -> str:
    """A category as text: integral floats without the ``.0``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _missing_share(series: pd.Series | None, n_valid: int) -> float:
    if series is None or len(series) == 0:
        return 0.0
    return 1.0 - n_valid / len(series)


def prepare_column(
    name: str,
    reference: pd.Series | None,
    current: pd.Series | None,
    kind: str | None = None,
) -> tuple[ColumnPair | Skipped, str, str]:
    """Clean and encode one column; returns ``(pair or skipped, status, note)``.

    Statuses: ``ok``; ``constant`` (tested; one value in the reference); ``mixed_types``
    (tested as categories); ``missing_in_reference`` / ``missing_in_current`` / ``missing``
    (in neither); ``empty``
    (no non-missing value on a side); ``type_mismatch`` (numbers on one side, text on the
    other); ``unsupported`` (datetimes, free text or ids).
    """
    if reference is None or current is None:
        present = current if reference is None else reference
        if present is None:
            note = f"Column {name!r} is in neither the reference nor the current data."
            skipped = Skipped(name, kind or "unknown", "missing", note, 0, 0, 0.0, 0.0)
            return skipped, "missing", note
        side = "reference" if reference is None else "current"
        counts = (0, int(present.count())) if reference is None else (int(present.count()), 0)
        family = column_family(present)
        guess = kind or ("unknown" if family == "empty" else infer_kind(present, family))
        note = f"Column {name!r} is not in the {side} data."
        skipped = Skipped(name, guess, f"missing_in_{side}", note, *counts, 0.0, 0.0)
        return skipped, skipped.status, note
    ref_family, cur_family = column_family(reference), column_family(current)
    sides = (("reference", ref_family, reference), ("current", cur_family, current))
    for side, family, series in sides:
        if family == "empty":
            what = "empty" if len(series) == 0 else "all missing"
            note = f"The {side} column is {what}."
            return _skip(name, kind or "unknown", "empty", note, reference, current)
    if kind is None:
        kind = infer_kind(reference, ref_family)
    if kind == "datetime":
        note = "Datetime columns are not tested for drift."
        return _skip(name, kind, "unsupported", note, reference, current)
    if kind == "text":
        note = (
            f"Looks like free text or an id ({reference.nunique()} distinct values in "
            f"{reference.count()} rows); not tested. Force a kind with column_kinds={{{name!r}: "
            "'categorical'}} to test it."
        )
        return _skip(name, kind, "unsupported", note, reference, current)
    ref_numeric, cur_numeric = ref_family == "numeric", cur_family == "numeric"
    if ref_numeric != cur_numeric:
        note = f"The reference holds {ref_family} values, the current data {cur_family} values."
        return _skip(name, kind, "type_mismatch", note, reference, current)
    pair = _encode(name, kind, reference, current, numeric=ref_numeric)
    if pair is None:
        note = f"Kind {kind!r} needs numbers; the column holds {ref_family} values."
        return _skip(name, kind, "type_mismatch", note, reference, current)
    status, note = "ok", ""
    if "mixed" in (ref_family, cur_family):
        status, note = "mixed_types", "Values of several types; compared as categories."
    elif pair.reference_n_unique == 1:
        status, note = "constant", f"The reference holds a single value ({_one_value(pair)})."
    return pair, status, note


def _encode(
    name: str, kind: str, reference: pd.Series, current: pd.Series, *, numeric: bool
) -> ColumnPair | None:
    if kind == "numeric":
        if not numeric:
            return None
        return ColumnPair(name, "numeric", _float_values(reference), _float_values(current))
    if numeric:  # low-cardinality numbers: categories are the float values
        ref, cur = _float_values(reference), _float_values(current)
        values = np.union1d(_distinct_sorted(ref), _distinct_sorted(cur))
        ref_codes = np.searchsorted(values, ref)
        cur_codes = np.searchsorted(values, cur)
        return ColumnPair(name, "categorical", ref_codes, cur_codes, values.astype(object))
    ref_codes, cur_codes, categories = _align_codes(_codes(reference), _codes(current))
    return ColumnPair(name, "categorical", ref_codes, cur_codes, categories)


def _one_value(pair: ColumnPair) -> str:
    if pair.kind == "numeric":
        return repr(float(pair.reference[0]))
    assert pair.categories is not None
    return repr(label_of(pair.categories[int(pair.reference[0])]))


def _skip(
    name: str, kind: str, status: str, note: str, reference: pd.Series, current: pd.Series
) -> tuple[Skipped, str, str]:
    n_ref, n_cur = int(reference.count()), int(current.count())
    skipped = Skipped(
        name,
        kind,
        status,
        note,
        n_ref,
        n_cur,
        _missing_share(reference, n_ref),
        _missing_share(current, n_cur),
    )
    return skipped, status, note


def missing_shares(
    pair: ColumnPair, reference: pd.Series, current: pd.Series
) -> tuple[float, float]:
    """Share of rows of each side that were dropped as missing (NaN, None, +-inf)."""
    return (
        _missing_share(reference, pair.reference.size),
        _missing_share(current, pair.current.size),
    )
