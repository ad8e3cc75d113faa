"""One client of the many-machine test: python _team_client.py MACHINE ACK STOP

Poses as a process of machine MACHINE (its host name), with that machine's own folder for
journals (``XDG_CACHE_HOME``, set by the test). Logs runs of 200 metric points, a text artifact
every 5 runs, 3 request-log rows per run (as a model server of the machine writes them), and
registers a version of model ``shared`` every 20 runs; records every acknowledgement in ACK
(``run ID``, ``point ID``, ``artifact ID PATH``, ``request ID``, ``end ID``, ``version N``)
until the file STOP appears.
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from pathlib import Path

MACHINE = sys.argv[1]
socket.gethostname = lambda: MACHINE  # this process is on machine MACHINE

from sklearn.dummy import DummyClassifier  # noqa: E402

import workbench as wb  # noqa: E402
from workbench.serving._request_log import RequestLog  # noqa: E402


def main(ack_path: str, stop: str) -> None:
    model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    requests = RequestLog(wb.connect(), f"server-on-{MACHINE}", log_payloads=True)
    with open(ack_path, "w", buffering=1) as ack:
        n = 0
        while not Path(stop).exists():
            with wb.start_run("team-load", f"{MACHINE}-{n}") as run:
                ack.write(f"run {run.run_id}\n")
                for step in range(200):
                    run.log_metric("loss", 1.0 / (step + 1), step=step)
                    ack.write(f"point {run.run_id}\n")
                if n % 5 == 0:
                    path = f"notes-{n}.txt"
                    run.log_text(f"{MACHINE} run {n}", path)
                    ack.write(f"artifact {run.run_id} {path}\n")
                for _ in range(3):
                    request_id = uuid.uuid4().hex
                    requests.log(
                        request_id=request_id,
                        model_name="shared",
                        model_version=1,
                        role="primary",
                        received_at_us=time.time_ns() // 1000,
                        latency_ms=1.5,
                        status=200,
                        n_rows=1,
                        inputs='{"columns": ["x"], "data": [[0.0]]}',
                        outputs="[0]",
                        error=None,
                    )
                    ack.write(f"request {request_id}\n")
                if n % 20 == 0:
                    version = wb.register_model("shared", run=run, model=model)
                    ack.write(f"version {version.version}\n")
            ack.write(f"end {run.run_id}\n")
            n += 1


if __name__ == "__main__":
    main(sys.argv[2], sys.argv[3])
