"""The background ingester: one process per store and machine makes journals visible and
answers the other processes' reads.

Every process that writes to a store runs a ``workbench-ingester`` thread. It fsyncs the
process's own journal every ``FSYNC_EVERY_S``, and tries (without waiting) to hold the store's
``ingest.lock``. The one process that holds it applies new journal records every
``INTERVAL_S`` (``DuckDBStore.background_pass``: slices, giving the database to whoever waits
between them), and hosts the store's reads (``_host``) from the database it keeps open. If that
process dies, the operating system drops its lock and another writer takes the role within
``ROLE_RETRY_S``. Writes never wait for any of this: journals are appended by the flusher, and
ingesting is only about when data becomes visible.

A process that works for its user (a notebook kernel, a training script) is a poor host for
others: its threads share one interpreter lock with the user's code, and a read it hosts
waits for that lock at every step (measured: 170 ms median for a search under eight fast
writers, against 17 ms in a process of its own). So once more than one process uses the store
(other processes keep writing, or asking for reads, for ``SHARED_FOR_S``), the role holder
starts the store daemon
(``python -m workbench.store._daemon``), which holds ``daemon.lock`` for its whole life, and
hands the role over to it at its next round; while the daemon lives no other process takes the
role. The daemon exits after ``DAEMON_IDLE_S`` without work, and is started again when needed.

A busy daemon keeps a *standby*: a second daemon process, started and imported, that holds
``standby.lock`` and polls ``daemon.lock``. If the daemon dies, the standby has the role within
milliseconds and opens the database (~0.1 s) instead of readers waiting for a writer to take
the role, and then for a new process to start (measured: seconds on a busy machine).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import _threads
from workbench.exceptions import StoreBusyError
from workbench.store import _host

if TYPE_CHECKING:
    from workbench.store.duckdb import DuckDBStore

logger = logging.getLogger("workbench.store")

ROLE_FILE = "ingest.lock"
DAEMON_FILE = "daemon.lock"
STANDBY_FILE = "standby.lock"
STANDBY_POLL_S = 0.005  # how often a standby looks whether the daemon is gone
DAEMON_LOG = "daemon.log"
DAEMON_IDLE_S = 30.0
DAEMON_START_S = 20.0  # how long a started daemon has to take the role before we retake it
SHARED_FOR_S = 1.0  # how long other processes must keep using the store before the daemon starts
SHARED_GAP_S = 1.0  # a pause this long in their use starts the count again
INTERVAL_S = 0.25
ROLE_RETRY_S = 0.25
DAEMON_ROLE_RETRY_S = 0.01  # the daemon waits for the role from a writer handing it over
FULL_PASS_S = 5.0  # a pass even without new bytes: reap dead runs, retire finished journals
FSYNC_EVERY_S = 1.0
SLICE_BYTES = 8 << 20  # the most one slice applies (fewer bytes when the machine is busy)


try:
    import fcntl
except ImportError:  # not on POSIX: no background ingester; every read applies journals
    fcntl = None  # type: ignore[assignment]

_ingesters: weakref.WeakSet[Ingester] = weakref.WeakSet()


class RoleLock:
    """An ``flock`` on a file, held while this process has the role.

    Closing the descriptor releases it, and the operating system does so when the process dies.
    A forked child inherits the descriptor, so it closes its copy (which leaves the parent's
    lock in place) rather than keeping the role alive after the parent is gone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_take(self) -> bool:
        if self._fd is not None:
            return True
        fd = self._try(self.path)
        self._fd = fd
        return fd is not None

    def taken_elsewhere(self) -> bool:
        """Whether another process holds it now."""
        if self._fd is not None:
            return False
        fd = self._try(self.path)
        if fd is None:
            return fcntl is not None
        os.close(fd)
        return False

    @staticmethod
    def _try(path: Path) -> int | None:
        if fcntl is None:
            return None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    forget = release  # in a forked child, closing our copy keeps the parent's lock


class Ingester:
    """The ingest role, its thread and its host server, for one store in this process."""

    def __init__(self, store: DuckDBStore) -> None:
        self._store = store
        self._role = RoleLock(store.root / ROLE_FILE)
        self._daemon = RoleLock(store.root / DAEMON_FILE)
        self._standby = RoleLock(store.root / STANDBY_FILE)
        self._standby_started = 0.0
        self._standby_pid: int | None = None  # the standby this daemon started
        self._daemon_started = 0.0  # when this process last started the daemon
        self._shared_since = 0.0  # since when other processes use the store (0: they do not)
        self._last_shared = 0.0
        self._requests_seen = 0
        self._others_seen: dict[str, int] = {}
        self._daemon_pid: int | None = None
        self._server: _host.HostServer | None = None
        self._worker: _threads.Worker | None = None
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._last_pass = 0.0
        self._next_role_try = 0.0
        self._fsynced_at = 0.0
        self._failing = False
        _ingesters.add(self)

    def ensure_running(self) -> None:
        """Start the thread once (and again in a forked child)."""
        if self._worker is not None and self._worker.alive:
            return
        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = _threads.Worker("workbench-ingester", self._loop).start()

    def after_fork(self) -> None:
        """In a forked child: neither the parent's thread, nor its role, nor its socket."""
        self._lock = threading.Lock()
        self._worker = None
        self._role.forget()
        if self._server is not None:
            self._server.forget()
            self._server = None

    def stop(self) -> None:
        """Stop the thread, stop hosting, and give the role to another process."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
        self._give_up_role()
        self._daemon_coming()  # reaps a daemon of ours that has exited

    def leaving_soon(self) -> bool:
        """Whether this process is giving its role up, or will at its next round (the daemon
        is up): long work it does for other processes (a sync they asked for) stops, and they
        go on at the next host."""
        server = self._server
        return server is None or server.closing or self.should_yield()

    def answering(self) -> bool:
        """Whether reads of other processes are being answered here right now (the ingester
        then waits between slices: a person waits for the read, nobody for the ingest)."""
        server = self._server
        return server is not None and server.in_flight > 0

    @property
    def has_role(self) -> bool:
        """Whether this process ingests (and hosts reads) now."""
        if self._server is None:
            return False
        return self.is_daemon or (self._worker is not None and self._worker.alive)

    def active_somewhere(self) -> bool:
        """Whether some process (this one included) ingests in the background now."""
        return self.has_role or self._role.taken_elsewhere() or self._daemon.taken_elsewhere()

    def hosted_elsewhere(self) -> bool:
        """Whether another process hosts this store's reads, or is about to (a daemon or its
        standby taking over): then a read waits for it rather than opening the file here."""
        if self.has_role:
            return False
        return (
            self._role.taken_elsewhere()
            or self._daemon.taken_elsewhere()
            or self._standby.taken_elsewhere()
        )

    def should_yield(self) -> bool:
        """Whether this process holds the role while the daemon runs (it hands it over)."""
        return not self.is_daemon and self._server is not None and self._daemon.taken_elsewhere()

    def _loop(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(INTERVAL_S):
                self._round(stop)
        finally:
            self._give_up_role()

    def _round(self, stop: threading.Event) -> None:
        if not self._store.db_path.exists():  # the store was deleted: nothing left to do
            self._give_up_role()
            return
        try:
            if time.monotonic() - self._fsynced_at > FSYNC_EVERY_S:
                self._store.spool.fsync_pending()
                self._fsynced_at = time.monotonic()
            if not self._take_role():
                return
            if self.should_yield() or (not self.is_daemon and self._shared_for() > SHARED_FOR_S):
                self._hand_over()  # starts the daemon, or leaves the role to it
                if self._server is None:
                    return
            self._server_listening()
            sizes = self._sizes()
            if sizes != self._seen or time.monotonic() - self._last_pass > FULL_PASS_S:
                self._last_pass = time.monotonic()
                self._store.background_pass(stop)
                self._seen = sizes
        except StoreBusyError:
            pass  # someone holds the database for long: try again next round
        except Exception as exc:  # a full disk, say: say it once, keep trying
            if not self._failing and not _threads.exiting():  # at exit: interrupted on purpose
                logger.error("workbench could not ingest journals; retrying: %s", exc)
            self._failing = True
        else:
            if self._failing:
                logger.warning("workbench ingests journals again.")
            self._failing = False

    def _take_role(self) -> bool:
        if self._server is not None:
            return True
        now = time.monotonic()
        if now < self._next_role_try:
            return False
        self._next_role_try = now + (DAEMON_ROLE_RETRY_S if self.is_daemon else ROLE_RETRY_S)
        if not self.is_daemon and self._daemon_coming():
            return False  # the daemon takes it
        if not self._role.try_take():
            return False
        server = _host.HostServer(_host.address(self._store.db_path), self._store.serve)
        if _host.AVAILABLE and not server.start():
            logger.debug("another process answers reads of %s", self._store.location)
        self._server = server
        return True

    def _server_listening(self) -> None:
        """Listen for reads if an earlier holder's socket had not gone yet when we took over."""
        server = self._server
        if server is not None and _host.AVAILABLE and not server.listening:
            server.start()

    def _give_up_role(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # its callers go to the next host at once ...
        self._role.release()  # ... which can take the role at once
        if server is not None:
            server.join()

    # -- the daemon ------------------------------------------------------------------------------
    is_daemon = False

    def _daemon_coming(self) -> bool:
        """Whether a daemon runs, or this process started one that has not had time yet."""
        if self._daemon_pid is not None:  # ours: reap it once it has exited
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(self._daemon_pid, os.WNOHANG)[0]:
                    self._daemon_pid = None
        if self._daemon.taken_elsewhere() or self._standby.taken_elsewhere():
            return True
        recent = time.monotonic() - self._daemon_started < DAEMON_START_S
        return recent and self._daemon_pid is not None

    def _shared_for(self) -> float:
        """For how long other processes have kept using the store: their journals grew, or
        they asked for reads, in every round since (0: not now). A short-lived process (a
        CLI command, a quick script) does not make the store shared."""
        server = self._server
        requests = server.requests if server is not None else 0
        me = f"-{os.getpid()}."
        others = {n: size for n, size in self._sizes().items() if me not in n}
        active = requests > self._requests_seen or any(
            size != self._others_seen.get(name) for name, size in others.items()
        )
        self._requests_seen, self._others_seen = requests, others
        now = time.monotonic()
        if not active and now - self._last_shared > SHARED_GAP_S:
            self._shared_since = 0.0
        elif active:
            self._last_shared = now
            self._shared_since = self._shared_since or now
        return now - self._shared_since if self._shared_since else 0.0

    def _hand_over(self) -> None:
        """Start the daemon (unless one is coming), and leave the role to it once it runs."""
        if self._daemon.taken_elsewhere():
            logger.debug("handing the ingest role of %s to the store daemon", self._store.location)
            self._give_up_role()
        elif not self._daemon_coming():
            self._start_daemon()

    def _start_daemon(self, *, remember: bool = True) -> bool:
        """Start ``python -m workbench.store._daemon`` in a session of its own (so that a
        terminal's Ctrl-C or a CI job's process group does not take it down mid-write)."""
        if not sys.executable or not hasattr(os, "posix_spawn"):
            return False
        log = self._store.root / DAEMON_LOG
        appending = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-m", "workbench.store._daemon", str(self._store.db_path)],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, str(log), appending, 0o644),
                ],
                setsid=True,
            )
        except OSError as exc:
            logger.debug("could not start the store daemon: %s", exc)
            return False
        if remember:
            self._daemon_pid, self._daemon_started = pid, time.monotonic()
        else:
            self._standby_pid = pid
        return True

    def serve_as_daemon(self, idle_exit: float = DAEMON_IDLE_S) -> None:
        """Run in the store daemon's main thread: take the role, ingest and answer reads
        until idle for ``idle_exit`` seconds or the store folder goes away."""
        self.is_daemon = True
        if not self._daemon.try_take() and not self._stand_by():
            return  # another daemon runs, and it has a standby, or the store went away
        stop = threading.Event()
        idle_since = time.monotonic()
        seen_requests = 0
        try:
            while self._store.db_path.exists():
                self._round(stop)
                server = self._server
                busy = self._sizes() != self._seen or (server and server.requests != seen_requests)
                if server is not None:
                    seen_requests = server.requests
                if busy:
                    self._keep_standby()
                if busy or server is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > idle_exit:
                    return
                time.sleep(INTERVAL_S if server is not None else DAEMON_ROLE_RETRY_S)
        finally:
            self._retire_standby()  # idle: it must not take over only to idle again
            self._give_up_role()
            self._daemon.release()

    def _stand_by(self) -> bool:
        """As the standby (if there is none yet): wait until the daemon is gone, then be it.
        False if another standby waits, or the store folder went away."""
        if not self._standby.try_take():
            return False
        try:
            self._store.warm_up()
            while self._store.db_path.exists():
                if self._daemon.try_take():
                    logger.debug("standby of %s takes over", self._store.location)
                    return True
                time.sleep(STANDBY_POLL_S)
            return False
        finally:
            self._standby.release()

    def _keep_standby(self) -> None:
        """As a busy daemon: start a standby unless one waits (or one was just started)."""
        if self._standby_pid is not None and _exited(self._standby_pid):
            self._standby_pid = None
        if self._standby_pid is not None and (
            time.monotonic() - self._standby_started < DAEMON_START_S
        ):
            return  # still starting (or waiting)
        if self._standby.taken_elsewhere():
            return
        if self._start_daemon(remember=False):
            self._standby_started = time.monotonic()

    def _retire_standby(self) -> None:
        """Stop the standby this daemon started (it only polls a lock: SIGTERM is safe)."""
        pid, self._standby_pid = self._standby_pid, None
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def _sizes(self) -> dict[str, int]:
        """Journal sizes now: when they match the last pass's, there is nothing new."""
        sizes = {}
        for path in self._store.spool.journals():
            try:
                sizes[path.name] = path.stat().st_size
            except FileNotFoundError:
                continue
        return sizes


def _exited(pid: int) -> bool:
    """Whether our child ``pid`` has exited (and reap it)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def _after_fork() -> None:
    for ingester in list(_ingesters):
        ingester.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
