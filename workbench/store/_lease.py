"""Exclusive, briefly kept access to a DuckDB file shared by many processes.

A lease is the inter-process file lock plus an open connection. Opening and closing a DuckDB
file costs ~30 ms, so a lease is kept until ``linger`` seconds (default 0.25 s) after it was
taken: a notebook paging through runs or a dashboard refreshing its views reuses it, while
another process that wants the file waits at most that long plus one operation, however busy
the holder is (writers never wait: they append to their journals). The lease is given up
before ``fork`` (a child must not share the lock or the connection) and at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator

import duckdb
import filelock

DEFAULT_LINGER_S = 0.25
_leases: weakref.WeakSet[Lease] = weakref.WeakSet()


class LeaseTimeout(Exception):
    """The file lock could not be had within the timeout."""


class Lease:
    """Hands out the connection of ``open_db`` under ``lock_path``, one holder at a time."""

    def __init__(
        self,
        lock_path: os.PathLike[str] | str,
        open_db: Callable[[float], duckdb.DuckDBPyConnection],
        *,
        linger: float = DEFAULT_LINGER_S,
    ) -> None:
        # thread_local=False: the lease is taken by one thread and may be given up by another.
        self._file_lock = filelock.FileLock(lock_path, thread_local=False)
        self._open_db = open_db
        self.linger = linger
        self._thread_lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._release_at = 0.0
        self._timer: threading.Timer | None = None
        self._pid = os.getpid()
        _leases.add(self)

    @contextlib.contextmanager
    def hold(self, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, exclusively, for the duration of the block."""
        if not self._thread_lock.acquire(timeout=timeout if timeout >= 0 else -1):
            raise LeaseTimeout
        try:
            if self._pid != os.getpid():  # forked while held: the parent's, not ours
                self._con, self._timer, self._pid = None, None, os.getpid()
                self._file_lock = filelock.FileLock(self._file_lock.lock_file, thread_local=False)
            if self._con is None:
                try:
                    self._file_lock.acquire(timeout=timeout, poll_interval=0.002)
                except filelock.Timeout:
                    raise LeaseTimeout from None
                try:
                    self._con = self._open_db(timeout)
                except BaseException:
                    self._file_lock.release()
                    raise
                # Fixed from the moment it was taken: a process reading in a loop must not
                # keep the file from everybody else.
                self._release_at = time.monotonic() + self.linger
            done = False
            try:
                yield self._con
                done = True
            finally:
                if done and self.linger > 0:
                    self._keep_for_a_while()
                else:
                    self._give_up()
        finally:
            self._thread_lock.release()

    def _keep_for_a_while(self) -> None:
        remaining = self._release_at - time.monotonic()
        if remaining <= 0:
            self._give_up()
        elif self._timer is None:
            self._timer = threading.Timer(remaining, self._expire)
            self._timer.name = "workbench-lease"
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._thread_lock:
            self._timer = None
            if self._con is None:
                return
            self._give_up()

    def _give_up(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None
                self._file_lock.release()

    def release(self) -> None:
        """Give the file back now (before fork, at exit, when the store is closed)."""
        with self._thread_lock:
            if self._pid == os.getpid():
                self._give_up()


def _release_all() -> None:
    for lease in list(_leases):
        with contextlib.suppress(Exception):
            lease.release()


atexit.register(_release_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_release_all)
