"""The one place that chooses a column's drift test when the caller names none.

The rule is Evidently's (``evidently.legacy.calculations.stattests.registry.
_get_default_stattest``), so default verdicts agree with Evidently's DataDriftPreset. ``n`` is
the number of non-missing reference values, ``unique`` the number of distinct non-missing values
over reference and current together:

=============  ========================  ====================  ==================
reference      column kind               distinct values       test (threshold)
=============  ========================  ====================  ==================
n <= 1000      numeric                   unique > 5            ks (p < 0.05)
n <= 1000      numeric or categorical    3 <= unique (<= 5)    chisquare (p < 0.05)
n <= 1000      numeric or categorical    unique <= 2           z (p < 0.05)
n > 1000       numeric                   unique > 5            wasserstein (>= 0.1)
n > 1000       numeric                   unique <= 5           jensenshannon (>= 0.1)
n > 1000       categorical               any                   jensenshannon (>= 0.1)
=============  ========================  ====================  ==================

(For a categorical column with n <= 1000, "3 <= unique" has no upper bound.)
"""

from __future__ import annotations

__all__ = ["SMALL_REFERENCE", "default_stattest"]

SMALL_REFERENCE = 1000
_FEW_VALUES = 5
_BINARY = 2


def default_stattest(kind: str, n_reference: int, n_unique: int) -> str:
    """The name of the default drift test for a column (see the module's rule table).

    Parameters
    ----------
    kind
        ``"numeric"`` or ``"categorical"``.
    n_reference
        Non-missing values in the reference.
    n_unique
        Distinct non-missing values over both sides.
    """
    many_values = kind == "numeric" and n_unique > _FEW_VALUES
    if n_reference <= SMALL_REFERENCE:
        if many_values:
            return "ks"
        return "chisquare" if n_unique > _BINARY else "z"
    return "wasserstein" if many_values else "jensenshannon"
