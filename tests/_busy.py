"""Background CPU load for tests that must hold on a busy machine (``busy_cpus``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

SPIN = "import time\nwhile True:\n    sum(range(10_000))\n"


def stress_level() -> int:
    """Extra spinning processes for every stress-marked test (``WORKBENCH_STRESS=N``, N per
    core; ``WORKBENCH_STRESS=1`` spins one per core)."""
    raw = os.environ.get("WORKBENCH_STRESS", "").strip()
    return int(raw) * (os.cpu_count() or 1) if raw.isdigit() else 0


@contextlib.contextmanager
def busy_cpus(n: int) -> Iterator[None]:
    """Keep ``n`` extra processes spinning on the CPU for the duration of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
