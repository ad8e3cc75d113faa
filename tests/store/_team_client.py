"""One client of the many-machine test: python _team_client.py MACHINE ACK STOP

Poses as a process of machine MACHINE (its host name), with that machine's own folder for
journals (``XDG_CACHE_HOME``, set by the test). Logs runs of 200 metric points, registers a
version of model ``shared`` every 20 runs, and records every acknowledgement in ACK
(``run ID``, ``point ID``, ``end ID``, ``version N``) until the file STOP appears.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

MACHINE = sys.argv[1]
socket.gethostname = lambda: MACHINE  # this process is on machine MACHINE

from sklearn.dummy import DummyClassifier  # noqa: E402

import workbench as wb  # noqa: E402


def main(ack_path: str, stop: str) -> None:
    model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    with open(ack_path, "w", buffering=1) as ack:
        n = 0
        while not Path(stop).exists():
            with wb.start_run("team-load", f"{MACHINE}-{n}") as run:
                ack.write(f"run {run.run_id}\n")
                for step in range(200):
                    run.log_metric("loss", 1.0 / (step + 1), step=step)
                    ack.write(f"point {run.run_id}\n")
                if n % 20 == 0:
                    version = wb.register_model("shared", run=run, model=model)
                    ack.write(f"version {version.version}\n")
            ack.write(f"end {run.run_id}\n")
            n += 1


if __name__ == "__main__":
    main(sys.argv[2], sys.argv[3])
