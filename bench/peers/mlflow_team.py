"""MLflow side of the team store benchmark: clients of an MLflow tracking server over HTTP.

Runs inside bench/.venvs/mlflow-team (see bench_team_store.py), against
``mlflow server --backend-store-uri postgresql://...``, as teams run it. Modes:

    create URI FIRST COUNT     create runs FIRST.. with 10 params and 5 metrics
                               (create_run + log_batch + set_terminated: MLflow's fastest path)
    percall URI CALLS          mean time of one mlflow.log_metric call
    bulk URI POINTS            points/s through log_batch, 1,000 per call
    search URI RUNS REPEATS    median time of the unfiltered and the filtered search

The last stdout line is one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _workload as wl
import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

EXPERIMENT = "team-bench"


def _experiment(client: MlflowClient) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(EXPERIMENT))
    except Exception:  # another client created it meanwhile
        return str(client.get_experiment_by_name(EXPERIMENT).experiment_id)


def _barrier() -> None:
    """Say ready (BENCH_READY) and wait for the go (BENCH_GO): all clients start together."""
    Path(os.environ["BENCH_READY"]).touch()
    while not Path(os.environ["BENCH_GO"]).exists():
        time.sleep(0.005)


def create(client: MlflowClient, first: int, count: int) -> dict[str, float]:
    experiment_id = _experiment(client)
    _barrier()
    started = time.perf_counter()
    for i in range(first, first + count):
        ts = int(time.time() * 1000)
        run = client.create_run(experiment_id, run_name=f"run-{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, ts, 0) for k, v in wl.run_metrics(i).items()],
            params=[Param(k, str(v)) for k, v in wl.run_params(i).items()],
        )
        client.set_terminated(run.info.run_id)
    return {"runs": count, "seconds": time.perf_counter() - started, "end": time.time()}


def percall(calls: int) -> dict[str, float]:
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name="per-call"):
        for i in range(20):
            mlflow.log_metric("warmup", float(i), step=i)
        started = time.perf_counter()
        for i in range(calls):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        return {"log_metric_per_call_s": (time.perf_counter() - started) / calls}


def bulk(client: MlflowClient, points: int) -> dict[str, float]:
    steps, values = wl.bulk_series(points)
    run = client.create_run(_experiment(client), run_name="bulk")
    ts = int(time.time() * 1000)
    started = time.perf_counter()
    for start in range(0, points, 1000):
        batch = [
            Metric("loss", values[k], ts, steps[k]) for k in range(start, min(start + 1000, points))
        ]
        client.log_batch(run.info.run_id, metrics=batch)
    return {"bulk_points_per_s": points / (time.perf_counter() - started)}


def search(client: MlflowClient, runs: int, repeats: int) -> dict[str, float]:
    experiment_id = _experiment(client)

    def timed(filter_string: str) -> tuple[float, int]:
        times, n = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            found = client.search_runs(
                [experiment_id], filter_string=filter_string, max_results=50_000
            )
            times.append(time.perf_counter() - started)
            n = len(found)
        return statistics.median(times), n

    unfiltered, n_all = timed("")
    filtered, n_filtered = timed(wl.MLFLOW_FILTER)
    return {
        "search_all_s": unfiltered,
        "search_all_n": n_all,
        "search_filtered_s": filtered,
        "search_filtered_n": n_filtered,
    }


def main(argv: list[str]) -> int:
    mode, uri, *rest = argv
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    if mode == "create":
        result = create(client, int(rest[0]), int(rest[1]))
    elif mode == "percall":
        result = percall(int(rest[0]))
    elif mode == "bulk":
        result = bulk(client, int(rest[0]))
    else:
        result = search(client, int(rest[0]), int(rest[1]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
