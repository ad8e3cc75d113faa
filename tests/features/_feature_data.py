"""Generated sources and the brute-force reference a point-in-time join must equal (pandas
``merge_asof``), shared by the feature store tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import features as wf

START = pd.Timestamp("2024-01-01")


def utc_naive(values: pd.Series) -> pd.Series:
    """Times as naive UTC (aware ones converted, naive ones taken as UTC)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.to_datetime(values)


def reference(
    entity_df: pd.DataFrame,
    source: pd.DataFrame,
    *,
    keys: Sequence[str],
    timestamp: str,
    event_timestamp: str,
    features: Sequence[str],
    ttl: dt.timedelta | None,
    created_timestamp: str | None = None,
) -> pd.DataFrame:
    """Brute force: ``merge_asof(direction="backward")`` per key, then the TTL. Returns the
    features, one row per entity row in order, as float/object with None for missing."""
    src = source.copy()
    src["__t"] = utc_naive(src[event_timestamp]).astype("datetime64[ns]")
    if created_timestamp is not None:
        src["__c"] = utc_naive(src[created_timestamp]).astype("datetime64[ns]")
        src = src.sort_values("__c").drop_duplicates([*keys, "__t"], keep="last")
    src["__ft"] = src["__t"]
    src = src[[*keys, "__t", "__ft", *features]].sort_values("__t", kind="stable")
    ent = entity_df[list(keys)].copy()
    ent["__t"] = utc_naive(entity_df[timestamp]).astype("datetime64[ns]")
    ent["__row"] = np.arange(len(ent))
    merged = pd.merge_asof(
        ent.sort_values("__t", kind="stable"),
        src,
        on="__t",
        by=list(keys),
        direction="backward",
        allow_exact_matches=True,
    ).sort_values("__row")
    out = merged[list(features)].astype(object).reset_index(drop=True)
    if ttl is not None:
        stale = (merged["__ft"] < merged["__t"] - ttl).to_numpy()
        expired = stale | merged["__ft"].isna().to_numpy()
        out.loc[expired, :] = None
    return out.where(pd.notna(out), None)


def normalized(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The columns as object with None for any missing value (NaN, NA)."""
    out = frame[list(columns)].astype(object).reset_index(drop=True)
    return out.where(pd.notna(out), None)


def assert_same(result: pd.DataFrame, expected: pd.DataFrame, columns: Sequence[str]) -> None:
    got = normalized(result, columns)
    for column in columns:
        left = [None if v is None else float(v) for v in got[column]]
        right = [None if v is None else float(v) for v in expected[column]]
        mismatched = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        assert not mismatched, (
            f"{column}: {len(mismatched)} rows differ, e.g. row {mismatched[0]}: "
            f"got {left[mismatched[0]]}, expected {right[mismatched[0]]}"
        )


def make_source(
    rng: np.random.Generator,
    *,
    n: int,
    entities: int,
    days: int = 30,
    created: bool = False,
) -> pd.DataFrame:
    """``n`` rows of ``entities`` drivers over ``days``: conv_rate (float in [0,1]), trips (int)."""
    frame = pd.DataFrame(
        {
            "driver_id": rng.integers(0, entities, n),
            "event_ts": START + pd.to_timedelta(rng.integers(0, 86_400 * days, n), unit="s"),
            "conv_rate": rng.random(n),
            "trips": rng.integers(0, 100, n),
        }
    )
    if created:
        frame["created"] = frame["event_ts"] + pd.to_timedelta(rng.integers(0, 3600, n), unit="s")
        return frame.drop_duplicates(["driver_id", "event_ts", "created"]).reset_index(drop=True)
    return frame.drop_duplicates(["driver_id", "event_ts"]).reset_index(drop=True)


def stats_view(
    path: Path | str,
    *,
    ttl: dt.timedelta | None = dt.timedelta(days=2),
    created: bool = False,
    name: str = "driver_stats",
) -> wf.FeatureView:
    return wf.FeatureView(
        name,
        entities=[wf.Entity("driver", join_keys={"driver_id": "int64"})],
        source=wf.FileSource(
            path, timestamp="event_ts", created_timestamp="created" if created else None
        ),
        features=[
            wf.Feature("conv_rate", "float64", ge=0, le=1),
            wf.Feature("trips", "int64", nullable=False, ge=0),
        ],
        ttl=ttl,
    )
