"""Which features a call asks for: a feature service, or a list of views and references.

The offline and online paths share it: ``features=`` may be a :class:`FeatureService` (or the
name of a registered one), or a list of ``"view:feature"`` references, feature views (all their
features) and projections (``view[["a", "b"]]``). The result names each feature's output column:
the feature's name, or ``"<view>__<feature>"`` with ``full_feature_names``; two features of the
same name from different views must be told apart that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench._validation import fail
from workbench.features._definitions import (
    FeatureService,
    FeatureView,
    FeatureViewProjection,
    parse_ref,
)

__all__ = ["Selection", "output_columns", "select"]


@dataclass(frozen=True)
class Selection:
    """Features asked for: by a feature service (``service``: its name) or a list."""

    service: str | None
    projections: tuple[FeatureViewProjection, ...]
    #: The service object given, if one was (its registration is checked by the caller).
    given: FeatureService | None = None


def select(features: Any, caller: str) -> Selection:
    """What ``features=`` asks for (see the module)."""
    if isinstance(features, FeatureService):
        return Selection(features.name, features.projections, features)
    if isinstance(features, str) and ":" not in features:
        return Selection(features, ())  # a service by name: the caller loads it
    if isinstance(features, (str, FeatureView, FeatureViewProjection)):
        features = [features]
    if not isinstance(features, Sequence) or not features:
        raise fail(
            "features",
            caller,
            "a feature service, or a non-empty list of 'view:feature' references",
            features,
            "e.g. features=['driver_stats:conv_rate'] or features=my_feature_service.",
        )
    merged: dict[str, list[str]] = {}
    for item in features:
        if isinstance(item, FeatureView):
            projection = FeatureViewProjection(item.name, item.feature_names)
        elif isinstance(item, FeatureViewProjection):
            projection = item
        else:
            view, feature = parse_ref(item, caller)
            projection = FeatureViewProjection(view, (feature,))
        names = merged.setdefault(projection.view, [])
        names += [n for n in projection.features if n not in names]
    return Selection(None, tuple(FeatureViewProjection(v, tuple(f)) for v, f in merged.items()))


def output_columns(
    projections: Sequence[FeatureViewProjection], full_feature_names: bool, caller: str
) -> list[tuple[str, str, str]]:
    """(view, feature, output column) for each feature asked for, in order."""
    columns = []
    seen: dict[str, str] = {}
    for projection in projections:
        for feature in projection.features:
            column = f"{projection.view}__{feature}" if full_feature_names else feature
            other = seen.setdefault(column, projection.view)
            if other != projection.view:
                raise fail(
                    "features",
                    caller,
                    "features with distinct names",
                    f"{projection.view}:{feature}",
                    f"Feature {feature!r} is in both views {other!r} and {projection.view!r}. "
                    "Pass full_feature_names=True (the columns become "
                    f"'{other}__{feature}' and '{projection.view}__{feature}'), or ask for one "
                    "of them.",
                )
            columns.append((projection.view, feature, column))
    return columns
