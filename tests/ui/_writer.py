"""A notebook-like writer for the concurrency test: logs runs for a while, times every call.

python _writer.py STORE SECONDS OUT.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import workbench as wb


def main(store: str, seconds: float, out: str) -> None:
    client = wb.connect(store)
    latencies: list[float] = []
    slowest: dict[str, float] = {}

    def timed(call: object, *args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        result = call(*args, **kwargs)  # type: ignore[operator]
        elapsed = time.perf_counter() - started
        latencies.append(elapsed)
        name = getattr(call, "__name__", "?")
        slowest[name] = max(slowest.get(name, 0.0), elapsed)
        return result

    with client.start_run("live", "warm-up") as run:  # first-call costs (journal, heartbeat)
        run.log_metric("loss", 1.0)
    runs = 1
    Path(out).with_suffix(".started").touch()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = timed(client.start_run, "live", f"live-{runs}")
        timed(run.log_params, {"i": runs, "lr": 0.01 * (runs % 7)})  # type: ignore[attr-defined]
        for step in range(10):
            timed(run.log_metric, "loss", 1.0 / (step + 1), step=step)  # type: ignore[attr-defined]
        timed(run.end)  # type: ignore[attr-defined]
        runs += 1
        time.sleep(0.01)
    client.flush()
    latencies.sort()
    Path(out).write_text(
        json.dumps(
            {
                "runs": runs,
                "calls": len(latencies),
                "max_s": latencies[-1],
                "p99_s": latencies[int(0.99 * (len(latencies) - 1))],
                "median_s": latencies[len(latencies) // 2],
                "slowest_s": slowest,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
