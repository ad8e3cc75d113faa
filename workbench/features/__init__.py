"""The feature store: features defined in Python, versioned in the workbench store, joined point
in time for training and looked up online for serving.

Define, register, train, serve::

    import datetime as dt
    import workbench as wb
    from workbench import features as wf

    driver = wf.Entity("driver", join_keys={"driver_id": "int64"})
    stats = wf.FeatureView(
        "driver_stats",
        entities=[driver],
        source=wf.FileSource("data/driver_stats/", timestamp="event_ts"),
        features=[wf.Feature("conv_rate", "float64", ge=0, le=1), wf.Feature("trips", "int64")],
        ttl=dt.timedelta(days=7),
    )
    eta = wf.FeatureService("eta", [stats])
    wf.register_features(stats, eta)            # versions in the store

    with wb.start_run(experiment="eta") as run:
        train = wf.get_historical_features(labels, eta)   # point in time; logged to the run

    wf.materialize(stats, start=None, end=dt.datetime.now(dt.UTC))
    wf.get_online_features([{"driver_id": 1001}], eta)

docs/features.md explains the design: where the computation runs, where the online table lives
and why, and how the training/serving consistency is kept.
"""

from __future__ import annotations

from workbench.features._api import (
    get_entity,
    get_feature_history,
    get_feature_lineage,
    get_feature_service,
    get_feature_view,
    get_historical_features,
    get_online_features,
    get_online_store,
    list_feature_definitions,
    materialize,
    materialize_incremental,
    register_features,
    validate_feature_view,
)
from workbench.features._catalog import RegisteredDefinition
from workbench.features._definitions import (
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    FeatureViewProjection,
)
from workbench.features._errors import (
    BreakingChangeError,
    FeatureNotFoundError,
    FeatureSourceError,
    FeatureValidationError,
)
from workbench.features._materialize import MaterializationResult, MaterializedView
from workbench.features._online import OnlineStore
from workbench.features._quality import ValidationReport, Violation
from workbench.features._sources import DataFrameSource, FileSource, QuerySource, Source

__all__ = [
    "BreakingChangeError",
    "DataFrameSource",
    "Entity",
    "Feature",
    "FeatureNotFoundError",
    "FeatureService",
    "FeatureSourceError",
    "FeatureValidationError",
    "FeatureView",
    "FeatureViewProjection",
    "FileSource",
    "MaterializationResult",
    "MaterializedView",
    "OnlineStore",
    "QuerySource",
    "RegisteredDefinition",
    "Source",
    "ValidationReport",
    "Violation",
    "get_entity",
    "get_feature_history",
    "get_feature_lineage",
    "get_feature_service",
    "get_feature_view",
    "get_historical_features",
    "get_online_features",
    "get_online_store",
    "list_feature_definitions",
    "materialize",
    "materialize_incremental",
    "register_features",
    "validate_feature_view",
]
