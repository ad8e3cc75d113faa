"""The default store: one DuckDB file, a spool of journals, and content-addressed artifacts.

DuckDB lets one process at a time open the file (see docs/store.md), and our users run many at
once. So:

* **Writers never wait for the file.** Logged data is appended to the process's own journal in
  ``spool/`` (``_spool``), durable when the append returns.
* **One process per machine ingests** (``_ingester``): it applies everyone's journals in small
  slices and keeps the database open between them, giving it up whenever someone waits
  (``_lease``).
* **That process also answers reads** for the others (``_host``), from the connection it
  already has open: a reader neither waits for the file nor pays to open it. Where no such
  process runs, a reader opens the file itself (and applies some journals while it has it).
* **A process reads its own writes**: its journals are applied before any of its reads.
* **Registry, experiment and deployment changes** are synchronous: they take the file directly
  (the holder yields between slices), so version numbers are assigned atomically.

The folder layout is in ``_layout``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench import _threads
from workbench.exceptions import (
    NotAWorkbenchStoreError,
    ReadOnlyStoreError,
    StoreBusyError,
    StoreError,
)
from workbench.store import (
    _database,
    _holders,
    _host,
    _ingest,
    _layout,
    _ops,
)
from workbench.store._ingester import SLICE_BYTES, Ingester
from workbench.store._lease import DEFAULT_LINGER_S, Lease, LeaseTimeout
from workbench.store._schema import SCHEMA_VERSION
from workbench.store._spool import Spool
from workbench.store._sql_store import SqlStore
from workbench.store.artifacts import ArtifactStore
from workbench.store.base import ProcessInfo, RunSearch

if TYPE_CHECKING:
    import pandas as pd

    from workbench.store.batch import Batch

__all__ = ["DuckDBStore"]

logger = logging.getLogger("workbench.store")

DB_FILE = _layout.DB_FILE
READ_INGEST_BYTES = 256 << 10  # others' journal bytes a read applies when no process ingests
HOST_WAIT_S = 2.0  # how long a read waits for a new host before it opens the file itself
HOST_RETRY_S = 0.005
BACKGROUND_WAIT_S = 5.0  # how long a background pass waits for the database
INGEST_LINGER_S = 1.0  # the ingester keeps the database this long for its next pass
SLICE_TARGET_S = 0.25  # how long one slice of ingest should hold the write lock
MIN_SLICE_BYTES = 64 << 10
BACKGROUND_TURN_S = 1.0  # a busy ingester lets another ingester in after this long
REAP_EVERY_S = 1.0  # how often runs of dead processes are looked for
PASS_S = 1.0  # the longest background pass


class DuckDBStore(SqlStore):
    """A store in a folder (or ``":memory:"`` for a throw-away, single-process store).

    Parameters
    ----------
    location
        A folder (created if missing), a path ending in ``.duckdb`` (its folder holds the
        rest; one store per folder), or ``":memory:"``.
    lock_timeout
        Seconds to wait for other processes before raising ``StoreBusyError``.
    linger
        Seconds to keep the database open after a read, so that a burst of reads (a dashboard
        refresh, paging) pays the ~30 ms open/close once; another process that wants it gets
        it at once (it rings). 0 closes it after every operation.
    fsync
        Also flush journals to the disk device every second (protects against power loss,
        not only against process death). Done in the background; on by default.
    read_only
        Open without writing anything: no lock file, no journals, no ingest, so a store on a
        read-only mount or owned by another user can be read. Data still in other processes'
        journals is not visible. ``None`` (default): read-only exactly when the folder or its
        files are not writable by this process.
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        lock_timeout: float = 60.0,
        fsync: bool = True,
        linger: float = DEFAULT_LINGER_S,
        read_only: bool | None = None,
    ) -> None:
        self.lock_timeout = lock_timeout
        self._memory = os.fspath(location) == ":memory:"
        self._writing = threading.RLock()  # writes of this process, one at a time
        self._warned: set[str] = set()
        self._known: dict[str, int] = {}  # journal -> offset applied, as last seen here
        self._turn = 0  # which journal the next ingest pass starts with
        self._reaped_at = 0.0
        self._slice_bytes = SLICE_BYTES
        _open_stores.add(self)
        if self._memory:
            self.location = ":memory:"
            self._tmp = tempfile.TemporaryDirectory(prefix="workbench-memory-")
            self.root = Path(self._tmp.name)
            self.db_path = self.root / DB_FILE
            self.read_only = False
            self._con: duckdb.DuckDBPyConnection | None = _database.open_memory()
            _threads.at_exit(functools.partial(_close_at_exit, weakref.ref(self)))
        else:
            path = Path(location).expanduser().absolute()
            self.root, self.db_path = (
                (path.parent, path) if path.suffix == ".duckdb" else (path, path / DB_FILE)
            )
            if self.root.exists() and not self.root.is_dir():
                raise NotAWorkbenchStoreError(
                    f"{self.root} is a file, not a workbench store folder. Point WORKBENCH_STORE "
                    "or set_store() at a folder (it is created if missing), or at a .duckdb file."
                )
            self.location = str(self.root)
            self.read_only = _layout.not_writable(self.root) if read_only is None else read_only
            self._con = None
        if not self.read_only:
            for sub in ("spool", "heartbeats", "artifacts"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        if not self._memory:
            _layout.claim_folder(self.root, self.db_path, write=not self.read_only)
        self.spool = Spool(self.root / "spool", fsync=fsync)
        self._artifacts = ArtifactStore(self.root / "artifacts")
        self._lease = None if self._memory else Lease(self._lock_path(), self._open, linger=linger)
        self._ingester = None if self._memory or self.read_only else Ingester(self)
        self._host = (
            _host.client_for(_host.address(self.db_path), lock_timeout)
            if _host.AVAILABLE and not self._memory
            else None
        )
        self._checked = False
        if not self._host_has_current_schema():
            with self._exclusive(timeout=lock_timeout) as con:
                _database.check_schema(con, self.location, read_only=self.read_only)
        self._checked = True
        if self.read_only and not self._memory:
            self._note_read_only()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"DuckDBStore({self.location!r}{mode})"

    def _host_has_current_schema(self) -> bool:
        """Whether the process hosting this store has it open at our schema version (then
        this process need not take the file just to check it)."""
        if self._host is None:
            return False
        try:
            return bool(self._host.call("schema_version", (), {}) == SCHEMA_VERSION)
        except (_host.HostUnavailable, KeyError):
            return False

    def _lock_path(self) -> Path | None:
        return None if self.read_only else self.root / _layout.LOCK_FILE

    # -- the database ------------------------------------------------------------------------
    def _open(self, timeout: float) -> duckdb.DuckDBPyConnection:
        if self._checked and not self.db_path.exists():
            raise StoreError(
                f"The store database {self.db_path} has been removed since this process opened "
                "it. Point set_store() / WORKBENCH_STORE at an existing store or a new folder."
            )
        if self.read_only and not self.db_path.exists():
            raise NotAWorkbenchStoreError(
                f"{self.root} holds no workbench store ({self.db_path.name} is missing), and it "
                "is opened read-only, so none can be created. Check the path."
            )
        return _database.open_file(self.db_path, read_only=self.read_only, timeout=timeout)

    @contextlib.contextmanager
    def _use(
        self, *, timeout: float | None = None, linger: float | None = None, background: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the database, shared with this process's other threads."""
        timeout = self.lock_timeout if timeout is None else timeout
        try:
            if self._lease is None:
                with self._writing:
                    assert self._con is not None
                    yield self._con
                return
            try:
                with self._lease.use(timeout, linger=linger, background=background) as cursor:
                    yield cursor
            except LeaseTimeout:
                raise self._busy(timeout) from None
        except duckdb.InvalidInputException as exc:
            if self.read_only and "read-only" in str(exc):
                raise ReadOnlyStoreError(self._read_only_reason("change it")) from None
            raise

    @contextlib.contextmanager
    def _exclusive(
        self, *, timeout: float | None = None, linger: float | None = None, background: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database for a write: no other thread of this process writes meanwhile."""
        timeout = self.lock_timeout if timeout is None else timeout
        if not self._writing.acquire(timeout=timeout if timeout >= 0 else -1):
            raise self._busy(timeout)
        try:
            with self._use(timeout=timeout, linger=linger, background=background) as con:
                yield con
        finally:
            self._writing.release()

    def _busy(self, timeout: float) -> StoreBusyError:
        holders = [] if self.read_only else _holders.flock_holders(self.root / _layout.LOCK_FILE)
        who = f" (held by {', '.join(holders)})" if holders else ""
        return StoreBusyError(
            f"The store {self.location} stayed locked by another workbench process{who} for "
            f"{timeout:.1f} s; it normally holds it for well under a second. Retry, stop that "
            "process if it hangs, or raise DuckDBStore(lock_timeout=...)."
        )

    def _read_only_reason(self, action: str) -> str:
        return (
            f"The store {self.location} is open read-only, so workbench cannot {action}. "
            "Open it where you have write access (DuckDBStore(path, read_only=False) once the "
            "folder is writable), or copy it to a folder of your own."
        )

    def _note_read_only(self) -> None:
        pending = len(self.spool.journals())
        logger.info(
            "Opened %s read-only%s.",
            self.location,
            f"; {pending} journal(s) of other processes are not ingested yet, so their latest "
            "data is not visible"
            if pending
            else "",
        )

    def _warn_once(self, topic: str, message: str, *args: object) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            logger.warning(message, *args)

    # -- journals -----------------------------------------------------------------------------
    def write_batch(self, batch: Batch) -> None:
        if self._memory:
            with self._exclusive() as con:
                _ingest.apply_batches(con, [batch])
            return
        if self._ingester is None:
            raise ReadOnlyStoreError(self._read_only_reason("log to it"))
        self.spool.write(batch)
        self._ingester.ensure_running()

    def sync(self, *, block: bool = True) -> bool:
        """Make journals visible: everything written before the call (``block``), or what can
        be done now without waiting (this process's journals and a slice of the others')."""
        if self._ingester is None:
            return True
        targets = {Spool.key(p): self.spool.pending_bytes(p, 0) for p in self.spool.journals()}
        try:
            while True:
                delegate = False
                if not self._ingester.has_role and self._host is not None:
                    try:
                        return bool(self._call_host("sync" if block else "catch_up", (), targets))
                    except _host.HostUnavailable:
                        # None hosts the store: sync here, and leave the rest to a host that
                        # appears meanwhile (not when one is there but did not answer).
                        delegate = not self._ingester.hosted_elsewhere()
                if not block:
                    with self._exclusive(timeout=0.0, background=True) as con:
                        progress = self._catch_up(con, max_bytes=self._slice_bytes)
                    return not _behind(progress, targets)
                caught_up = self._sync_here(targets, delegate=delegate)
                if caught_up or not delegate:
                    return caught_up
        except StoreBusyError:
            if block:
                raise
            return False

    def _sync_here(
        self, targets: dict[str, int], *, hosted: bool = False, delegate: bool = False
    ) -> bool:
        """Ingest until ``targets`` are reached. ``hosted``: for another process, which
        retries at the next host if this one gives its role up meanwhile. ``delegate``: stop
        (False) once another process hosts the store, so that the file is not taken from it
        slice after slice; the caller asks that host instead."""
        ingester = self._ingester

        def done(progress: _ingest.Progress) -> bool:
            if ingester is not None:
                if hosted and ingester.leaving_soon():
                    return True
                if delegate and ingester.hosted_elsewhere():
                    return True
            return not (_behind(progress, targets) and progress.more)

        progress = self._ingest_in_slices(self.lock_timeout, done=done, reap=True)
        return not _behind(progress, targets)

    def _catch_up(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        max_bytes: int,
        priority: Mapping[str, int] | None = None,
        reap: bool = False,
    ) -> _ingest.Progress:
        """One ingest pass: the ``priority`` journals (default: this process's own) in full,
        ``max_bytes`` of the others', and (at most every ``REAP_EVERY_S``, or when asked)
        runs of dead processes marked ``killed``."""
        self._turn += 1
        keys = set(self.spool.own_targets() if priority is None else priority)
        progress = _ingest.ingest_journals(
            con, self.spool, max_bytes=max_bytes, priority=keys, rotate=self._turn
        )
        self._known.update(progress.offsets)
        for key in keys - set(progress.offsets):
            self._known[key] = 1 << 62  # retired: fully ingested before it was deleted
        now = time.monotonic()
        if reap or now - self._reaped_at > REAP_EVERY_S:
            _ingest.reap_dead_runs(con, self.root / "heartbeats")
            self._reaped_at = now
        return progress

    def _ingest_in_slices(
        self,
        timeout: float,
        *,
        done: Callable[[_ingest.Progress], bool],
        stop: threading.Event | None = None,
        linger: float = 0.0,
        reap: bool = False,
    ) -> _ingest.Progress:
        """Ingest slice after slice until ``done``. The database stays open throughout, so
        this process's reads (and the reads it hosts) go on meanwhile; between slices the
        write lock is free for this process's other writes, and the database goes to people
        of other processes who wait, or to other background work after ``BACKGROUND_TURN_S``.

        Slices are sized to take about ``SLICE_TARGET_S``: smaller when the machine is busy.
        """
        assert self._lease is not None
        while True:
            with self._use(timeout=timeout, linger=linger, background=True) as con:
                turn_started = time.monotonic()
                while True:
                    started = time.monotonic()
                    with self._writing:
                        progress = self._catch_up(con, max_bytes=self._slice_bytes, reap=reap)
                    self._size_slices(time.monotonic() - started, progress)
                    if done(progress) or (stop is not None and stop.is_set()):
                        return progress
                    long_turn = time.monotonic() - turn_started > BACKGROUND_TURN_S
                    if self._lease.wanted(by_background=long_turn):
                        break
            self._lease.let_waiters_in()

    def _size_slices(self, elapsed: float, progress: _ingest.Progress) -> None:
        """Steer the slice size toward ``SLICE_TARGET_S`` per slice."""
        logger.debug("ingest slice: %d batches in %.3f s", progress.batches, elapsed)
        scale = min(2.0, max(0.25, SLICE_TARGET_S / max(elapsed, 1e-3)))
        self._slice_bytes = int(min(SLICE_BYTES, max(MIN_SLICE_BYTES, self._slice_bytes * scale)))

    def background_pass(self, stop: threading.Event) -> _ingest.Progress:
        """What the ingester thread does when journals grew: work them off, for at most
        ``PASS_S`` (then it looks around, and comes back), and not while it answers reads."""
        until = time.monotonic() + PASS_S
        assert self._ingester is not None
        answering = self._ingester.answering

        def done(progress: _ingest.Progress) -> bool:
            if self._ingester is not None and self._ingester.should_yield():
                return True  # the daemon is up: it takes over
            return not progress.more or time.monotonic() > until or answering()

        return self._ingest_in_slices(
            BACKGROUND_WAIT_S, done=done, stop=stop, linger=INGEST_LINGER_S
        )

    def _apply_own(self, targets: Mapping[str, int]) -> None:
        """Before a read: apply the asker's journals up to ``targets`` (a process reads its
        own writes), and, if no process ingests in the background, a slice of the others'.
        A failure (a full disk) is logged once and the read goes on."""
        assert self._ingester is not None
        behind = any(self._known.get(key, 0) < size for key, size in targets.items())
        others = 0 if self._ingester.active_somewhere() else READ_INGEST_BYTES
        if not behind and not others:
            return
        try:
            with self._exclusive() as con:
                self._catch_up(con, max_bytes=others, priority=targets)
        except (duckdb.Error, OSError) as exc:
            self._warn_once(
                "ingest",
                "Could not apply new journal records before reading %s (%s); reading what "
                "is already there.",
                self.location,
                exc,
            )
        else:
            self._warned.discard("ingest")

    @staticmethod
    def warm_up() -> None:
        """Run the common reads once on an empty in-memory store: a standby daemon does so
        while it waits, so that its first reads after taking over do not pay first-use costs
        (lazy imports, pandas conversions; measured ~30 ms on a quiet machine, more on a busy
        one)."""
        store = DuckDBStore(":memory:")
        try:
            pickle.dumps(store.search_runs(RunSearch()))
            pickle.dumps(store.get_metric_history(["-"]))
        finally:
            store.close()

    def heartbeat(self, process: ProcessInfo) -> None:
        if self._ingester is not None:
            _ingest.touch(_ingest.heartbeat_file(self.root / "heartbeats", process.proc_id))

    def retire(self, process: ProcessInfo) -> None:
        """This process is done writing: seal its journal, remove its heartbeat."""
        if self._ingester is not None:
            self.spool.close()
            _ingest.heartbeat_file(self.root / "heartbeats", process.proc_id).unlink(
                missing_ok=True
            )

    @property
    def artifacts(self) -> ArtifactStore:
        return self._artifacts

    # -- reads ---------------------------------------------------------------------------------
    def _read(self, op: str, *args: Any) -> Any:
        """Run the read ``op`` at the host of the store if there is one, else here."""
        targets = self.spool.own_targets()
        if self._host is not None and not (self._ingester and self._ingester.has_role):
            with contextlib.suppress(_host.HostUnavailable):
                return self._call_host(op, args, targets)
        return self.serve(op, args, targets)

    def _call_host(self, op: str, args: tuple[Any, ...], targets: Mapping[str, int]) -> Any:
        """Run ``op`` at the process hosting this store. A host that just died or handed
        over has a successor within milliseconds (the daemon's standby, or the daemon taking
        over from a writer): wait for it (up to ``HOST_WAIT_S``) rather than take the file
        from it. Raises ``HostUnavailable`` when no process hosts the store."""
        assert self._host is not None
        deadline = None
        while True:
            try:
                return self._host.call(op, args, dict(targets))
            except _host.HostUnavailable:
                deadline = deadline or time.monotonic() + HOST_WAIT_S  # from the first failure
                expected = self._ingester is not None and self._ingester.hosted_elsewhere()
                if not expected or time.monotonic() > deadline:
                    raise
                time.sleep(HOST_RETRY_S)

    def serve(self, op: str, args: tuple[Any, ...], targets: Mapping[str, int]) -> Any:
        """Run ``op`` here, for this process or for a process whose reads this one hosts."""
        if op == "sync":
            caught_up = self._sync_here(dict(targets), hosted=True)
            if not caught_up and self._ingester is not None and self._ingester.leaving_soon():
                raise _host.HostMoved  # the asker goes on at the next host
            return caught_up
        if op == "catch_up":  # the asker's journals, now (it is about to exit, say)
            self._apply_own(targets)
            return True
        if op == "schema_version":
            return SCHEMA_VERSION
        if self._ingester is not None:
            self._apply_own(targets)
        read = _ops.READS[op]
        if op in _ops.LOCKED or self._lease is None:
            with self._exclusive() as con:
                return read(con, *args)
        with self._use() as con:
            return read(con, *args)

    def sql(self, query: str, parameters: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return self._read("sql", query, dict(parameters or {}))  # type: ignore[no-any-return]

    # -- experiments and runs ------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing_after_own(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database for a change that must see this process's own logged data first."""
        with self._exclusive() as con:
            if self._ingester is not None:
                self._catch_up(con, max_bytes=0)
            yield con

    def _change(
        self, change: Callable[..., Any], *args: Any, lock: tuple[int, str] | None = None
    ) -> Any:
        """``change(con, *args)`` holding the database (the file lock serializes every change
        of every process, so ``lock`` needs nothing more here)."""
        with self._writing_after_own() as con:
            return change(con, *args)

    def close(self) -> None:
        _open_stores.discard(self)
        if self._ingester is not None:
            self._ingester.stop()
        if self._host is not None:
            self._host.close()
        if self._lease is not None:
            self._lease.release()
        if self._con is not None:
            self._con.close()
            self._con = None
            self._tmp.cleanup()


def _behind(progress: _ingest.Progress, targets: Mapping[str, int]) -> bool:
    """Whether a journal is still short of its target offset after ``progress``."""
    return any(progress.offsets.get(key, size) < size for key, size in targets.items())


_open_stores: weakref.WeakSet[DuckDBStore] = weakref.WeakSet()  # each one keeps threads running


def _close_at_exit(ref: weakref.ref[DuckDBStore]) -> None:
    """Close an in-memory store before interpreter teardown (DuckDB complains otherwise)."""
    store = ref()
    if store is not None:
        store.close()
