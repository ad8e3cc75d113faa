"""Whether a process on this machine still runs: one answer for the whole package.

A process is identified by its pid *and* its start time, because pids are reused. Start times
are compared with a tolerance of ``START_TOLERANCE_S`` (1 s): psutil derives them from clock
ticks since boot, and values recorded by another library or rounded in a file differ by less.
Processes on other machines cannot be checked this way; callers use heartbeats for those.
"""

from __future__ import annotations

import os

import psutil

START_TOLERANCE_S = 1.0


def start_time(pid: int | None = None) -> float:
    """When process ``pid`` (default: this one) started, in seconds since the epoch."""
    return float(psutil.Process(os.getpid() if pid is None else pid).create_time())


def process_alive(
    pid: int, *, started: float | None = None, running_at: float | None = None
) -> bool:
    """Whether ``pid`` runs (not a zombie) and is the process meant.

    ``started``: the process must have started then (± the tolerance). ``running_at``: it
    must already have been running at that time (it wrote a file stamped then, say).
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = float(process.create_time())
    except psutil.Error:
        return False
    if started is not None and abs(created - started) >= START_TOLERANCE_S:
        return False
    return running_at is None or created <= running_at + START_TOLERANCE_S
