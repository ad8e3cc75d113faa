"""Synthetic reference/current datasets with known drift, for tests, benchmarks and demos.

``make_drift_dataset`` returns two frames with ``n_numeric`` float columns ``num_0``... and
``n_categorical`` string columns ``cat_0``...; the first ``round(drift * (n_numeric +
n_categorical))`` columns of the current frame are shifted (numeric: mean + 0.5 std and 20 %
wider; categorical: the category weights reversed), the rest are drawn from the same
distributions. ``drifted_columns`` says which ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import _validation as v

__all__ = ["DriftDataset", "make_drift_dataset"]

N_CATEGORIES = 8


@dataclass(frozen=True)
class DriftDataset:
    """Reference and current frames and the names of the columns that were made to drift."""

    reference: pd.DataFrame
    current: pd.DataFrame
    drifted_columns: tuple[str, ...]


def _numeric(rng: np.random.Generator, n: int, j: int, shifted: bool) -> np.ndarray:
    mean, std = float(j % 5), 1.0 + (j % 3)
    if shifted:
        mean, std = mean + 0.5 * std, std * 1.2
    return rng.normal(mean, std, size=n)


def _categorical(rng: np.random.Generator, n: int, j: int, shifted: bool) -> pd.Series:
    labels = np.asarray([f"c{j}_{k}" for k in range(N_CATEGORIES)], dtype=object)
    weights = np.linspace(1.0, 3.0, N_CATEGORIES)
    if shifted:
        weights = weights[::-1] ** 2
    codes = rng.choice(N_CATEGORIES, size=n, p=weights / weights.sum())
    return pd.Series(labels[codes], dtype="str")


def make_drift_dataset(
    n_rows: int,
    *,
    n_numeric: int = 15,
    n_categorical: int = 5,
    drift: float = 0.3,
    n_current: int | None = None,
    seed: int = 0,
) -> DriftDataset:
    """Reference and current data where a known share of the columns drifts.

    Parameters
    ----------
    n_rows
        Rows of the reference (and of the current data unless ``n_current`` is given).
    n_numeric, n_categorical
        How many float and string columns.
    drift
        Share of the columns (numeric first, then categorical) shifted in the current data.
    n_current
        Rows of the current data (default ``n_rows``).
    seed
        Random seed; the same arguments always give the same data.
    """
    caller = "make_drift_dataset"
    v.check_positive_int(n_rows, caller, name="n_rows")
    v.check_positive_int(n_current, caller, name="n_current", allow_none=True)
    if isinstance(drift, bool) or not isinstance(drift, (int, float)) or not 0 <= drift <= 1:
        raise v.fail("drift", caller, "a share in [0, 1]", drift)
    rng = np.random.default_rng(seed)
    total = n_numeric + n_categorical
    n_drifted = round(drift * total)
    names = [f"num_{j}" for j in range(n_numeric)] + [f"cat_{j}" for j in range(n_categorical)]
    drifted = tuple(names[:n_drifted])
    frames = []
    for rows, is_current in ((n_rows, False), (n_current or n_rows, True)):
        data: dict[str, np.ndarray | pd.Series] = {}
        for j in range(n_numeric):
            data[f"num_{j}"] = _numeric(rng, rows, j, is_current and f"num_{j}" in drifted)
        for j in range(n_categorical):
            data[f"cat_{j}"] = _categorical(rng, rows, j, is_current and f"cat_{j}" in drifted)
        frames.append(pd.DataFrame(data))
    return DriftDataset(frames[0], frames[1], drifted)
