"""A worker for the multi-process registry test: waits for the go file, then registers
versions of one model and moves an alias to each, printing the version numbers it got."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from workbench import registry, set_store


def main(store: str, run_id: str, count: int, go: Path) -> None:
    set_store(store)
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for _ in range(count):
        version = registry.register_model("shared", run=run_id, artifact_path="model/model.skops")
        registry.set_alias("shared", "champion", version.version, reason=f"pid {sys.argv[0]}")
        print(version.version, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
