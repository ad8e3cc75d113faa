"""The feature store workload shared by bench_features.py and the Feast peer (numpy, pandas and
pyarrow only: the peer imports this file from its own virtualenv).

Three feature views of one entity (``driver_id``), each a parquet file with an event timestamp:
``feature_rows`` rows in all, split evenly, over ``entities`` drivers and 90 days. The entity rows
(``entity_rows`` of them) name a driver and a time in the same 90 days plus 10 (some after the
last value, some beyond a view's TTL); about 5 % name a driver with no rows at all.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

START = dt.datetime(2024, 1, 1)
DAYS = 90
TTL_DAYS = 7
#: view -> [(feature, type)]; type is "float64" or "int64".
VIEWS: dict[str, list[tuple[str, str]]] = {
    "driver_hourly": [("conv_rate", "float64"), ("acc_rate", "float64"), ("trips", "int64")],
    "driver_daily": [("avg_rating", "float64"), ("completed", "int64")],
    "driver_profile": [("tenure_days", "int64"), ("score", "float64")],
}
MATERIALIZED_VIEW = "driver_hourly"


def feature_refs() -> list[str]:
    return [f"{view}:{name}" for view, features in VIEWS.items() for name, _ in features]


def generate(folder: Path, *, entities: int, feature_rows: int, entity_rows: int) -> dict[str, Any]:
    """Write the views and the entity rows under ``folder`` (once per size; reused after)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    info_path = folder / "info.json"
    if info_path.exists():
        return dict(json.loads(info_path.read_text()))
    rng = np.random.default_rng(42)
    start_us = int((START - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    span_us = DAYS * 86_400 * 1_000_000
    per_view = feature_rows // len(VIEWS)
    for view, features in VIEWS.items():
        keys = rng.integers(0, entities, per_view)
        times = start_us + rng.integers(0, span_us, per_view)
        # one row per (driver, event time): microsecond times collide rarely; drop those
        order = np.lexsort((times, keys))
        keys, times = keys[order], times[order]
        keep = np.ones(per_view, dtype=bool)
        keep[1:] = (keys[1:] != keys[:-1]) | (times[1:] != times[:-1])
        keys, times = keys[keep], times[keep]
        n = len(keys)
        columns: dict[str, Any] = {
            "driver_id": pa.array(keys, pa.int64()),
            "event_ts": pa.array(times, pa.timestamp("us")),
        }
        for name, kind in features:
            columns[name] = (
                pa.array(rng.random(n)) if kind == "float64" else pa.array(rng.integers(0, 1000, n))
            )
        table = pa.table(columns)
        shuffled = table.take(pa.array(rng.permutation(n)))
        pq.write_table(shuffled, folder / f"{view}.parquet", row_group_size=1 << 20)
    ids = rng.integers(0, int(entities * 1.05), entity_rows)  # ~5 % unknown drivers
    times = start_us + rng.integers(0, span_us + 10 * 86_400 * 1_000_000, entity_rows)
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array(ids, pa.int64()),
                "event_timestamp": pa.array(times, pa.timestamp("us")),
                "label": pa.array(rng.integers(0, 2, entity_rows)),
            }
        ),
        folder / "entities.parquet",
    )
    info = {
        "entities": entities,
        "feature_rows": feature_rows,
        "entity_rows": entity_rows,
        "views": {v: str(folder / f"{v}.parquet") for v in VIEWS},
        "entity_df": str(folder / "entities.parquet"),
        "end": (START + dt.timedelta(days=DAYS)).isoformat(),
    }
    info_path.write_text(json.dumps(info, indent=1))
    return info


def lookup_keys(entities: int, count: int, batch: int, seed: int = 7) -> list[list[int]]:
    """``count`` batches of ``batch`` driver ids to look up online (the same on both sides)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.integers(0, entities, batch).tolist() for _ in range(count)]


def percentiles(seconds: list[float]) -> dict[str, float]:
    import numpy as np

    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
    }
