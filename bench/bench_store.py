"""Store benchmark: the cost of the durability promise, and reads under write load.

    python bench/bench_store.py                # all parts
    python bench/bench_store.py --part calls   # logging cost with and without backpressure
    python bench/bench_store.py --part load    # reads under 8 writers (tests/store/_stress.py)

``calls``: one process logs 1,000,000 points as fast as it can, once as shipped (the logging
call writes the batch itself when the flusher is more than one interval late) and once with
that backpressure switched off, to show what it costs; also the longest a value waited in
memory before its batch was written.

``load``: eight writer processes at 20,000 points/s each with tags and text artifacts, a reader
polling ``search_runs`` and a metric history, a syncer; run once without kills (steady state)
and once with a ``kill -9`` every 1-3 s (writers, the ingesting process, the syncer). The peer
for this part would be MLflow's tracking store shared by eight processes; MLflow on SQLite
serializes writers on one database lock (``bench_tracking.py`` measures its single-process
speed), so the comparison that matters here is against the promise: nothing lost, reads fast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "store"))  # the stress harness

import workbench as wb  # noqa: E402
from workbench.config import durability_bound  # noqa: E402
from workbench.tracking import _recorder  # noqa: E402

N_CALLS = 1_000_000


def _log_many(folder: Path, backpressure: bool) -> dict[str, float]:
    if not backpressure:
        original = _recorder.Recorder._note_buffered
        _recorder.Recorder._note_buffered = lambda self: (original(self), False)[1]  # type: ignore[method-assign]
    waits: list[float] = []
    original_flush = _recorder.Recorder.flush

    def timed_flush(self: _recorder.Recorder) -> None:
        oldest = self._oldest
        original_flush(self)
        if oldest:
            waits.append(time.monotonic() - oldest)

    _recorder.Recorder.flush = timed_flush  # type: ignore[method-assign]
    try:
        client = wb.Workbench(folder)
        with client.start_run("calls") as run:
            started, cpu = time.perf_counter(), time.process_time()
            for step in range(N_CALLS):
                run.log_metric("loss", 0.5, step=step)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        client.close()
    finally:
        _recorder.Recorder.flush = original_flush  # type: ignore[method-assign]
        if not backpressure:
            _recorder.Recorder._note_buffered = original  # type: ignore[method-assign]
    return {
        "us_per_call": elapsed / N_CALLS * 1e6,
        "cpu_us_per_call": cpu / N_CALLS * 1e6,
        "longest_wait_in_memory_s": max(waits) if waits else 0.0,
    }


def bench_calls() -> dict[str, Any]:
    results = {}
    for backpressure in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            results["with" if backpressure else "without"] = _log_many(Path(tmp), backpressure)
    return results


def bench_load(seconds: float) -> dict[str, Any]:
    import _stress

    results = {}
    for kills in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            report = _stress.run(
                Path(tmp),
                seconds=seconds,
                bound_s=durability_bound(),
                rate=20_000,
                kill_every=(1.0, 3.0) if kills else None,
            )
        entry: dict[str, Any] = {"problems": len(report.problems), "summary": report.summary()}
        for kind, values in report.read_ms.items():
            steady = report.steady(kind)
            entry[kind] = {
                "p50_ms": statistics.median(values),
                "p99_ms": report.percentile(kind, 0.99),
                "p99_steady_ms": steady[int(0.99 * (len(steady) - 1))] if steady else None,
                "n": len(values),
            }
        results["with kills" if kills else "no kills"] = entry
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("calls", "load", "all"), default="all")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.part in ("calls", "all"):
        results["calls"] = bench_calls()
        for mode, r in results["calls"].items():
            print(
                f"log_metric {mode} backpressure: {r['us_per_call']:.2f} µs/call "
                f"({r['cpu_us_per_call']:.2f} µs CPU), longest wait in memory "
                f"{r['longest_wait_in_memory_s']:.3f} s"
            )
    if args.part in ("load", "all"):
        results["load"] = bench_load(args.seconds)
        for mode, r in results["load"].items():
            print(f"{mode}: {r['summary']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
