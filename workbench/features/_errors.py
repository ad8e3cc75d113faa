"""The errors of the feature store, defined with every other in :mod:`workbench.exceptions`."""

from __future__ import annotations

from workbench.exceptions import (
    BreakingChangeError,
    FeatureNotFoundError,
    FeatureSourceError,
    FeatureValidationError,
)

__all__ = [
    "BreakingChangeError",
    "FeatureNotFoundError",
    "FeatureSourceError",
    "FeatureValidationError",
]
