"""Tracking benchmark: the same work through workbench (in-process) and MLflow (peer venv).

    python bench/bench_tracking.py                  # 5,000 runs
    python bench/bench_tracking.py --large          # also 100,000 runs (MLflow part takes minutes)
    python bench/bench_tracking.py --peer-only      # MLflow only
    python bench/bench_tracking.py --json out.json

MLflow runs in ``bench/.venvs/mlflow`` (created on first use, ~45 s) on its SQLite store; see
``peers/mlflow_tracking.py``. The workload (params, metrics, filter) is in ``_workload.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _workload, _peers when imported
import _workload as wl
from _peers import ensure_venv, run_in_venv

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

MLFLOW_REQUIREMENTS = ["mlflow==3.17.2"]  # 3.18.0's mlflow-skinny was not on PyPI's index here
MLFLOW_SCRIPT = BENCH_DIR / "peers" / "mlflow_tracking.py"
LARGE_RUNS = 100_000
LARGE_MAX_CREATE_SECONDS = 300.0

# The goals for workbench.
GOAL_LOG_METRIC_S = 20e-6
GOAL_BULK_POINTS_PER_S = 1_000_000
GOAL_RUNS_PER_S = 2_000
GOAL_SEARCH_100K_S = 0.100


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- MLflow (peer)


def run_mlflow(
    runs: int, calls: int, points: int, skip_small: bool, max_create_seconds: float | None
) -> dict[str, Any]:
    started = time.perf_counter()
    python = ensure_venv("mlflow", MLFLOW_REQUIREMENTS)
    venv_s = time.perf_counter() - started
    args = [str(calls), "--runs", str(runs), "--points", str(points)]
    if skip_small:
        args.append("--skip-small")
    if max_create_seconds is not None:
        args += ["--max-create-seconds", str(max_create_seconds)]
    log(f"MLflow peer: {' '.join(args)}")
    result = run_in_venv(python, MLFLOW_SCRIPT, args)
    result["venv_ready_s"] = venv_s
    return result


# --------------------------------------------------------------------------- workbench


def _import_workbench() -> Any:
    try:
        import workbench
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT))
        import workbench
    return workbench


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def run_workbench(
    runs: int, calls: int, points: int, skip_small: bool, repeats: int = 5
) -> dict[str, Any]:
    """The same workloads through workbench's tracking API, in this process, on a fresh store."""
    import numpy as np

    wb = _import_workbench()
    out: dict[str, Any] = {"peer": "workbench", "version": getattr(wb, "__version__", None)}
    with tempfile.TemporaryDirectory(prefix="bench-workbench-") as tmp:
        t0 = time.perf_counter()
        wb.set_store(Path(tmp) / "store")
        out["store_init_s"] = time.perf_counter() - t0

        if not skip_small:
            # log_metric per call, amortised including the flush that makes it durable.
            with wb.start_run(experiment="bench-small", name="per-call") as run:
                for i in range(20):
                    run.log_metric("warmup", float(i), step=i)
                wb.flush()
                t0 = time.perf_counter()
                for i in range(calls):
                    run.log_metric("loss", 1.0 / (i + 1), step=i)
                wb.flush()
                out["log_metric_per_call_s"] = (time.perf_counter() - t0) / calls
            out["log_metric_calls"] = calls
            log(f"workbench log_metric: {out['log_metric_per_call_s'] * 1e6:.1f} µs/call")

            # Bulk: one series of `points` points, including the flush.
            steps_list, values_list = wl.bulk_series(points)
            steps = np.asarray(steps_list, dtype=np.int64)
            values = np.asarray(values_list, dtype=np.float64)
            with wb.start_run(experiment="bench-small", name="bulk") as run:
                t0 = time.perf_counter()
                run.log_metric_series("loss", values, steps=steps)
                wb.flush()
                elapsed = time.perf_counter() - t0
            out.update(bulk_points=points, bulk_seconds=elapsed, bulk_points_per_s=points / elapsed)
            log(f"workbench bulk: {out['bulk_points_per_s']:.0f} points/s")

        # Runs: `runs` runs with 10 params and 5 metrics each, end to end including the flush.
        t0 = time.perf_counter()
        for i in range(runs):
            with wb.start_run(experiment="bench", name=f"r{i}") as run:
                run.log_params(wl.run_params(i))
                run.log_metrics(wl.run_metrics(i))
        wb.flush()
        elapsed = time.perf_counter() - t0
        out.update(runs=runs, create_seconds=elapsed, create_runs_per_s=runs / elapsed)
        out["create_method"] = "wb.start_run + log_params + log_metrics, then wb.flush()"
        log(f"workbench create runs ({runs}): {out['create_runs_per_s']:.0f} runs/s")

        f_med, f_all, f_df = _median_time(
            lambda: wb.search_runs(
                experiment="bench", filter=wl.WORKBENCH_FILTER, max_results=None
            ),
            repeats,
        )
        u_med, u_all, u_df = _median_time(
            lambda: wb.search_runs(experiment="bench", max_results=None), repeats
        )
        out.update(
            search_filter=wl.WORKBENCH_FILTER,
            search_filtered_s=f_med,
            search_filtered_all_s=f_all,
            search_filtered_rows=len(f_df),
            search_filtered_expected_rows=wl.expected_filtered(runs),
            search_unfiltered_s=u_med,
            search_unfiltered_all_s=u_all,
            search_unfiltered_rows=len(u_df),
        )
        log(
            f"workbench search ({runs} runs): filtered {f_med * 1e3:.1f} ms "
            f"({len(f_df)} rows), unfiltered {u_med * 1e3:.1f} ms ({len(u_df)} rows)"
        )
        if hasattr(wb, "close"):
            wb.close()
    return out


# --------------------------------------------------------------------------- report

# (label, key, kind, unit): kind "time" = lower is better, "rate" = higher is better.
ROWS = [
    ("log_metric, per call", "log_metric_per_call_s", "time", "us"),
    ("bulk points/s", "bulk_points_per_s", "rate", "/s"),
    ("create runs/s ({runs})", "create_runs_per_s", "rate", "/s"),
    ("search filtered ({runs})", "search_filtered_s", "time", "ms"),
    ("search unfiltered ({runs})", "search_unfiltered_s", "time", "ms"),
]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "us":
        return f"{value * 1e6:,.1f} µs"
    if unit == "ms":
        return f"{value * 1e3:,.1f} ms"
    return f"{value:,.0f}{unit}"


def _ratio(wb_value: float | None, peer_value: float | None, kind: str) -> float | None:
    if not wb_value or not peer_value:
        return None
    return peer_value / wb_value if kind == "time" else wb_value / peer_value


def build_rows(
    results: dict[int, dict[str, dict[str, Any] | None]],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for runs, sides in results.items():
        wbr = sides.get("workbench") or {}
        mlr = sides.get("mlflow") or {}
        for label, key, kind, unit in ROWS:
            if key not in wbr and key not in mlr:
                continue
            wv, mv = wbr.get(key), mlr.get(key)
            rows.append(
                {
                    "workload": label.format(runs=f"{runs:,} runs"),
                    "key": key,
                    "runs": runs,
                    "workbench": wv,
                    "mlflow": mv,
                    "ratio": _ratio(wv, mv, kind),
                    "unit": unit,
                }
            )
        if "create_fluent_runs_per_s" in mlr:
            wv = wbr.get("create_runs_per_s")
            mv = mlr["create_fluent_runs_per_s"]
            rows.append(
                {
                    "workload": f"runs/s vs MLflow fluent ({mlr['create_fluent_runs']} runs)",
                    "key": "create_fluent_runs_per_s",
                    "runs": runs,
                    "workbench": wv,
                    "mlflow": mv,
                    "ratio": _ratio(wv, mv, "rate"),
                    "unit": "/s",
                }
            )
        if "log_metric_async_per_call_s" in mlr:
            wv = wbr.get("log_metric_per_call_s")
            mv = mlr["log_metric_async_per_call_s"]
            rows.append(
                {
                    "workload": "log_metric vs MLflow async (incl. flush)",
                    "key": "log_metric_async_per_call_s",
                    "runs": runs,
                    "workbench": wv,
                    "mlflow": mv,
                    "ratio": _ratio(wv, mv, "time"),
                    "unit": "us",
                }
            )
    return rows


def build_goals(results: dict[int, dict[str, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    wb_by_runs = {runs: sides.get("workbench") for runs, sides in results.items()}
    first = next((r for r in wb_by_runs.values() if r and "log_metric_per_call_s" in r), None)
    goals: list[dict[str, Any]] = []

    def add(goal: str, value: float | None, ok: bool | None, shown: str) -> None:
        status = "n/a" if ok is None else ("pass" if ok else "MISS")
        goals.append({"goal": goal, "value": value, "status": status, "shown": shown})

    v = first.get("log_metric_per_call_s") if first else None
    add(
        "log_metric ≤ 20 µs amortised",
        v,
        None if v is None else v <= GOAL_LOG_METRIC_S,
        _fmt(v, "us"),
    )
    v = first.get("bulk_points_per_s") if first else None
    add("bulk ≥ 1M points/s", v, None if v is None else v >= GOAL_BULK_POINTS_PER_S, _fmt(v, "/s"))
    for runs, r in wb_by_runs.items():
        v = r.get("create_runs_per_s") if r else None
        add(
            f"≥ 2,000 runs/s ({runs:,} runs)",
            v,
            None if v is None else v >= GOAL_RUNS_PER_S,
            _fmt(v, "/s"),
        )
    r100k = wb_by_runs.get(LARGE_RUNS)
    v = r100k.get("search_filtered_s") if r100k else None
    add(
        "filtered search over 100k ≤ 100 ms",
        v,
        None if v is None else v <= GOAL_SEARCH_100K_S,
        _fmt(v, "ms") if r100k else "— (needs --large)",
    )
    return goals


def print_report(rows: list[dict[str, Any]], goals: list[dict[str, Any]]) -> None:
    header = ("workload", "workbench", "MLflow", "ratio (x faster)")
    table = [header] + [
        (
            r["workload"],
            _fmt(r["workbench"], r["unit"]),
            _fmt(r["mlflow"], r["unit"]),
            "—" if r["ratio"] is None else f"{r['ratio']:,.1f}x",
        )
        for r in rows
    ]
    widths = [max(len(row[c]) for row in table) for c in range(4)]
    sep = "-+-".join("-" * w for w in widths)
    print()
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [row[c].rjust(widths[c]) for c in (1, 2, 3)]
        print(" | ".join(cells))
        if n == 0:
            print(sep)
    print()
    print("Goals (workbench):")
    for g in goals:
        print(f"  [{g['status']:>4}] {g['goal']}: {g['shown']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="workbench vs MLflow tracking benchmark")
    ap.add_argument("--runs", type=int, default=5000, help="runs to create and search (5000)")
    ap.add_argument("--large", action="store_true", help=f"also {LARGE_RUNS:,} runs")
    ap.add_argument("--calls", type=int, default=2000, help="MLflow log_metric calls (2000)")
    ap.add_argument(
        "--wb-calls",
        type=int,
        default=100_000,
        help="workbench log_metric calls (100000): a training loop's worth, so the one flush "
        "at the end is amortised as it is in real use (MLflow pays per call, so 2000 suffice)",
    )
    ap.add_argument("--points", type=int, default=200_000, help="bulk points (200000)")
    ap.add_argument(
        "--max-create-seconds",
        type=float,
        default=LARGE_MAX_CREATE_SECONDS,
        help="MLflow API run-creation budget for the --large size; the rest is bulk-inserted",
    )
    ap.add_argument("--peer-only", action="store_true", help="run only the MLflow side")
    ap.add_argument("--workbench-only", action="store_true", help="run only workbench")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    args = ap.parse_args(argv)

    sizes = [args.runs] + ([LARGE_RUNS] if args.large and args.runs != LARGE_RUNS else [])
    results: dict[int, dict[str, dict[str, Any] | None]] = {}
    started = time.perf_counter()
    for n, runs in enumerate(sizes):
        skip_small = n > 0
        sides: dict[str, dict[str, Any] | None] = {"workbench": None, "mlflow": None}
        if not args.peer_only:
            log(f"workbench, {runs:,} runs")
            sides["workbench"] = run_workbench(runs, args.wb_calls, args.points, skip_small)
        if not args.workbench_only:
            budget = args.max_create_seconds if runs >= LARGE_RUNS else None
            log(f"MLflow, {runs:,} runs")
            sides["mlflow"] = run_mlflow(runs, args.calls, args.points, skip_small, budget)
        results[runs] = sides

    for runs, sides in results.items():
        for side in sides.values():
            if side and side.get("search_filtered_rows") != side.get(
                "search_filtered_expected_rows"
            ):
                log(
                    f"WARNING: {side['peer']} filtered search over {runs} runs returned "
                    f"{side.get('search_filtered_rows')} rows, expected "
                    f"{side.get('search_filtered_expected_rows')}"
                )
        ml = sides.get("mlflow")
        if ml and ml.get("create_bulk_runs"):
            log(f"note: MLflow {runs:,} runs: {ml['create_method']}")

    rows = build_rows(results)
    goals = build_goals(results)
    print_report(rows, goals)
    if args.json is not None:
        payload = {
            "machine": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "processor": platform.processor(),
            },
            "filter": {"workbench": wl.WORKBENCH_FILTER, "mlflow": wl.MLFLOW_FILTER},
            "results": {str(k): v for k, v in results.items()},
            "rows": rows,
            "goals": goals,
            "total_s": time.perf_counter() - started,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
