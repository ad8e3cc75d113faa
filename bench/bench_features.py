"""Feature store benchmark: workbench.features and Feast on the same data and definitions.

    python bench/bench_features.py                                  # 1M entities, 10M rows, 1M rows
    python bench/bench_features.py --entities 100000 --feature-rows 1000000 --entity-rows 100000
    python bench/bench_features.py --workbench-only --json out.json
    python bench/bench_features.py --skip-feast-join   # Feast's join only where it finishes

The data (``_features_workload``: three views of one entity in parquet files, an entity table)
is written once per size under ``bench/.cache/`` (git ignores it). Each side runs in its own
process: workbench with this interpreter, Feast 0.67 (its local provider: the file offline
store and the SQLite online store) in ``bench/.venvs/feast``. Work measured on each side:

* the point-in-time join of the entity rows against the three views (all 7 features; workbench:
  its first call, which also checks each source for duplicate rows, and a second call);
* materializing the first view for all its entities to the online store (workbench validates
  the rows against the view's expectations first, as it does by default);
* online lookups of one entity and of 100 entities, in process: p50 and p99.

The closing note prints the ratios and whether the two sides agree: every joined value on the
rows both returned, the rows Feast did not return, and 200 online lookups.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _features_workload as wl
from _peers import ensure_venv, run_in_venv

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
FEAST_REQUIREMENTS = ["feast==0.67.0"]
FEAST_SCRIPT = BENCH_DIR / "peers" / "feast_features.py"
GOALS = {"join": 10.0, "materialize": 5.0}
GOAL_LOOKUP_P50_MS = 1.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ workbench worker
def worker(data: str, work: str, lookups: int, save_join: str | None) -> int:
    """The workbench side, in its own process: prints one JSON line."""
    import datetime as dt

    import pandas as pd

    sys.path.insert(0, str(REPO_ROOT))
    import workbench
    from workbench import features as wf

    info = json.loads((Path(data) / "info.json").read_text())
    client = workbench.connect(Path(work) / "store")
    driver = wf.Entity("driver", join_keys={"driver_id": "int64"})
    views = [
        wf.FeatureView(
            name,
            entities=[driver],
            source=wf.FileSource(info["views"][name], timestamp="event_ts"),
            features=[wf.Feature(f, t, nullable=False, ge=0) for f, t in features],
            ttl=dt.timedelta(days=wl.TTL_DAYS),
        )
        for name, features in wl.VIEWS.items()
    ]
    result: dict[str, Any] = {"workbench": workbench.__version__}
    began = time.perf_counter()
    wf.register_features(*views, client=client)
    result["register_s"] = time.perf_counter() - began

    entity_df = pd.read_parquet(info["entity_df"])
    refs = wl.feature_refs()
    for attempt in ("join_first_s", "join_second_s"):
        began = time.perf_counter()
        joined = wf.get_historical_features(
            entity_df, refs, timestamp="event_timestamp", run=False, client=client
        )
        result[attempt] = time.perf_counter() - began
        log(f"workbench {attempt}: {result[attempt]:.2f} s")
    began = time.perf_counter()
    wf.get_historical_features(
        entity_df, refs, timestamp="event_timestamp", output="arrow", run=False, client=client
    )
    result["join_arrow_s"] = time.perf_counter() - began
    result["join_rows"] = len(joined)
    result["join_nonnull"] = int(joined["conv_rate"].notna().sum())
    if save_join:
        joined.to_parquet(save_join)

    view = views[0]
    began = time.perf_counter()
    report = view.validate()
    result["validate_s"] = time.perf_counter() - began
    result["validate_rows"] = report.rows
    end = dt.datetime.fromisoformat(info["end"]) + dt.timedelta(days=1)
    began = time.perf_counter()
    done = wf.materialize(view, None, end, client=client)
    result["materialize_s"] = time.perf_counter() - began
    result["materialized_entities"] = done.views[0].entities_total
    log(f"workbench materialize: {result['materialize_s']:.2f} s")

    online = wf.get_online_store(client=client)
    feature_refs = [f"{wl.MATERIALIZED_VIEW}:{f}" for f, _ in wl.VIEWS[wl.MATERIALIZED_VIEW]]
    # the data is from 2024: TTLs are judged at its end, so lookups find values (as fresh data
    # would at serving time) instead of all expiring
    as_of = end
    began = time.perf_counter()
    online.get_online_features([{"driver_id": 0}], feature_refs, as_of=as_of)  # map, index
    result["online_first_lookup_s"] = time.perf_counter() - began
    for batch in (1, 100):
        groups = wl.lookup_keys(info["entities"], lookups if batch == 1 else lookups // 5, batch)
        times = []
        for group in groups:
            began = time.perf_counter()
            online.get_online_features([{"driver_id": k} for k in group], feature_refs, as_of=as_of)
            times.append(time.perf_counter() - began)
        result[f"lookup_{batch}"] = wl.percentiles(times)
    times = []
    for group in wl.lookup_keys(info["entities"], lookups, 1):
        began = time.perf_counter()
        wf.get_online_features([{"driver_id": group[0]}], feature_refs, as_of=as_of, client=client)
        times.append(time.perf_counter() - began)
    result["lookup_1_module_function"] = wl.percentiles(times)
    result["online_check"] = online.get_online_features(
        [{"driver_id": k} for k in range(200)], feature_refs, as_of=as_of
    )
    result["online_found"] = sum(v is not None for v in result["online_check"]["conv_rate"])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    client.close()
    print(json.dumps(result, default=str))
    return 0


def run_workbench(data: Path, work: Path, lookups: int, save_join: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", str(data), str(work), str(lookups), str(save_join)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# ------------------------------------------------------------------------------ agreement
def compare_joins(ours: Path, theirs: Path) -> dict[str, Any]:
    """Every feature value on the rows both returned; the rows only one side returned."""
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(ours)
    b = pd.read_parquet(theirs)
    b["event_timestamp"] = pd.to_datetime(b["event_timestamp"], utc=True).dt.tz_localize(None)
    a["event_timestamp"] = pd.to_datetime(a["event_timestamp"]).astype("datetime64[us]")
    b["event_timestamp"] = b["event_timestamp"].astype("datetime64[us]")
    a["__row"] = np.arange(len(a))
    merged = a.merge(b, on=["driver_id", "event_timestamp"], suffixes=("", "_feast"))
    features = [f for fs in wl.VIEWS.values() for f, _ in fs]
    mismatched = 0
    for feature in features:
        left = merged[feature].astype("float64").to_numpy()
        right = merged[f"{feature}_feast"].astype("float64").to_numpy()
        same = (left == right) | (np.isnan(left) & np.isnan(right))
        mismatched += int((~same).sum())
    dropped = a[~a["__row"].isin(merged["__row"])]
    return {
        "rows_workbench": len(a),
        "rows_feast": len(b),
        "rows_compared": len(merged),
        "values_compared": len(merged) * len(features),
        "values_different": mismatched,
        "rows_feast_dropped": len(dropped),
        "dropped_rows_with_a_value_here": int(dropped["conv_rate"].notna().sum()),
    }


def compare_online(ours: dict[str, list[Any]], theirs: dict[str, list[Any]]) -> dict[str, int]:
    """Equal values where workbench has one; where it has none, the value expired (its TTL is
    applied online too, at the data's end here; Feast's online read ignores TTLs)."""
    different = expired = compared = 0
    for column, values in ours.items():
        for x, y in zip(values, theirs.get(column, []), strict=False):
            if x is None and y is not None:
                expired += 1
                continue
            compared += 1
            if x != y:
                different += 1
    return {"values_compared": compared, "values_different": different, "expired_here": expired}


# ------------------------------------------------------------------------------ report
def ratio(peer: float | None, ours: float) -> str:
    return "-" if peer is None else f"{peer / ours:.1f}x"


def print_report(info: dict[str, Any], ours: dict[str, Any], feast: dict[str, Any] | None) -> None:
    f = feast or {}
    lines = [
        "",
        f"Feature store benchmark: {info['entities']:,} entities, {info['feature_rows']:,} "
        f"feature rows in 3 views, {info['entity_rows']:,} entity rows",
        f"{'work':<44}{'workbench':>14}{'Feast':>14}{'ratio':>9}",
    ]

    def row(label: str, mine: float, theirs: float | None, unit: str = "s") -> None:
        shown = "-" if theirs is None else f"{theirs:.3f} {unit}"
        lines.append(f"{label:<44}{mine:>12.3f} {unit}{shown:>14}{ratio(theirs, mine):>9}")

    row("point-in-time join, first call", ours["join_first_s"], f.get("join_s"))
    row("point-in-time join, second call", ours["join_second_s"], f.get("join_s"))
    row("materialize 1 view (validated)", ours["materialize_s"], f.get("materialize_s"))
    for batch in (1, 100):
        for p in ("p50_ms", "p99_ms"):
            theirs = f.get(f"lookup_{batch}", {}).get(p)
            row(f"online lookup, {batch} entit{'y' if batch == 1 else 'ies'}, {p[:3]}",
                ours[f"lookup_{batch}"][p], theirs, "ms")  # fmt: skip
    lines.append(
        f"workbench.features.get_online_features (1 entity, resolving the client): p50 "
        f"{ours['lookup_1_module_function']['p50_ms']:.3f} ms, p99 "
        f"{ours['lookup_1_module_function']['p99_ms']:.3f} ms"
    )
    lines.append(
        f"workbench validate() alone: {ours['validate_s']:.2f} s for "
        f"{ours['validate_rows']:,} rows; peak RSS {ours['peak_rss_mb']:.0f} MB"
    )
    if feast:
        if "join_s" in feast:
            goal = ours["join_first_s"] * GOALS["join"] <= feast["join_s"]
            lines.append(f"Goal >= 10x Feast on the join: [{'MET' if goal else 'NOT MET'}]")
        goal = ours["materialize_s"] * GOALS["materialize"] <= feast["materialize_s"]
        lines.append(f"Goal >= 5x Feast on materialization: [{'MET' if goal else 'NOT MET'}]")
    p50 = ours["lookup_1"]["p50_ms"]
    lines.append(
        f"Goal online p50 <= 1 ms in process: [{'MET' if p50 <= GOAL_LOOKUP_P50_MS else 'NOT MET'}]"
    )
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="workbench.features vs Feast")
    ap.add_argument("--entities", type=int, default=1_000_000)
    ap.add_argument("--feature-rows", type=int, default=10_000_000)
    ap.add_argument("--entity-rows", type=int, default=1_000_000)
    ap.add_argument("--lookups", type=int, default=2000, help="single-entity lookups timed")
    ap.add_argument("--workbench-only", action="store_true")
    ap.add_argument("--skip-feast-join", action="store_true", help="Feast: no join (too slow)")
    ap.add_argument("--feast-timeout", type=float, default=3600.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        data, work, lookups, save = args.worker
        return worker(data, work, int(lookups), save)

    data = BENCH_DIR / ".cache" / f"features-{args.entities}-{args.feature_rows}-{args.entity_rows}"
    log(f"data in {data}")
    info = wl.generate(
        data, entities=args.entities, feature_rows=args.feature_rows, entity_rows=args.entity_rows
    )
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        work = Path(tmp)
        log("workbench side")
        ours = run_workbench(data, work / "wb", args.lookups, work / "wb-join.parquet")
        feast = None
        if not args.workbench_only:
            python = ensure_venv("feast", FEAST_REQUIREMENTS)
            log("Feast side (minutes at 1M rows)")
            peer_args = [str(data), str(work / "feast"), "--lookups", str(args.lookups)]
            if args.skip_feast_join:
                peer_args.append("--skip-join")
            else:
                peer_args += ["--save-join", str(work / "feast-join.parquet")]
            feast = run_in_venv(python, FEAST_SCRIPT, peer_args, timeout=args.feast_timeout)
            agreement: dict[str, Any] = {
                "online": compare_online(ours["online_check"], feast["online_check"])
            }
            if not args.skip_feast_join:
                agreement["join"] = compare_joins(
                    work / "wb-join.parquet", work / "feast-join.parquet"
                )
            feast["agreement"] = agreement
            log(f"agreement: {json.dumps(agreement)}")
    print_report(info, ours, feast)
    if args.json is not None:
        for side in (ours, feast or {}):
            side.pop("online_check", None)
        payload = {
            "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
            "data": info,
            "workbench": ours,
            "feast": feast,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
