"""MLflow side of the tracking benchmark. Runs inside bench/.venvs/mlflow (see bench_tracking.py).

Backend: SQLite (``sqlite:///<workdir>/mlflow.db``), MLflow's own default kind of store.
Progress goes to stderr; the last stdout line is one JSON object with the measurements.

Run creation uses ``MlflowClient.create_run`` + ``log_batch`` (10 params + 5 metrics in one call)
+ ``set_terminated``: three store calls per run, the fastest path MLflow's API offers. When
``--max-create-seconds`` runs out before ``--runs`` runs exist, the rest are inserted directly
into MLflow's tables through its SQLAlchemy engine and ORM tables (rows shaped like the API's), so
the searches still see ``--runs`` runs; ``create_method`` and ``create_runs_per_s`` say so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _workload as wl
import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

BATCH_LIMIT = 1000  # MLflow's maximum number of metrics in one log_batch call


def log(msg: str) -> None:
    print(f"[mlflow] {msg}", file=sys.stderr, flush=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def bench_log_metric(calls: int, experiment_id: str) -> dict[str, Any]:
    """Mean time of mlflow.log_metric in one active run: synchronous (default) and async."""
    out: dict[str, Any] = {"log_metric_calls": calls}
    with mlflow.start_run(experiment_id=experiment_id, run_name="per-call"):
        for i in range(20):  # warm-up: connection pool, caches
            mlflow.log_metric("warmup", float(i), step=i)
        t0 = time.perf_counter()
        for i in range(calls):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        out["log_metric_per_call_s"] = (time.perf_counter() - t0) / calls
    # MLflow's opt-in async logging, amortised including its flush: the buffered analogue.
    with mlflow.start_run(experiment_id=experiment_id, run_name="per-call-async"):
        mlflow.log_metric("warmup", 0.0, step=0, synchronous=False)
        mlflow.flush_async_logging()
        t0 = time.perf_counter()
        for i in range(calls):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
        mlflow.flush_async_logging()
        out["log_metric_async_per_call_s"] = (time.perf_counter() - t0) / calls
    return out


def bench_bulk(client: MlflowClient, points: int, experiment_id: str) -> dict[str, Any]:
    """Metric points per second through MlflowClient.log_batch, 1,000 points per call."""
    steps, values = wl.bulk_series(points)
    ts = now_ms()
    run = client.create_run(experiment_id, run_name="bulk")
    run_id = run.info.run_id
    t0 = time.perf_counter()
    for start in range(0, points, BATCH_LIMIT):
        batch = [
            Metric("loss", values[k], ts, steps[k])
            for k in range(start, min(start + BATCH_LIMIT, points))
        ]
        client.log_batch(run_id, metrics=batch)
    elapsed = time.perf_counter() - t0
    client.set_terminated(run_id)
    return {"bulk_points": points, "bulk_seconds": elapsed, "bulk_points_per_s": points / elapsed}


def _run_entities(i: int, ts: int) -> tuple[list[Metric], list[Param]]:
    metrics = [Metric(k, v, ts, 0) for k, v in wl.run_metrics(i).items()]
    params = [Param(k, str(v)) for k, v in wl.run_params(i).items()]
    return metrics, params


def _bulk_insert_runs(
    client: MlflowClient, experiment_id: str, first: int, last: int, artifact_root: str
) -> None:
    """Insert runs first..last-1 straight into MLflow's tables via its SQLAlchemy engine."""
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    store = client._tracking_client.store
    engine = store.engine
    chunk = 10_000
    for lo in range(first, last, chunk):
        hi = min(lo + chunk, last)
        runs, tags, params, metrics = [], [], [], []
        for i in range(lo, hi):
            run_id = uuid.uuid4().hex
            ts = now_ms()
            runs.append(
                {
                    "run_uuid": run_id,
                    "name": f"r{i}",
                    "source_type": "UNKNOWN",
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": "bench",
                    "status": "FINISHED",
                    "start_time": ts,
                    "end_time": ts,
                    "deleted_time": None,
                    "source_version": "",
                    "lifecycle_stage": "active",
                    "artifact_uri": f"{artifact_root}/{run_id}/artifacts",
                    "experiment_id": int(experiment_id),
                }
            )
            tags.append({"key": "mlflow.runName", "value": f"r{i}", "run_uuid": run_id})
            for k, v in wl.run_params(i).items():
                params.append({"key": k, "value": str(v), "run_uuid": run_id})
            for k, v in wl.run_metrics(i).items():
                metrics.append(
                    {
                        "key": k,
                        "value": v,
                        "timestamp": ts,
                        "step": 0,
                        "is_nan": False,
                        "run_uuid": run_id,
                    }
                )
        with engine.begin() as conn:
            conn.execute(SqlRun.__table__.insert(), runs)
            conn.execute(SqlTag.__table__.insert(), tags)
            conn.execute(SqlParam.__table__.insert(), params)
            conn.execute(SqlMetric.__table__.insert(), metrics)
            conn.execute(SqlLatestMetric.__table__.insert(), metrics)
        log(f"bulk-inserted runs {lo}..{hi - 1}")


def bench_create_runs(
    client: MlflowClient,
    runs: int,
    experiment_id: str,
    max_seconds: float | None,
    artifact_root: str,
) -> dict[str, Any]:
    """Create ``runs`` runs (10 params, 5 metrics each) through the API, within ``max_seconds``."""
    t0 = time.perf_counter()
    created = 0
    report_every = max(1, runs // 20)
    for i in range(runs):
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
        ts = now_ms()
        run = client.create_run(experiment_id, start_time=ts, run_name=f"r{i}")
        metrics, params = _run_entities(i, ts)
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        client.set_terminated(run.info.run_id)
        created += 1
        if created % report_every == 0:
            rate = created / (time.perf_counter() - t0)
            log(f"created {created}/{runs} runs via API ({rate:.0f} runs/s)")
    api_seconds = time.perf_counter() - t0
    out: dict[str, Any] = {
        "runs": runs,
        "create_api_runs": created,
        "create_api_seconds": api_seconds,
        "create_runs_per_s": created / api_seconds if created else None,
        "create_method": "MlflowClient.create_run + log_batch + set_terminated",
    }
    if created < runs:
        remaining = runs - created
        log(
            f"--max-create-seconds {max_seconds} reached after {created} runs; inserting the "
            f"other {remaining} directly through MLflow's SQLAlchemy tables"
        )
        t1 = time.perf_counter()
        _bulk_insert_runs(client, experiment_id, created, runs, artifact_root)
        bulk_seconds = time.perf_counter() - t1
        out["create_bulk_runs"] = remaining
        out["create_bulk_seconds"] = bulk_seconds
        out["create_bulk_runs_per_s"] = remaining / bulk_seconds
        out["create_method"] = (
            f"API (create_run + log_batch + set_terminated) for {created} runs, timed for "
            f"create_runs_per_s; direct SQLAlchemy Core inserts into MLflow's runs/tags/params/"
            f"metrics/latest_metrics tables for the other {remaining} (not an MLflow API path)"
        )
    return out


def bench_create_runs_fluent(runs: int, experiment_id: str) -> dict[str, Any]:
    """The everyday fluent path (start_run + log_params + log_metrics + end_run), on a sample."""
    t0 = time.perf_counter()
    for i in range(runs):
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"r{i}"):
            mlflow.log_params(wl.run_params(i))
            mlflow.log_metrics(wl.run_metrics(i))
    elapsed = time.perf_counter() - t0
    return {"create_fluent_runs": runs, "create_fluent_runs_per_s": runs / elapsed}


def _timed_search(
    experiment_id: str, filter_string: str, max_results: int, repeats: int, budget_s: float
) -> tuple[float, list[float], int]:
    times: list[float] = []
    rows = -1
    for _ in range(repeats):
        t0 = time.perf_counter()
        df = mlflow.search_runs(
            experiment_ids=[experiment_id], filter_string=filter_string, max_results=max_results
        )
        times.append(time.perf_counter() - t0)
        rows = len(df)
        if sum(times) > budget_s:
            break
    return statistics.median(times), times, rows


def bench_search(experiment_id: str, runs: int, repeats: int, budget_s: float) -> dict[str, Any]:
    max_results = max(runs, 1000)
    f_med, f_all, f_rows = _timed_search(
        experiment_id, wl.MLFLOW_FILTER, max_results, repeats, budget_s
    )
    log(f"filtered search: {f_med:.3f} s median of {len(f_all)}, {f_rows} rows")
    u_med, u_all, u_rows = _timed_search(experiment_id, "", max_results, repeats, budget_s)
    log(f"unfiltered search: {u_med:.3f} s median of {len(u_all)}, {u_rows} rows")
    return {
        "search_filter": wl.MLFLOW_FILTER,
        "search_filtered_s": f_med,
        "search_filtered_all_s": f_all,
        "search_filtered_rows": f_rows,
        "search_filtered_expected_rows": wl.expected_filtered(runs),
        "search_unfiltered_s": u_med,
        "search_unfiltered_all_s": u_all,
        "search_unfiltered_rows": u_rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calls", nargs="?", type=int, default=2000, help="log_metric calls (2000)")
    ap.add_argument("--runs", type=int, default=5000, help="runs to create and search (5000)")
    ap.add_argument("--points", type=int, default=200_000, help="bulk metric points (200000)")
    ap.add_argument(
        "--max-create-seconds",
        type=float,
        default=None,
        help="stop API run creation after this long and insert the rest via SQLAlchemy",
    )
    ap.add_argument("--search-repeats", type=int, default=5, help="searches per kind (median)")
    ap.add_argument(
        "--search-budget-seconds",
        type=float,
        default=60.0,
        help="stop repeating a search kind once its repeats took this long (at least one runs)",
    )
    ap.add_argument(
        "--fluent-sample", type=int, default=500, help="runs created via the fluent API (500)"
    )
    ap.add_argument(
        "--skip-small", action="store_true", help="skip log_metric, bulk and the fluent sample"
    )
    ap.add_argument("--workdir", type=Path, default=None, help="keep the store here")
    args = ap.parse_args(argv)

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-mlflow-")
        workdir = Path(tmp.name)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # MLflow's default artifact paths are relative to the working directory
    db = workdir / "mlflow.db"
    uri = f"sqlite:///{db}"
    artifact_root = (workdir / "artifacts").as_uri()

    out: dict[str, Any] = {
        "peer": "mlflow",
        "mlflow_version": mlflow.__version__,
        "backend": "sqlite",
        "python": sys.version.split()[0],
    }
    t0 = time.perf_counter()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp_small = client.create_experiment("bench-small", artifact_location=artifact_root)
    out["store_init_s"] = time.perf_counter() - t0  # schema creation + migrations
    log(f"MLflow {mlflow.__version__}, store {uri} initialised in {out['store_init_s']:.1f} s")

    if not args.skip_small:
        out.update(bench_log_metric(args.calls, exp_small))
        log(
            f"log_metric: {out['log_metric_per_call_s'] * 1e3:.2f} ms/call sync, "
            f"{out['log_metric_async_per_call_s'] * 1e3:.2f} ms/call async incl. flush"
        )
        out.update(bench_bulk(client, args.points, exp_small))
        log(f"log_batch: {out['bulk_points_per_s']:.0f} points/s")
        exp_fluent = client.create_experiment("bench-fluent", artifact_location=artifact_root)
        out.update(bench_create_runs_fluent(min(args.runs, args.fluent_sample), exp_fluent))
        log(f"create runs (fluent API): {out['create_fluent_runs_per_s']:.1f} runs/s")

    exp_runs = client.create_experiment("bench", artifact_location=artifact_root)
    out.update(
        bench_create_runs(client, args.runs, exp_runs, args.max_create_seconds, artifact_root)
    )
    if out["create_runs_per_s"]:
        log(f"create runs: {out['create_runs_per_s']:.1f} runs/s via API")
    out.update(bench_search(exp_runs, args.runs, args.search_repeats, args.search_budget_seconds))
    out["db_bytes"] = db.stat().st_size
    out["total_s"] = time.perf_counter() - t0

    print(json.dumps(out), flush=True)
    if tmp is not None:
        os.chdir("/")
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
