"""One process of the store stress test: a fast writer, a reader, or a syncer.

Every role appends acknowledgement lines to its own file *after* the call they describe has
returned. The file is line-buffered, so each line is one ``write`` and survives ``kill -9``
like the store's own journal. Writers acknowledge metric points in groups (one line per
``ACK_EVERY`` points, carrying the time the last of them was acknowledged): every point in a
group was acknowledged no later than its line's time, which keeps the check sound while the
writer logs as fast as it can. Any exception becomes an ``EXC`` line and exit code 1.

Lines::

    start RUN T            run started
    pt RUN STEP T          points 0..STEP of RUN acknowledged by time T
    tag RUN KEY VALUE T    set_tag returned
    art RUN PATH T         log_text returned
    end RUN T              run.end() returned (status finished)
    rate POINTS SECONDS    the writer's own logging rate over one run
    read KIND MS T         one reader call (search or history) and its latency
    sync MS T              one full ingest by the syncer role
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

import workbench as wb

ACK_EVERY = 256


def write(store: Path, ack: TextIO, stop: Path, seed: int, rate: float) -> None:
    """Log runs of metric points at ``rate`` points/s (0: as fast as possible)."""
    rng = random.Random(seed)
    wb.set_store(store)
    n = 0
    while not stop.exists():
        n += 1
        n_points = rng.randint(5_000, 60_000)
        with wb.start_run(experiment="stress", name=f"w{seed}-{n}") as run:
            ack.write(f"start {run.run_id} {time.time()}\n")
            run.log_params({"seed": seed, "n": n})
            started = time.perf_counter()
            for step in range(n_points):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
                if step % ACK_EVERY == ACK_EVERY - 1 or step == n_points - 1:
                    ack.write(f"pt {run.run_id} {step} {time.time()}\n")
                    if rate:  # keep to the schedule: sleep while ahead of it
                        ahead = started + (step + 1) / rate - time.perf_counter()
                        if ahead > 0:
                            time.sleep(ahead)
                if step % 4_000 == 1_000:
                    value = f"v{step}"
                    run.set_tag(f"tag{step}", value)
                    ack.write(f"tag {run.run_id} tag{step} {value} {time.time()}\n")
                if step % 9_000 == 2_000:
                    path = f"notes-{step}.txt"
                    run.log_text(f"step {step} of {run.run_id}", path)
                    ack.write(f"art {run.run_id} {path} {time.time()}\n")
            elapsed = time.perf_counter() - started
        ack.write(f"end {run.run_id} {time.time()}\n")
        ack.write(f"rate {n_points} {elapsed}\n")


def read(store: Path, ack: TextIO, stop: Path) -> None:
    wb.set_store(store)
    rng = random.Random(0)
    while not stop.exists():
        started = time.perf_counter()
        runs = wb.search_runs("stress", filter="params.seed >= 0", max_results=None)
        ack.write(f"read search {(time.perf_counter() - started) * 1e3:.2f} {time.time()}\n")
        if len(runs):
            run_id = runs["run_id"].iloc[rng.randrange(len(runs))]
            started = time.perf_counter()
            wb.get_metric_history(run_id, "loss")
            ack.write(f"read history {(time.perf_counter() - started) * 1e3:.2f} {time.time()}\n")
        time.sleep(0.05)


def sync(store: Path, ack: TextIO, stop: Path) -> None:
    """A process that makes every journal visible once a second (a CI step, a dashboard
    refresh forcing it), competing with the background ingester."""
    database = wb.DuckDBStore(store)
    while not stop.exists():
        started = time.perf_counter()
        database.sync()
        ack.write(f"sync {(time.perf_counter() - started) * 1e3:.2f} {time.time()}\n")
        time.sleep(1.0)


def main() -> None:
    role, store_arg, ack_arg, stop_arg, *extra = sys.argv[1:]
    with open(ack_arg, "a", buffering=1) as ack:
        try:
            if role == "writer":
                write(Path(store_arg), ack, Path(stop_arg), int(extra[0]), float(extra[1]))
            elif role == "reader":
                read(Path(store_arg), ack, Path(stop_arg))
            else:
                sync(Path(store_arg), ack, Path(stop_arg))
        except BaseException:
            ack.write("EXC " + traceback.format_exc().replace("\n", " | ") + "\n")
            sys.exit(1)


if __name__ == "__main__":
    main()
