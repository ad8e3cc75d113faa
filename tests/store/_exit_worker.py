"""Many processes that use a store and then exit, each in its own way, at a random moment.

Run as ``python _exit_worker.py STORE N SEED RESULTS``. The parent imports workbench's client
and store modules once (``import workbench`` alone is lazy) and forks N children one after
another (a few at a time); each child opens the store, logs at a
rate that keeps the background threads busy, sometimes reads, and after a random time ends in
one of several ways, *through the interpreter's normal shutdown* (``sys.exit``, an uncaught
exception, falling off the end with a run still open). The parent records, per child, the
exit code it expects and the code or signal the child died with, one line each in RESULTS.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import workbench as wb
import workbench.client  # import workbench is lazy: the children inherit the store's modules

AT_ONCE = 6
ENDINGS = {  # how a child ends -> the exit status its parent must see
    "clean": 0,  # leaves the run's with-block, returns
    "exit": 3,  # sys.exit(3) inside the run
    "raise": 1,  # an uncaught exception inside the run
    "open": 0,  # falls off the end with a run still open (ended as killed at exit)
    "reader": 0,  # only reads, then exits
    "linger": 0,  # logs, reads, and exits while the database is still open in the background
}


def child(store: Path, ending: str, seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    client = wb.connect(store)
    if ending == "reader":
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            client.search_runs("exits", max_results=10)
        return 0
    run = client.start_run("exits", name=f"{ending}-{seed}")
    if ending == "linger":
        with run:
            log_for(client, run, seconds, rng)
        client.search_runs("exits", max_results=5)
        time.sleep(rng.uniform(0.0, 0.3))  # exit while background threads close or ingest
        return 0
    if ending == "open":  # never ended by the script: ended as killed at exit
        log_for(client, run, seconds, rng)
        return 0
    with run:
        log_for(client, run, seconds, rng)
        if ending == "exit":
            sys.exit(3)
        if ending == "raise":
            raise RuntimeError("the training script failed")
    return 0


def log_for(client: wb.Workbench, run: wb.ActiveRun, seconds: float, rng: random.Random) -> None:
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        run.log_metric("x", rng.random(), step=step)
        step += 1
        if step % 5_000 == 0 and rng.random() < 0.3:
            client.search_runs("exits", max_results=5)  # leaves the database lingering


def main() -> None:
    store, n, seed, results = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    running: dict[int, str] = {}
    with open(results, "a", buffering=1) as out:
        for i in range(n):
            while len(running) >= AT_ONCE:
                pid, status = os.wait()
                out.write(f"{running.pop(pid)} {os.waitstatus_to_exitcode(status)}\n")
            ending = rng.choice(list(ENDINGS))
            seconds = rng.uniform(0.0, 1.5)
            pid = os.fork()
            if pid == 0:
                out.close()
                # Leave through the interpreter's normal shutdown: SystemExit unwinds to the
                # top of this script; an uncaught exception prints and exits 1.
                sys.exit(child(store, ending, seconds, seed * 1000 + i))
            running[pid] = f"{ending} {ENDINGS[ending]} {pid}"
        while running:
            pid, status = os.wait()
            out.write(f"{running.pop(pid)} {os.waitstatus_to_exitcode(status)}\n")


if __name__ == "__main__":
    main()
