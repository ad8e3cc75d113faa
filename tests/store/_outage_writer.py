"""A process logging to the team store through an outage: python _outage_writer.py ACK STOP RATE

Logs metric ``loss`` at RATE points/s and a tag every 500 points, and after each call returns
appends ``point STEP`` / ``tag STEP`` to ACK (the acknowledgement the test checks against the
server); ends its run when the file STOP appears.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import workbench as wb


def main(ack_path: str, stop: str, rate: float) -> None:
    with open(ack_path, "w", buffering=1) as ack, wb.start_run("outage") as run:
        ack.write(f"run {run.run_id}\n")
        started, step = time.perf_counter(), 0
        while not Path(stop).exists():
            run.log_metric("loss", 1.0 / (step + 1), step=step)
            ack.write(f"point {step}\n")
            if step % 500 == 0:
                run.set_tag("reached", str(step))
                ack.write(f"tag {step}\n")
            step += 1
            time.sleep(max(0.0, started + step / rate - time.perf_counter()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
