"""The database file, held by one process at a time and shared by that process's threads.

DuckDB lets one process at a time open a file for writing. A lease is that privilege: the
inter-process file lock plus one open connection, from which every thread of the holding
process takes its own cursor (``use``), so threads read concurrently and a slow query in one
thread does not hold up the others. Writes are serialized by the store, not here.

Opening and closing cost ~30 ms each, so the connection is kept for ``linger`` seconds after
its last use (0.25 s after a read; longer for the ingester, which comes back every fraction of
a second). Nobody waits long for it, because waiting is announced: a process that wants the
file holds a shared ``flock`` on a *doorbell* file while it waits, and the holder gives the
file up as soon as its threads are done with it when a doorbell rings (the linger thread looks
every few milliseconds; the ingester stops between slices). The file lock alone is not fair: a
holder that releases and retakes it in a loop would starve a polling waiter. There are two
doorbells: people (``workbench.wait``: reads, registry changes) go first; background work
(``workbench.wait-bg``: ingesting journals) waits until no person waits.

The lease is given up before ``fork`` (a child must not share the lock or the connection) and
at interpreter exit, after which no thread of ours is inside DuckDB (``workbench._threads``).

A read-only store has no lock file (it may not be writable): its lease opens the database
read-only, and DuckDB's own file lock keeps it apart from writers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import filelock

from workbench import _threads

try:
    import fcntl
except ImportError:  # not on POSIX: no doorbell, holders only yield when their linger ends
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("workbench.store")

DEFAULT_LINGER_S = 0.25
POLL_S = 0.002  # how often a waiter retries the file lock
RING_CHECK_S = 0.005  # how often a holder looks at the doorbells
_leases: weakref.WeakSet[Lease] = weakref.WeakSet()


class LeaseTimeout(Exception):
    """The file lock could not be had within the timeout."""


class Doorbell:
    """A file other processes hold a shared lock on while they wait for the database."""

    def __init__(self, path: Path | None) -> None:
        self.path = path if fcntl is not None else None
        self._fd: int | None = None
        self._pid = os.getpid()

    @contextlib.contextmanager
    def ringing(self) -> Iterator[None]:
        """Announce, for the duration of the block, that this process waits."""
        fd = self._open()
        if fd is None:
            yield  # cannot announce: wait unannounced
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # drops the lock

    def rung(self) -> bool:
        """Whether another process waits (holds the doorbell)."""
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = self._open(), os.getpid()
            if self._fd is None:
                return False
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        return False

    def _open(self) -> int | None:
        if self.path is None:
            return None
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            self.path = None  # a read-only folder: no doorbells here
            return None


class Lease:
    """The connection of ``open_db`` under ``lock_path``, held by this process while used."""

    def __init__(
        self,
        lock_path: Path | None,
        open_db: Callable[[float], duckdb.DuckDBPyConnection],
        *,
        linger: float = DEFAULT_LINGER_S,
    ) -> None:
        self._lock_path = lock_path
        self._file_lock = self._new_file_lock()
        self._doorbell = Doorbell(None if lock_path is None else lock_path.with_suffix(".wait"))
        self._background_bell = Doorbell(
            None if lock_path is None else lock_path.with_suffix(".wait-bg")
        )
        self._open_db = open_db
        self.linger = linger
        self._state = threading.Condition(threading.RLock())
        self._opening = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cursors: set[duckdb.DuckDBPyConnection] = set()
        self._users = 0
        self._keep_until = 0.0
        self._lingering: threading.Thread | None = None
        self._pid = os.getpid()
        _leases.add(self)

    def _new_file_lock(self) -> filelock.BaseFileLock | None:
        if self._lock_path is None:
            return None
        # thread_local=False: taken by one thread, given up by another (the linger thread).
        return filelock.FileLock(self._lock_path, thread_local=False)

    @property
    def held(self) -> bool:
        """Whether this process has the database open now."""
        return self._con is not None and self._pid == os.getpid()

    @contextlib.contextmanager
    def use(
        self, timeout: float, *, linger: float | None = None, background: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the open database for the duration of the block (opening it first if
        needed). Afterwards the file is kept ``linger`` seconds (default: the lease's) unless
        a doorbell rings; 0 gives it back as soon as no thread uses it. ``background`` work
        lets people who wait go first."""
        with self._state:
            if self._pid != os.getpid():  # forked: the parent's connection and lock are not ours
                self._con, self._lingering, self._users, self._pid = None, None, 0, os.getpid()
                self._file_lock = self._new_file_lock()
            self._users += 1
        try:
            con = self._open(timeout, background)
            cursor = con.cursor()
            with self._state:
                self._cursors.add(cursor)
            try:
                yield cursor
            finally:
                with self._state:
                    self._cursors.discard(cursor)
                cursor.close()
        finally:
            keep = self.linger if linger is None else linger
            with self._state:
                self._users -= 1
                self._keep_until = max(self._keep_until, time.monotonic() + keep)
                if self._users == 0 and (keep <= 0 or _threads.exiting()):
                    self._give_up()
                elif self._con is not None and self._lingering is None:
                    self._lingering = threading.Thread(
                        target=self._linger, name="workbench-lease", daemon=True
                    )
                    self._lingering.start()
                self._state.notify_all()

    def _open(self, timeout: float, background: bool) -> duckdb.DuckDBPyConnection:
        with self._opening:  # one thread opens; the others then find it open
            if self._con is not None:
                return self._con
            started = time.monotonic()
            self._lock_file(timeout, background)
            try:
                con = self._open_db(timeout)
            except BaseException:
                if self._file_lock is not None:
                    self._file_lock.release()
                raise
            logger.debug("database opened in %.3f s", time.monotonic() - started)
            with self._state:
                self._con = con
            return con

    def _lock_file(self, timeout: float, background: bool) -> None:
        if self._file_lock is None:
            return
        deadline = time.monotonic() + max(timeout, 0.0)
        if background:  # people first
            while self._doorbell.rung() and time.monotonic() < deadline:
                time.sleep(RING_CHECK_S)
        bell = self._background_bell if background else self._doorbell
        with bell.ringing():
            try:
                remaining = max(0.0, deadline - time.monotonic()) if timeout >= 0 else -1
                self._file_lock.acquire(timeout=remaining, poll_interval=POLL_S)
            except filelock.Timeout:
                raise LeaseTimeout from None

    def wanted(self, *, by_background: bool = True) -> bool:
        """Whether another process waits for the database (the holder should yield soon);
        ``by_background=False`` counts only people, not other background work."""
        return self._doorbell.rung() or (by_background and self._background_bell.rung())

    def let_waiters_in(self, patience: float = 0.5) -> None:
        """After stopping for a waiter: wait (a little) until it has had the file."""
        deadline = time.monotonic() + patience
        while self.wanted() and time.monotonic() < deadline:
            time.sleep(RING_CHECK_S)

    def _linger(self) -> None:
        """Keep the file until nobody here uses it and the linger time is up or a doorbell
        rings; then give it up."""
        me = threading.current_thread()
        while True:
            with self._state:
                if self._lingering is not me or self._con is None:
                    return  # given up meanwhile (released, forked, closed)
                idle = self._users == 0
                if idle and (time.monotonic() >= self._keep_until or _threads.exiting()):
                    self._give_up()
                    return
            if idle and self.wanted():
                with self._state:
                    if self._users == 0 and self._lingering is me:
                        self._give_up()
                        return
            time.sleep(RING_CHECK_S)

    def _give_up(self) -> None:
        """Under ``_state`` with no users: close the connection and release the file."""
        self._lingering = None
        if self._con is not None:
            started = time.monotonic()
            try:
                self._con.close()
                logger.debug("database closed in %.3f s", time.monotonic() - started)
            finally:
                self._con = None
                if self._file_lock is not None:
                    self._file_lock.release()

    def interrupt(self) -> None:
        """Interrupt every query this process runs on the database (at exit: what is cut
        short is applied again from the journals by the next process)."""
        with self._state:
            cursors = list(self._cursors)
        for cursor in cursors:
            with contextlib.suppress(Exception):
                cursor.interrupt()

    def release(self, timeout: float = _threads.JOIN_TIMEOUT_S) -> None:
        """Give the file back once no thread uses it (before fork, at exit, on close)."""
        deadline = time.monotonic() + timeout
        with self._state:
            if self._pid != os.getpid():
                return
            while self._users and time.monotonic() < deadline:
                self._state.wait(0.05)
            lingering = self._lingering
            self._give_up()
        if lingering is not None and lingering is not threading.current_thread():
            lingering.join(timeout)


def _release_all(timeout: float = _threads.JOIN_TIMEOUT_S) -> None:
    for lease in list(_leases):
        with contextlib.suppress(Exception):
            lease.release(timeout)


def _interrupt_all() -> None:
    for lease in list(_leases):
        lease.interrupt()


_threads.at_exit(_interrupt_all, _threads.INTERRUPT)
_threads.at_exit(_release_all, _threads.FILES)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _release_all(timeout=5.0))
