"""The per-store write path: an in-memory buffer drained to the store by a background thread.

Logging calls only validate and append to a list under a lock (microseconds). A daemon thread
named ``workbench-flusher`` writes whatever accumulated every flush interval (default 0.5 s,
``WORKBENCH_FLUSH_INTERVAL``) as one batch, refreshes this process's heartbeat while it owns
running runs, fsyncs spool files, and every few seconds tries (without waiting) to ingest the
spool into the database. So a value that ``log_metric`` accepted is on disk within one interval
plus the time to write one file, whatever other processes are doing with the database.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from workbench.exceptions import StoreError
from workbench.store._batch import METRIC_SCHEMA, RECORD_KINDS, Batch
from workbench.store.base import ProcessInfo, Store

logger = logging.getLogger("workbench.tracking")

SYNC_EVERY_S = 2.0
_recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()


class Recorder:
    """Buffers records and metric points for one store; flushes them in the background."""

    def __init__(self, store: Store, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._reset()
        _recorders.add(self)

    def _reset(self) -> None:
        """Fresh state; also used in a forked child, which must not re-send the parent's data."""
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._records: dict[str, list[dict[str, Any]]] = {k: [] for k in RECORD_KINDS}
        self._points: list[tuple[str, str, int, float, int]] = []
        self._tables: list[pa.Table] = []
        self._unwritten: list[Batch] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_sync = 0.0
        self._written_since_sync = False
        self.process = ProcessInfo.current()
        self.running: dict[str, Callable[[str, str], None]] = {}  # run_id -> end(status, error)

    # -- buffering (hot path) ---------------------------------------------------------------
    def record(self, kind: str, row: dict[str, Any]) -> None:
        """Buffer one record of ``kind`` (see ``RECORD_KINDS``)."""
        with self._lock:
            self._records[kind].append(row)
        if self._thread is None:
            self._start()

    def point(self, run_id: str, key: str, step: int, value: float, timestamp_us: int) -> None:
        """Buffer one metric point."""
        with self._lock:
            self._points.append((run_id, key, step, value, timestamp_us))
        if self._thread is None:
            self._start()

    def points_table(self, table: pa.Table) -> None:
        """Buffer many metric points at once (already validated, in ``METRIC_SCHEMA``)."""
        with self._lock:
            self._tables.append(table)
        if self._thread is None:
            self._start()

    # -- draining ---------------------------------------------------------------------------
    def _take_batch(self) -> Batch | None:
        with self._lock:
            records, self._records = self._records, {k: [] for k in RECORD_KINDS}
            points, self._points = self._points, []
            tables, self._tables = self._tables, []
        if points:
            run_ids, keys, steps, values, stamps = zip(*points, strict=True)
            tables.insert(
                0,
                pa.table(
                    [
                        Batch.labels(run_ids),
                        Batch.labels(keys),
                        pa.array(steps, pa.int64()),
                        pa.array(values, pa.float64()),
                        pa.array(stamps, pa.timestamp("us")),
                    ],
                    schema=METRIC_SCHEMA,
                ),
            )
        if not tables and not any(records.values()):
            return None
        batch = Batch(records=records)
        if tables:
            batch.metrics = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return batch

    def flush(self) -> None:
        """Write everything buffered so far to the store, durably, before returning."""
        with self._write_lock:
            batch = self._take_batch()
            if batch is not None:
                self._unwritten.append(batch)
            while self._unwritten:
                try:
                    self.store.write_batch(self._unwritten[0])
                except OSError as exc:
                    raise StoreError(
                        f"Could not write logged data to the store {self.store.location}: {exc}. "
                        "It is kept in memory and retried at the next flush; free disk space or "
                        "fix permissions."
                    ) from exc
                self._unwritten.pop(0)
                self._written_since_sync = True

    def sync(self, *, block: bool) -> bool:
        """Flush, then ask the store to ingest (``block=False``: only if the lock is free)."""
        self.flush()
        done = self.store.sync(block=block)
        if done:
            self._written_since_sync = False
            self._last_sync = time.monotonic()
        return done

    def _start(self) -> None:
        with self._write_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="workbench-flusher", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._tick()
            except Exception:  # keep flushing: a failure now is retried next tick
                logger.exception("workbench background flush failed; retrying.")

    def _tick(self) -> None:
        self.flush()
        if self.running:
            self.store.heartbeat(self.process)
        spool = getattr(self.store, "spool", None)
        if spool is not None:
            spool.fsync_pending()
        if self._written_since_sync and time.monotonic() - self._last_sync > SYNC_EVERY_S:
            self.sync(block=False)

    def close(self) -> None:
        """End runs left open as killed, flush, and stop the background thread (once)."""
        if self._stop.is_set():
            return
        _recorders.discard(self)
        for end in list(self.running.values()):
            end(
                "killed",
                "The process exited while the run was still active (end it with "
                "run.end() or use `with workbench.start_run(...)`).",
            )
        self._stop.set()
        try:
            self.flush()
            spool = getattr(self.store, "spool", None)
            if spool is not None:
                spool.close()
            self.store.sync(block=False)
            self.store.retire(self.process)
        except Exception:
            logger.exception("workbench could not flush at exit; data stays in the spool.")


def _close_all() -> None:
    for recorder in list(_recorders):
        recorder.close()


def _after_fork() -> None:
    for recorder in list(_recorders):
        recorder._reset()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
