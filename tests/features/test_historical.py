"""Point-in-time joins equal a brute-force ``merge_asof`` reference on every row: leaking future
values, ties, missing entities, TTLs, time zones and late corrections; and every bad input gets
an error that names the item and the fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _feature_data import START, assert_same, make_source, reference, stats_view
from hypothesis import HealthCheck, given, settings

import workbench as wb
from workbench import features as wf
from workbench.client import Workbench

FEATURES = ["conv_rate", "trips"]


def _entities(rng: np.random.Generator, n: int, entities: int, days: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": rng.integers(0, entities, n),
            "ts": START + pd.to_timedelta(rng.integers(0, 86_400 * days, n), unit="s"),
            "label": rng.integers(0, 2, n),
        }
    )


def _register(
    client: Workbench, source: pd.DataFrame, tmp_path: Path, **view: object
) -> wf.FeatureView:
    path = tmp_path / "stats.parquet"
    source.to_parquet(path)
    stats = stats_view(path, **view)  # type: ignore[arg-type]
    wf.register_features(stats, client=client)
    return stats


@pytest.mark.parametrize("ttl", [None, dt.timedelta(days=2), dt.timedelta(hours=5)])
def test_equals_merge_asof_on_every_row_and_never_leaks_the_future(
    client: Workbench, tmp_path: Path, ttl: dt.timedelta | None
) -> None:
    rng = np.random.default_rng(7)
    source = make_source(rng, n=20_000, entities=300)
    # values from the future: rows after every entity timestamp carry an impossible marker
    future = source.sample(2000, random_state=1).assign(
        event_ts=START + pd.Timedelta(days=40), conv_rate=0.999999, trips=99
    )
    source = pd.concat([source, future]).drop_duplicates(["driver_id", "event_ts"])
    _register(client, source, tmp_path, ttl=ttl)
    entity_df = _entities(rng, 5_000, 350)  # some drivers have no rows at all
    entity_df.loc[:20, "ts"] = source["event_ts"].iloc[:21].to_numpy()  # exact ties
    entity_df.loc[:20, "driver_id"] = source["driver_id"].iloc[:21].to_numpy()
    result = wf.get_historical_features(
        entity_df, ["driver_stats:conv_rate", "driver_stats:trips"], client=client
    )
    expected = reference(
        entity_df,
        source,
        keys=["driver_id"],
        timestamp="ts",
        event_timestamp="event_ts",
        features=FEATURES,
        ttl=ttl,
    )
    assert_same(result, expected, FEATURES)
    assert (result["conv_rate"] != 0.999999).all()  # never a value from the future
    assert list(result.columns) == ["driver_id", "ts", "label", *FEATURES]
    pd.testing.assert_frame_equal(result[entity_df.columns], entity_df)  # rows as given
    assert str(result["trips"].dtype) == "Int64" and result["trips"].isna().any()
    assert result.iloc[:21]["trips"].notna().all()  # a row at the entity's own time counts


def test_late_corrections_the_last_created_row_wins(client: Workbench, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    source = make_source(rng, n=5_000, entities=100, created=True)
    corrections = source.sample(1500, random_state=2).assign(
        created=lambda f: f["created"] + pd.Timedelta(days=3), conv_rate=rng.random(1500)
    )
    source = pd.concat([source, corrections], ignore_index=True)
    _register(client, source, tmp_path, created=True)
    entity_df = _entities(rng, 3_000, 110)
    result = wf.get_historical_features(entity_df, ["driver_stats:conv_rate"], client=client)
    expected = reference(
        entity_df,
        source,
        keys=["driver_id"],
        timestamp="ts",
        event_timestamp="event_ts",
        created_timestamp="created",
        features=["conv_rate"],
        ttl=dt.timedelta(days=2),
    )
    assert_same(result, expected, ["conv_rate"])


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_time_zones_are_compared_as_instants(client: Workbench, tmp_path: Path, zone: str) -> None:
    rng = np.random.default_rng(11)
    source = make_source(rng, n=4_000, entities=50)
    source["event_ts"] = source["event_ts"].dt.tz_localize("Europe/Paris")  # aware source
    _register(client, source, tmp_path, ttl=dt.timedelta(hours=12))
    entity_df = _entities(rng, 2_000, 55)
    entity_df["ts"] = entity_df["ts"].dt.tz_localize("UTC").dt.tz_convert(zone)
    result = wf.get_historical_features(entity_df, ["driver_stats:trips"], client=client)
    expected = reference(
        entity_df,
        source,
        keys=["driver_id"],
        timestamp="ts",
        event_timestamp="event_ts",
        features=["trips"],
        ttl=dt.timedelta(hours=12),
    )
    assert_same(result, expected, ["trips"])
    assert result["ts"].dt.tz is not None  # the entity column comes back as given


@pytest.mark.slow  # ~0.5 s an example: each registers a view in a store
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    ttl_hours=st.one_of(st.none(), st.integers(1, 6)),
    zone=st.sampled_from([None, "UTC", "America/New_York"]),
    created=st.booleans(),
)
def test_edge_cases_equal_the_reference(
    client: Workbench,
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
    ttl_hours: int | None,
    zone: str | None,
    created: bool,
) -> None:
    """Tiny domains (3 keys, 12 hours) so that ties, gaps, expiries and corrections are common."""
    n = data.draw(st.integers(1, 30), label="source rows")
    keys = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n), label="keys")
    hours = data.draw(st.lists(st.integers(0, 11), min_size=n, max_size=n), label="hours")
    made = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n), label="created")
    values = data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n), label="values")
    source = pd.DataFrame(
        {
            "driver_id": keys,
            "event_ts": START + pd.to_timedelta(hours, unit="h"),
            "conv_rate": [v / 10 for v in values],
            "trips": values,
        }
    )
    if created:
        source["created"] = source["event_ts"] + pd.to_timedelta(made, unit="min")
        source = source.drop_duplicates(["driver_id", "event_ts", "created"])
    else:
        source = source.drop_duplicates(["driver_id", "event_ts"])
    m = data.draw(st.integers(1, 20), label="entity rows")
    entity_df = pd.DataFrame(
        {
            "driver_id": data.draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)),
            "ts": START
            + pd.to_timedelta(
                data.draw(st.lists(st.integers(-1, 13), min_size=m, max_size=m)), unit="h"
            ),
        }
    )
    if zone is not None:
        entity_df["ts"] = entity_df["ts"].dt.tz_localize("UTC").dt.tz_convert(zone)
    folder = tmp_path_factory.mktemp("pit")
    ttl = None if ttl_hours is None else dt.timedelta(hours=ttl_hours)
    name = f"v{abs(hash((ttl_hours, created)))}"
    path = folder / "s.parquet"
    source.to_parquet(path)
    view = stats_view(path, ttl=ttl, created=created, name=name)
    wf.register_features(view, client=client)
    result = wf.get_historical_features(
        entity_df, [f"{name}:conv_rate", f"{name}:trips"], run=False, client=client
    )
    expected = reference(
        entity_df,
        source,
        keys=["driver_id"],
        timestamp="ts",
        event_timestamp="event_ts",
        created_timestamp="created" if created else None,
        features=FEATURES,
        ttl=ttl,
    )
    assert_same(result, expected, FEATURES)


def test_several_views_composite_keys_and_arrow_out(client: Workbench, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    trips = make_source(rng, n=3000, entities=40)
    trips.to_parquet(tmp_path / "trips.parquet")
    pairs = pd.DataFrame(
        {
            "driver_id": rng.integers(0, 40, 3000),
            "zone": rng.choice(["a", "b", "c"], 3000),
            "at": START + pd.to_timedelta(rng.integers(0, 86_400 * 30, 3000), unit="s"),
            "eta": rng.random(3000) * 30,
        }
    ).drop_duplicates(["driver_id", "zone", "at"])
    folder = tmp_path / "pairs"
    folder.mkdir()
    pairs.iloc[:1500].to_parquet(folder / "part-0.parquet")
    pairs.iloc[1500:].to_parquet(folder / "part-1.parquet")
    driver = wf.Entity("driver", join_keys={"driver_id": "int64"})
    zone = wf.Entity("zone", join_keys=["zone"])
    stats = stats_view(tmp_path / "trips.parquet")
    eta = wf.FeatureView(
        "zone_eta",
        entities=[driver, zone],
        source=wf.FileSource(folder, timestamp="at"),
        features=[wf.Feature("eta", "float64", ge=0)],
        ttl=None,
    )
    service = wf.FeatureService("dispatch", [stats[["trips"]], eta])
    wf.register_features(stats, eta, service, client=client)
    entity_df = _entities(rng, 2000, 45)
    entity_df["zone"] = rng.choice(["a", "b", "c", "d"], 2000)
    table = wf.get_historical_features(
        pa.Table.from_pandas(entity_df), service, output="arrow", client=client
    )
    assert isinstance(table, pa.Table)
    assert table.column_names == [*entity_df.columns, "trips", "eta"]
    result = table.to_pandas()
    assert_same(
        result,
        reference(entity_df, pairs, keys=["driver_id", "zone"], timestamp="ts",
                  event_timestamp="at", features=["eta"], ttl=None),
        ["eta"],
    )  # fmt: skip
    assert_same(
        result,
        reference(entity_df, trips, keys=["driver_id"], timestamp="ts", event_timestamp="event_ts",
                  features=["trips"], ttl=dt.timedelta(days=2)),
        ["trips"],
    )  # fmt: skip


def test_the_training_set_is_the_runs_input_with_its_lineage(
    client: Workbench, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    stats = _register(client, make_source(rng, n=500, entities=20), tmp_path)
    service = wf.FeatureService("eta", [stats])
    wf.register_features(service, client=client)
    entity_df = _entities(rng, 100, 20)
    with client.start_run("train") as run:
        train = wf.get_historical_features(entity_df, service)  # the active run, its client
    snapshot = client.get_run(run.run_id)
    (item,) = snapshot.inputs
    assert item.context == "training" and item.dataset.name == "eta@v1"
    assert item.dataset.n_rows == len(train)
    (lineage,) = wf.get_feature_lineage(run.run_id, client=client)
    assert lineage["service"] == "eta" and lineage["service_version"] == 1
    assert lineage["digest"] == item.dataset.digest
    view = lineage["views"]["driver_stats"]
    assert view["version"] == 1 and view["join_keys"] == ["driver_id"]
    assert view["source"]["path"] == str(tmp_path / "stats.parquet")  # run -> features -> sources
    assert [f["feature"] for f in lineage["features"]] == FEATURES
    rows = client.sql("SELECT run_id, service, service_version FROM feature_lineage")
    assert rows.to_dict("records") == [
        {"run_id": run.run_id, "service": "eta", "service_version": 1}
    ]


# -- bad input ----------------------------------------------------------------------------------
@pytest.fixture
def registered(client: Workbench, tmp_path: Path) -> wf.FeatureView:
    return _register(client, make_source(np.random.default_rng(0), n=300, entities=10), tmp_path)


def test_missing_join_key(client: Workbench, registered: wf.FeatureView) -> None:
    entity_df = pd.DataFrame({"driver": [1], "ts": [START]})
    with pytest.raises(wb.InvalidParameterError, match=r"lacks \['driver_id'\].*rename"):
        wf.get_historical_features(entity_df, ["driver_stats:trips"], client=client)


def test_mistyped_join_key(client: Workbench, registered: wf.FeatureView) -> None:
    entity_df = pd.DataFrame({"driver_id": ["1", "2"], "ts": [START, START]})
    with pytest.raises(
        wb.InvalidParameterError,
        match=r"join key column 'driver_id'.*integer values.*astype\('int64'\)",
    ):
        wf.get_historical_features(entity_df, ["driver_stats:trips"], client=client)


def test_entity_timestamps_in_mixed_time_zones(
    client: Workbench, registered: wf.FeatureView
) -> None:
    times = [pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-02", tz="Asia/Tokyo")]
    entity_df = pd.DataFrame({"driver_id": [1, 2], "ts": pd.Series(times, dtype=object)})
    with pytest.raises(wb.InvalidParameterError, match=r"mix of.*pd.to_datetime.*utc=True"):
        wf.get_historical_features(entity_df, ["driver_stats:trips"], timestamp="ts", client=client)


def test_timestamps_that_are_text_or_missing(client: Workbench, registered: wf.FeatureView) -> None:
    text = pd.DataFrame({"driver_id": [1], "ts": ["2024-01-02"]})
    with pytest.raises(wb.InvalidParameterError, match=r"'ts'.*datetimes.*to_datetime"):
        wf.get_historical_features(text, ["driver_stats:trips"], timestamp="ts", client=client)
    missing = pd.DataFrame({"driver_id": [1, 2], "ts": [START, pd.NaT]})
    with pytest.raises(wb.InvalidParameterError, match=r"1 missing.*drop those rows"):
        wf.get_historical_features(missing, ["driver_stats:trips"], client=client)


def test_duplicate_key_and_event_time_rows(client: Workbench, tmp_path: Path) -> None:
    source = make_source(np.random.default_rng(0), n=100, entities=5)
    source = pd.concat([source, source.iloc[:3]])
    _register(client, source, tmp_path)
    entity_df = pd.DataFrame({"driver_id": [1], "ts": [START + pd.Timedelta(days=9)]})
    with pytest.raises(
        wf.FeatureSourceError, match=r"'driver_stats' has 3 \(key, event time\).*created_timestamp"
    ):
        wf.get_historical_features(entity_df, ["driver_stats:trips"], client=client)


def test_a_feature_name_that_collides_across_views(client: Workbench, tmp_path: Path) -> None:
    source = make_source(np.random.default_rng(0), n=100, entities=5)
    source.to_parquet(tmp_path / "s.parquet")
    wf.register_features(
        stats_view(tmp_path / "s.parquet"), stats_view(tmp_path / "s.parquet", name="other"),
        client=client,
    )  # fmt: skip
    entity_df = pd.DataFrame({"driver_id": [1], "ts": [START + pd.Timedelta(days=9)]})
    refs = ["driver_stats:trips", "other:trips"]
    with pytest.raises(wb.InvalidParameterError, match=r"both views.*full_feature_names=True"):
        wf.get_historical_features(entity_df, refs, client=client)
    result = wf.get_historical_features(entity_df, refs, full_feature_names=True, client=client)
    assert result["driver_stats__trips"].equals(result["other__trips"])
    with pytest.raises(wb.InvalidParameterError, match=r"'trips' is in both views"):
        wf.FeatureService("s", ["driver_stats:trips", "other:trips"])


def test_a_ttl_of_zero() -> None:
    with pytest.raises(wb.InvalidParameterError, match=r"'ttl'.*TTL of zero.*timedelta\(days=1\)"):
        stats_view("x.parquet", ttl=dt.timedelta(0))


def test_a_source_that_no_longer_exists(client: Workbench, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _register(client, make_source(rng, n=100, entities=5), tmp_path)
    (tmp_path / "stats.parquet").unlink()
    entity_df = pd.DataFrame({"driver_id": [1], "ts": [START]})
    with pytest.raises(wf.FeatureSourceError, match=r"'driver_stats' no longer exists.*FileSource"):
        wf.get_historical_features(entity_df, ["driver_stats:trips"], client=client)


def test_unknown_views_and_features_are_named(
    client: Workbench, registered: wf.FeatureView
) -> None:
    entity_df = pd.DataFrame({"driver_id": [1], "ts": [START]})
    with pytest.raises(wf.FeatureNotFoundError, match=r"No feature view named 'driver_stat'.*"):
        wf.get_historical_features(entity_df, ["driver_stat:trips"], client=client)
    with pytest.raises(
        wf.FeatureNotFoundError, match=r"no feature 'trip'.*\['conv_rate', 'trips'\]"
    ):
        wf.get_historical_features(entity_df, ["driver_stats:trip"], client=client)
    with pytest.raises(wb.InvalidParameterError, match=r"'view:feature'"):
        wf.get_historical_features(entity_df, ["a:b:c"], client=client)


def test_a_dataframe_source_lives_in_its_process(client: Workbench) -> None:
    source = make_source(np.random.default_rng(0), n=200, entities=5)
    view = wf.FeatureView(
        "frame_stats",
        entities=[wf.Entity("driver", join_keys={"driver_id": "int64"})],
        source=wf.DataFrameSource(source, timestamp="event_ts"),
        features=[wf.Feature("trips", "int64")],
        ttl=None,
    )
    wf.register_features(view, client=client)
    entity_df = pd.DataFrame({"driver_id": [1], "ts": [START + pd.Timedelta(days=40)]})
    result = wf.get_historical_features(entity_df, ["frame_stats:trips"], client=client)
    last = source[source.driver_id == 1].sort_values("event_ts").iloc[-1]
    assert result["trips"].iloc[0] == last["trips"]
    loaded = wf.get_feature_view("frame_stats", client=client)
    assert loaded.source.data is source  # type: ignore[attr-defined]
    gone = wf.FeatureView.from_spec(loaded.to_spec())  # as another process loads it
    with pytest.raises(wf.FeatureSourceError, match=r"held by the process that registered"):
        gone.validate()
