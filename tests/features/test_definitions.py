"""Definitions: checked when made, versioned when registered, history kept, a change that would
break a registered model refused with the model's name; notebook display of each object."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _feature_data import START, make_source, stats_view
from sklearn.dummy import DummyClassifier

import workbench as wb
from workbench import features as wf
from workbench.client import Workbench
from workbench.store.postgres import PostgresStore

NASTY = "<script>alert(1)</script>"


@pytest.fixture
def source_path(tmp_path: Path) -> Path:
    path = tmp_path / "stats.parquet"
    make_source(np.random.default_rng(0), n=400, entities=20).to_parquet(path)
    return path


def test_definitions_check_their_arguments(tmp_path: Path) -> None:
    with pytest.raises(
        wb.InvalidParameterError, match=r"'dtype'.*one of.*Feature\('trips', 'int64'\)"
    ):
        wf.Feature("trips", "decimal")
    with pytest.raises(wb.InvalidParameterError, match=r"'ge'.*bounds are for numbers"):
        wf.Feature("tier", "string", ge=0)
    with pytest.raises(wb.InvalidParameterError, match=r"'name'.*without ':'"):
        wf.Entity("a:b")
    with pytest.raises(wb.InvalidParameterError, match=r"'path'.*existing file or folder"):
        wf.FileSource(tmp_path / "missing.parquet2", timestamp="ts")
    with pytest.raises(wb.InvalidParameterError, match=r"features other than the join keys"):
        stats = stats_view(tmp_path / "x.parquet")
        wf.FeatureView(
            "v", entities=stats.entities, source=stats.source, ttl=None,
            features=[wf.Feature("driver_id", "int64")],
        )  # fmt: skip
    with pytest.raises(wb.InvalidParameterError, match=r"'ttl'.*positive"):
        stats_view(tmp_path / "x.parquet", ttl=-5)  # type: ignore[arg-type]
    assert stats_view(tmp_path / "x.parquet", ttl=60).ttl == dt.timedelta(minutes=1)  # type: ignore[arg-type]
    assert wf.Feature("x", int).dtype == "int64" and wf.Feature("x", np.float32).dtype == "float32"


def test_specs_round_trip(source_path: Path) -> None:
    stats = stats_view(source_path, created=False)
    again = wf.FeatureView.from_spec(stats.to_spec())
    assert again == stats and again.to_spec() == stats.to_spec()
    service = wf.FeatureService("eta", [stats[["trips"]], "other:x"], description="d")
    assert wf.FeatureService.from_spec(service.to_spec()) == service
    assert service.feature_refs == ("driver_stats:trips", "other:x")


def test_registering_versions_and_keeps_the_history(client: Workbench, source_path: Path) -> None:
    stats = stats_view(source_path)
    (first,) = wf.register_features(stats, client=client)
    assert (first.version, first.created) == (1, True)
    (again,) = wf.register_features(stats_view(source_path), client=client)
    assert (again.version, again.created) == (1, False)  # unchanged: no new version
    edited = stats_view(source_path, ttl=dt.timedelta(days=9))
    (second,) = wf.register_features(edited, client=client)
    assert (second.version, second.created) == (2, True)
    history = wf.get_feature_history("driver_stats", client=client)
    assert [h.version for h in history] == [1, 2]
    assert history[0].definition.ttl == dt.timedelta(days=2)  # type: ignore[union-attr]
    assert wf.get_feature_view("driver_stats", 1, client=client) == stats
    assert wf.get_feature_view("driver_stats", client=client) == edited
    assert wf.get_entity("driver", client=client).join_keys == ("driver_id",)  # came with it
    catalog = wf.list_feature_definitions(client=client)
    assert list(catalog[["kind", "name", "version"]].itertuples(index=False, name=None)) == [
        ("entity", "driver", 1),
        ("feature_view", "driver_stats", 2),
    ]
    assert len(wf.list_feature_definitions(history=True, client=client)) == 3
    with pytest.raises(wf.FeatureNotFoundError, match=r"no version 7; its versions: \[1, 2\]"):
        wf.get_feature_view("driver_stats", 7, client=client)
    with pytest.raises(wf.FeatureNotFoundError, match=r"Did you mean 'driver_stats'"):
        wf.get_feature_view("Driver_Stats", client=client)


def test_a_service_must_name_existing_features(client: Workbench, source_path: Path) -> None:
    wf.register_features(stats_view(source_path), client=client)
    with pytest.raises(wf.FeatureNotFoundError, match=r"lists driver_stats:speed.*no feature"):
        wf.register_features(wf.FeatureService("eta", ["driver_stats:speed"]), client=client)
    with pytest.raises(wf.FeatureNotFoundError, match=r"No feature view named 'nope'"):
        wf.register_features(wf.FeatureService("eta", ["nope:x"]), client=client)


def _train_and_register(client: Workbench, model: str, features: object) -> None:
    entity_df = pd.DataFrame({"driver_id": [1, 2, 3], "ts": [START + pd.Timedelta(days=9)] * 3})
    with client.start_run("train") as run:
        wf.get_historical_features(entity_df, features)  # type: ignore[arg-type]
        classifier = DummyClassifier().fit([[0], [1]], [0, 1])
    client.register_model(model, run=run, model=classifier)


def test_a_change_that_would_break_a_registered_model_is_refused(
    client: Workbench, source_path: Path
) -> None:
    stats = stats_view(source_path)
    service = wf.FeatureService("eta_features", [stats])
    wf.register_features(stats, service, client=client)
    _train_and_register(client, "eta", service)
    _train_and_register(client, "eta_lite", ["driver_stats:conv_rate"])
    without_trips = wf.FeatureView(
        "driver_stats", entities=stats.entities, source=stats.source, ttl=stats.ttl,
        features=[stats.feature("conv_rate")],
    )  # fmt: skip
    with pytest.raises(
        wf.BreakingChangeError,
        match=r"(?s)version 2.*model 'eta' version 1.*feature service 'eta_features' version 1.*"
        r"removes feature 'trips'.*delete_model_version",
    ) as raised:
        wf.register_features(without_trips, client=client)
    assert "eta_lite" not in str(raised.value)  # it does not use trips
    retyped = wf.FeatureView(
        "driver_stats", entities=stats.entities, source=stats.source, ttl=stats.ttl,
        features=[wf.Feature("conv_rate", "string"), stats.feature("trips")],
    )  # fmt: skip
    with pytest.raises(wf.BreakingChangeError, match=r"'eta_lite'.*from float64 to string"):
        wf.register_features(retyped, client=client)
    assert [h.version for h in wf.get_feature_history("driver_stats", client=client)] == [1]
    # adding a feature, or a new TTL, breaks nobody
    wider = wf.FeatureView(
        "driver_stats", entities=stats.entities, source=stats.source, ttl=dt.timedelta(days=5),
        features=[*stats.features, wf.Feature("speed", "float64")],
    )  # fmt: skip
    assert wf.register_features(wider, client=client)[0].version == 2
    client.delete_model_version("eta", 1)  # the model is gone: the change is allowed now
    assert wf.register_features(without_trips, client=client)[0].version == 3


def test_every_object_renders_in_a_notebook(client: Workbench, source_path: Path) -> None:
    stats = stats_view(source_path)
    stats = wf.FeatureView(
        "driver_stats", entities=stats.entities, source=stats.source, ttl=stats.ttl,
        features=stats.features, description=NASTY,
    )  # fmt: skip
    service = wf.FeatureService("eta", [stats], description=NASTY)
    registered = wf.register_features(stats, service, client=client)
    report = stats.validate()
    objects = [stats, service, stats.entities[0], report, *registered]
    for item in objects:
        bundle = item._repr_mimebundle_()
        assert bundle["text/plain"]
        assert NASTY not in bundle["text/html"]
    html = stats._repr_mimebundle_()["text/html"]
    assert "&lt;script&gt;" in html and "conv_rate" in html and "&gt;= 0" in html


def test_on_a_team_store(team_store: PostgresStore, source_path: Path) -> None:
    """The same definitions, lineage and guard on PostgreSQL (the store's SQL runs on both)."""
    client = wb.connect(team_store)
    stats = stats_view(source_path)
    service = wf.FeatureService("eta_features", [stats])
    assert [r.version for r in wf.register_features(stats, service, client=client)] == [1, 1]
    _train_and_register(client, "eta", service)
    narrower = wf.FeatureView(
        "driver_stats", entities=stats.entities, source=stats.source, ttl=stats.ttl,
        features=[stats.feature("trips")],
    )  # fmt: skip
    with pytest.raises(wf.BreakingChangeError, match=r"model 'eta' version 1.*'conv_rate'"):
        wf.register_features(narrower, client=client)
    assert wf.get_feature_service("eta_features", client=client) == service
    assert len(wf.list_feature_definitions(history=True, client=client)) == 3
