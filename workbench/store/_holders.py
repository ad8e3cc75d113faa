"""Name the process that holds a file, for error messages that say who to ask.

DuckDB's lock error carries the holder's pid (``... Conflicting lock is held in <exe> (PID n)``);
the workbench lock file is an ``flock``, whose holders Linux lists in ``/proc/locks`` by inode.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import psutil

_DUCKDB_PID = re.compile(r"\(PID (\d+)\)")


def describe(pid: int) -> str:
    """``pid 123 (python ... script.py, user alice)``, or just the pid if it cannot be read."""
    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline()) or process.name()
        if len(command) > 120:
            command = command[:117] + "..."
        return f"pid {pid} ({command}, user {process.username()})"
    except psutil.Error:
        return f"pid {pid}"


def duckdb_holder(message: str) -> str | None:
    """The process named in a DuckDB lock-conflict message, described."""
    found = _DUCKDB_PID.search(message)
    return describe(int(found.group(1))) if found else None


def flock_holder_pids(path: Path) -> list[int]:
    """Pids of the processes holding an ``flock`` on ``path`` (Linux; empty where unknown)."""
    try:
        inode = path.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (a "->" marks a waiter)
        if len(fields) < 6 or fields[1] != "FLOCK" or not fields[5].endswith(f":{inode}"):
            continue
        with contextlib.suppress(ValueError):
            pids.append(int(fields[4]))
    return pids


def flock_holders(path: Path) -> list[str]:
    """The other processes holding an ``flock`` on ``path``, described."""
    return [describe(pid) for pid in flock_holder_pids(path) if pid != os.getpid()]
