"""A worker process for the multi-process store test: a writer or a reader.

Writers log runs with metric series and append an acknowledgement line *after* each call
returns (line-buffered, so it survives kill -9 like the store's own writes). Readers poll
search_runs. Any exception is written as an ``EXC`` line and ends the process with code 1.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from pathlib import Path

import workbench as wb


def write(store: Path, ack_path: Path, stop: Path, seed: int) -> None:
    rng = random.Random(seed)
    wb.set_store(store)
    with open(ack_path, "a", buffering=1) as ack:
        try:
            n = 0
            while not stop.exists():
                n += 1
                with wb.start_run(experiment="mp", name=f"w{seed}-{n}") as run:
                    ack.write(f"start {run.run_id} {time.time()}\n")
                    run.log_params({"seed": seed, "n": n})
                    for step in range(rng.randint(100, 300)):
                        if step % 10 == 0 and stop.exists():  # end the run early: a quick exit
                            break
                        run.log_metric("loss", rng.random(), step=step)
                        ack.write(f"pt {run.run_id} {step} {time.time()}\n")
                        time.sleep(rng.uniform(0.001, 0.01))
                ack.write(f"end {run.run_id} {time.time()}\n")
        except BaseException:
            ack.write("EXC " + traceback.format_exc().replace("\n", " | ") + "\n")
            sys.exit(1)


def read(store: Path, ack_path: Path, stop: Path) -> None:
    wb.set_store(store)
    with open(ack_path, "a", buffering=1) as ack:
        try:
            while not stop.exists():
                df = wb.search_runs("mp", filter="params.seed >= 0", max_results=None)
                ack.write(f"read {len(df)} {time.time()}\n")
                time.sleep(0.05)
        except BaseException:
            ack.write("EXC " + traceback.format_exc().replace("\n", " | ") + "\n")
            sys.exit(1)


if __name__ == "__main__":
    role, store_arg, ack_arg, stop_arg = sys.argv[1:5]
    if role == "writer":
        write(Path(store_arg), Path(ack_arg), Path(stop_arg), int(sys.argv[5]))
    else:
        read(Path(store_arg), Path(ack_arg), Path(stop_arg))
