"""The team store against the MLflow tracking server, both on one PostgreSQL server.

    python bench/bench_team_store.py [--runs 2000] [--clients 8] [--search-runs 20000]

Starts a throw-away PostgreSQL server (as the tests do: the Debian ``postgresql`` package),
then measures the same work on both sides, in one run:

* runs/s: ``--clients`` processes create ``--runs`` runs with 10 params and 5 metrics, all
  started together; workbench's time ends when every run is on the server (shipped), MLflow's
  when its last client's last call returned;
* one ``log_metric`` call, amortised (workbench: into the journal; MLflow: an HTTP request);
* bulk points/s: workbench logs a series and ships it (``sync``); MLflow ``log_batch`` calls;
* search, unfiltered and filtered (``_workload``), over the ``--runs`` runs on both sides,
  then on workbench alone over ``--search-runs`` runs (creating that many runs through MLflow's
  server would take most of an hour).

MLflow (``mlflow server --backend-store-uri postgresql://...``, clients over HTTP, as teams run
it) is installed in ``bench/.venvs/mlflow-team`` on first use. Prints a table with ratios and
the goals of issue 13; ``--json`` the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent / "tests")]
import _workload as wl  # noqa: E402
from _peers import ensure_venv, run_in_venv  # noqa: E402
from _postgres import PostgresServer  # noqa: E402

MLFLOW_REQUIREMENTS = ["mlflow==3.17.2", "psycopg2-binary"]
PEER = BENCH / "peers" / "mlflow_team.py"
GOALS = {
    "log_metric per call ≤ 20 µs": ("log_metric_per_call_s", lambda v: v <= 20e-6),
    "≥ 500k points/s shipped": ("bulk_points_per_s", lambda v: v >= 500_000),
    "filtered search over --search-runs ≤ 200 ms": ("big_search_filtered_s", lambda v: v <= 0.2),
}

WORKBENCH_CLIENT = """
import os, sys, time, json
from pathlib import Path
sys.path.insert(0, {bench!r})
import _workload as wl
import workbench as wb
first, count, experiment = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
client = wb.connect()
client.store.sync()  # connected, schema checked
Path(os.environ["BENCH_READY"]).touch()
while not Path(os.environ["BENCH_GO"]).exists():
    time.sleep(0.005)
started = time.perf_counter()
for i in range(first, first + count):
    with client.start_run(experiment, f"run-{{i}}") as run:
        run.log_params(wl.run_params(i))
        run.log_metrics(wl.run_metrics(i))
client.flush()
assert client.store.sync()  # on the server
print(json.dumps({{"runs": count, "seconds": time.perf_counter() - started, "end": time.time()}}))
"""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _clients(commands: list[list[str]], env: dict[str, str], work: Path) -> dict[str, float]:
    """Run the client commands, start them together, return runs/s over the slowest one."""
    ready = [work / f"ready-{i}" for i in range(len(commands))]
    go = work / f"go-{time.monotonic_ns()}"
    processes = [
        subprocess.Popen(
            command,
            env={**env, "BENCH_READY": str(flag), "BENCH_GO": str(go)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for command, flag in zip(commands, ready, strict=True)
    ]
    while not all(flag.exists() for flag in ready):
        if any(p.poll() not in (None, 0) for p in processes):
            raise RuntimeError("a client died before starting")
        time.sleep(0.01)
    for flag in ready:
        flag.unlink()
    started = time.time()
    go.touch()
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=3600)
        if process.returncode != 0:
            raise RuntimeError(f"a client exited {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(r["end"] for r in results) - started
    runs = sum(r["runs"] for r in results)
    return {"runs": runs, "seconds": wall, "runs_per_s": runs / wall}


def _split(total: int, parts: int) -> list[tuple[int, int]]:
    size = -(-total // parts)
    return [(i, min(size, total - i)) for i in range(0, total, size)]


def _median_time(call: Any, repeats: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def bench_workbench(url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    env = {**os.environ, "WORKBENCH_STORE": url, "XDG_CACHE_HOME": str(work / "cache")}
    script = WORKBENCH_CLIENT.format(bench=str(BENCH))
    out: dict[str, Any] = {}
    log(f"workbench: {args.runs} runs from {args.clients} clients")
    created = _clients(
        [
            [sys.executable, "-c", script, str(a), str(n), "team-bench"]
            for a, n in _split(args.runs, args.clients)
        ],
        env,
        work,
    )
    out["runs_per_s"] = created["runs_per_s"]
    os.environ.update(WORKBENCH_STORE=url, XDG_CACHE_HOME=str(work / "cache"))
    import workbench as wb

    client = wb.connect(url)
    with client.start_run("team-bench", "per-call") as run:
        for i in range(1000):
            run.log_metric("warmup", float(i), step=i)
        started = time.perf_counter()
        for i in range(args.calls):
            run.log_metric("loss", 1.0 / (i + 1), step=i)
        out["log_metric_per_call_s"] = (time.perf_counter() - started) / args.calls
    client.flush()
    client.store.sync()
    steps, values = wl.bulk_series(args.points)
    with client.start_run("team-bench", "bulk") as run:
        started = time.perf_counter()
        run.log_metric_series("loss", values, steps=steps)
        client.flush()
        assert client.store.sync()
        out["bulk_points_per_s"] = args.points / (time.perf_counter() - started)
    for kind, text in (("all", None), ("filtered", wl.WORKBENCH_FILTER)):
        seconds, found = _median_time(
            lambda text=text: client.search_runs("team-bench", filter=text, max_results=None)
        )
        out[f"search_{kind}_s"], out[f"search_{kind}_n"] = seconds, len(found)
    if args.search_runs:
        log(f"workbench: {args.search_runs} more runs for the large search")
        _clients(
            [
                [sys.executable, "-c", script, str(a), str(n), "team-search"]
                for a, n in _split(args.search_runs, args.clients)
            ],
            env,
            work,
        )
        for kind, text in (("all", None), ("filtered", wl.WORKBENCH_FILTER)):
            seconds, found = _median_time(
                lambda text=text: client.search_runs(
                    "team-search", filter=text, max_results=None if text else 1000
                )
            )
            out[f"big_search_{kind}_s"], out[f"big_search_{kind}_n"] = seconds, len(found)
    client.close()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_mlflow(url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    python = ensure_venv("mlflow-team", MLFLOW_REQUIREMENTS)
    port = _free_port()
    server = subprocess.Popen(
        [
            str(python.parent / "mlflow"),
            "server",
            "--backend-store-uri",
            url,
            "--default-artifact-root",
            str(work / "mlflow-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(work / "mlflow-server.log").open("w"),
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mlflow server did not start: {work}/mlflow-server.log"
                    ) from None
                time.sleep(0.2)
        out: dict[str, Any] = {}
        log(f"mlflow: {args.runs} runs from {args.clients} clients over HTTP")
        created = _clients(
            [
                [str(python), str(PEER), "create", uri, str(a), str(n)]
                for a, n in _split(args.runs, args.clients)
            ],
            os.environ.copy(),
            work,
        )
        out["runs_per_s"] = created["runs_per_s"]
        out.update(run_in_venv(python, PEER, ["percall", uri, str(args.calls)]))
        out.update(run_in_venv(python, PEER, ["bulk", uri, str(min(args.points, 100_000))]))
        out.update(run_in_venv(python, PEER, ["search", uri, str(args.runs), "5"]))
        return out
    finally:
        server.terminate()
        server.wait(timeout=60)


ROWS = [
    ("runs/s, --clients processes", "runs_per_s", True),
    ("log_metric, per call", "log_metric_per_call_s", False),
    ("bulk points/s (workbench: shipped)", "bulk_points_per_s", True),
    ("search all --runs runs", "search_all_s", False),
    ("search filtered, --runs runs", "search_filtered_s", False),
]


def _fmt(key: str, value: float | None) -> str:
    """A rate (``..._per_s``) as a count per second, a duration (``..._s``) in µs or ms."""
    if value is None:
        return "-"
    if key.endswith("_per_s"):
        return f"{value:,.0f}/s"
    return f"{value * 1e6:.1f} µs" if value < 1e-3 else f"{value * 1e3:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=100_000, help="workbench log_metric calls")
    parser.add_argument("--points", type=int, default=1_000_000, help="bulk points")
    parser.add_argument("--search-runs", type=int, default=20_000)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-team-") as folder:
            work = Path(folder)
            results = {"workbench": bench_workbench(server.url(server.new_database()), args, work)}
            if not args.no_mlflow:
                mlflow_args = argparse.Namespace(**{**vars(args), "calls": min(args.calls, 2000)})
                results["mlflow"] = bench_mlflow(  # SQLAlchemy's own driver name
                    server.url(server.new_database(), driver="psycopg2"), mlflow_args, work
                )
    finally:
        server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    wb_side, ml_side = results["workbench"], results.get("mlflow", {})
    print(f"\n{'':38} {'workbench':>12} {'mlflow':>12} {'ratio':>8}")
    for label, key, higher in ROWS:
        w, m = wb_side.get(key), ml_side.get(key)
        ratio = "-" if not (w and m) else f"{(w / m if higher else m / w):.1f}x"
        print(f"{label:38} {_fmt(key, w):>12} {_fmt(key, m):>12} {ratio:>8}")
    for kind in ("all", "filtered"):
        key = f"big_search_{kind}_s"
        if key in wb_side:
            label = f"search {kind}, {args.search_runs:,} runs ({wb_side[key[:-1] + 'n']:,} rows)"
            print(f"{label:38} {_fmt(key, wb_side[key]):>12}")
    print()
    for goal, (key, met) in GOALS.items():
        value = wb_side.get(key)
        verdict = "-" if value is None else ("met" if met(value) else "NOT met")
        print(f"goal {goal}: {verdict} ({_fmt(key, value)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
