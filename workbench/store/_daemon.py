"""The store daemon: ingests a store's journals and answers reads, in a process of its own.

Started by a workbench process as ``python -m workbench.store._daemon DB_PATH`` when more than
one process uses a store (see ``_ingester``); exits after ``WORKBENCH_DAEMON_IDLE`` seconds
(default 30) without work. Its log is ``daemon.log`` in the store folder. Started while a
daemon runs, the process is that daemon's standby: it waits, ready, to take over if the daemon
dies.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from workbench.store._ingester import DAEMON_IDLE_S
from workbench.store.duckdb import DuckDBStore


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    db_path = Path(argv[0])
    if not db_path.exists():
        return 0
    store = DuckDBStore(db_path)
    try:
        assert store._ingester is not None
        idle = float(os.environ.get("WORKBENCH_DAEMON_IDLE", DAEMON_IDLE_S))
        store._ingester.serve_as_daemon(idle)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
