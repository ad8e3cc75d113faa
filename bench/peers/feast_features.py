"""Feast side of the feature store benchmark: its local provider (file offline store, SQLite
online store), the same data and the same feature definitions as workbench's side.

Runs inside bench/.venvs/feast (see bench_features.py):

    feast_features.py DATA_FOLDER WORK_FOLDER [--skip-join] [--lookups N]

Steps, each timed: apply the definitions; the point-in-time join of the entity rows against the
three views (``get_historical_features(...).to_df()``); materializing the first view for all of
its entities (``materialize``); online lookups of one and of 100 entities. The last stdout line
is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("FEAST_TELEMETRY", "False")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _features_workload as wl  # noqa: E402


def log(message: str) -> None:
    print(f"[feast] {message}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("work")
    ap.add_argument("--skip-join", action="store_true")
    ap.add_argument("--lookups", type=int, default=1000)
    ap.add_argument("--save-join", default=None, help="write the joined rows here (parquet)")
    args = ap.parse_args()
    info = json.loads((Path(args.data) / "info.json").read_text())
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    import feast
    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
    from feast.repo_config import RepoConfig
    from feast.types import Float64, Int64

    result: dict[str, object] = {"feast": feast.__version__, "pandas": pd.__version__}
    config = RepoConfig(
        project="bench",
        registry=str(work / "registry.db"),
        provider="local",
        offline_store=DaskOfflineStoreConfig(type="file"),  # the local provider's file store
        online_store=SqliteOnlineStoreConfig(path=str(work / "online.db")),
        entity_key_serialization_version=3,
    )
    store = FeatureStore(config=config, repo_path=str(work))
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    types = {"float64": Float64, "int64": Int64}
    views = [
        FeatureView(
            name=name,
            entities=[driver],
            ttl=dt.timedelta(days=wl.TTL_DAYS),
            schema=[Field(name=f, dtype=types[t]) for f, t in features],
            source=FileSource(path=info["views"][name], timestamp_field="event_ts"),
            online=True,
        )
        for name, features in wl.VIEWS.items()
    ]
    began = time.perf_counter()
    store.apply([driver, *views])
    result["apply_s"] = time.perf_counter() - began

    if not args.skip_join:
        entity_df = pd.read_parquet(info["entity_df"])
        log(f"point-in-time join of {len(entity_df):,} rows")
        began = time.perf_counter()
        joined = store.get_historical_features(
            entity_df=entity_df, features=wl.feature_refs()
        ).to_df()
        result["join_s"] = time.perf_counter() - began
        result["join_rows"] = len(joined)
        first = "conv_rate"
        result["join_nonnull"] = int(joined[first].notna().sum())
        if args.save_join:
            joined.to_parquet(args.save_join)
        log(f"join: {result['join_s']:.1f} s")

    end = dt.datetime.fromisoformat(info["end"]) + dt.timedelta(days=1)
    log(f"materializing {wl.MATERIALIZED_VIEW}")
    began = time.perf_counter()
    store.materialize(
        start_date=dt.datetime(2000, 1, 1),
        end_date=end,
        feature_views=[wl.MATERIALIZED_VIEW],
    )
    result["materialize_s"] = time.perf_counter() - began
    log(f"materialize: {result['materialize_s']:.1f} s")

    refs = [f"{wl.MATERIALIZED_VIEW}:{f}" for f, _ in wl.VIEWS[wl.MATERIALIZED_VIEW]]
    for batch in (1, 100):
        keys = wl.lookup_keys(
            info["entities"], args.lookups if batch == 1 else args.lookups // 5, batch
        )
        store.get_online_features(features=refs, entity_rows=[{"driver_id": 0}]).to_dict()
        times = []
        for group in keys:
            began = time.perf_counter()
            store.get_online_features(
                features=refs, entity_rows=[{"driver_id": k} for k in group]
            ).to_dict()
            times.append(time.perf_counter() - began)
        result[f"lookup_{batch}"] = wl.percentiles(times)
    check = store.get_online_features(
        features=refs, entity_rows=[{"driver_id": k} for k in range(200)]
    ).to_dict()
    result["online_check"] = check
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
