"""The per-store write path: an in-memory buffer drained to the store in the background.

Logging calls validate and append to a list under a lock (about a microsecond). A thread named
``workbench-flusher`` writes whatever accumulated every flush interval (default 0.5 s,
``WORKBENCH_FLUSH_INTERVAL``) as one batch and refreshes this process's heartbeat while it owns
running runs. It does nothing else: making written batches visible in the database is the
store's own background work, so a slow ingest never delays a write.

Backpressure keeps the durability bound at any logging rate: when the oldest buffered value is
older than one interval (the flusher is late: a busy machine, a long write), the logging call
writes the batch itself before it returns. So a value is in the store's journal within one
interval plus the time of one write of its batch, however fast the caller logs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from workbench import _threads
from workbench.exceptions import StoreError
from workbench.store.base import ProcessInfo, Store
from workbench.store.batch import METRIC_SCHEMA, RECORD_KINDS, Batch

logger = logging.getLogger("workbench.tracking")

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
        self._points = _Points()
        self._tables: list[pa.Table] = []
        self._unwritten: list[Batch] = []
        self._oldest = 0.0  # monotonic time of the oldest buffered value (0: empty)
        self._worker: _threads.Worker | None = None
        self._closed = False
        self._failing = False  # a write failed and was reported; quiet until one succeeds
        self.process = ProcessInfo.current()
        self.running: dict[str, Callable[[str, str], None]] = {}  # run_id -> end(status, error)

    # -- buffering (hot path) ---------------------------------------------------------------
    def record(self, kind: str, row: dict[str, Any]) -> None:
        """Buffer one record of ``kind`` (see ``RECORD_KINDS``)."""
        with self._lock:
            self._records[kind].append(row)
            late = self._note_buffered()
        if late:
            self._write_late()

    def point(self, run_id: str, key: str, step: int, value: float, timestamp_us: int) -> None:
        """Buffer one metric point."""
        with self._lock:
            self._points.add(run_id, key, step, value, timestamp_us)
            late = self._note_buffered()
        if late:
            self._write_late()

    def points_table(self, table: pa.Table) -> None:
        """Buffer many metric points at once (already validated, in ``METRIC_SCHEMA``)."""
        with self._lock:
            self._tables.append(table)
            late = self._note_buffered()
        if late:
            self._write_late()

    def _note_buffered(self) -> bool:
        """Under ``_lock``: note the time of the oldest value; whether the flusher is late."""
        now = time.monotonic()
        if not self._oldest:
            self._oldest = now
            if self._worker is None:
                self._start()
            return False
        return now - self._oldest > self.interval

    def _write_late(self) -> None:
        """Backpressure: the caller writes what the flusher has not written in time."""
        with contextlib.suppress(StoreError):  # kept in memory, retried; the flusher reports it
            self.flush()

    # -- draining ---------------------------------------------------------------------------
    def _take_batch(self) -> Batch | None:
        with self._lock:
            records, self._records = self._records, {k: [] for k in RECORD_KINDS}
            points, self._points = self._points, _Points()
            tables, self._tables = self._tables, []
            self._oldest = 0.0
        if points.steps:
            tables.insert(0, points.to_table())
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

    def flush_before_read(self) -> None:
        """Flush so that a read sees what this process logged; if the store cannot take it
        now (a full disk), the read goes on without it (the flusher reports the problem)."""
        try:
            self.flush()
        except StoreError as exc:
            if not self._failing:
                logger.error("workbench could not write logged data; retrying: %s", exc)
            self._failing = True

    def sync(self, *, block: bool) -> bool:
        """Flush, then ask the store to make it visible (``block=False``: only if not busy)."""
        self.flush()
        return self.store.sync(block=block)

    def _start(self) -> None:
        """Under ``_lock``: start the flusher (once per process; again in a forked child)."""
        self._worker = _threads.Worker("workbench-flusher", self._loop).start()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self._tick()

    def _tick(self) -> None:
        try:
            self.flush()
            if self.running:
                self.store.heartbeat(self.process)
        except Exception as exc:  # keep flushing: a failure now is retried next tick
            if not self._failing:
                logger.error("workbench could not write logged data; retrying: %s", exc)
            self._failing = True
        else:
            if self._failing:
                logger.warning("workbench writes to %s work again.", self.store.location)
            self._failing = False

    def close(self) -> None:
        """End runs left open as killed, flush, stop the flusher and retire (once)."""
        if self._closed:
            return
        self._closed = True
        _recorders.discard(self)
        for end in list(self.running.values()):
            end(
                "killed",
                "The process exited while the run was still active (end it with "
                "run.end() or use `with workbench.start_run(...)`).",
            )
        if self._worker is not None:
            self._worker.stop()
        try:
            self.flush()
            self.store.retire(self.process)
            self.store.sync(block=False)
        except Exception:
            logger.exception("workbench could not flush at exit; data stays in the spool.")


class _Points:
    """Metric points as typed columns: no Python object per point for the garbage collector
    to scan, and a table built from the raw buffers without converting each value."""

    __slots__ = ("key_codes", "keys", "run_codes", "runs", "stamps", "steps", "values")

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}
        self.keys: dict[str, int] = {}
        self.run_codes = array("i")
        self.key_codes = array("i")
        self.steps = array("q")
        self.values = array("d")
        self.stamps = array("q")

    def add(self, run_id: str, key: str, step: int, value: float, timestamp_us: int) -> None:
        runs, keys = self.runs, self.keys
        run_code = runs.get(run_id)
        if run_code is None:
            run_code = runs[run_id] = len(runs)
        key_code = keys.get(key)
        if key_code is None:
            key_code = keys[key] = len(keys)
        self.run_codes.append(run_code)
        self.key_codes.append(key_code)
        self.steps.append(step)
        self.values.append(value)
        self.stamps.append(timestamp_us)

    def to_table(self) -> pa.Table:
        def labels(codes: array[int], names: dict[str, int]) -> pa.DictionaryArray:
            return pa.DictionaryArray.from_arrays(
                pa.array(np.frombuffer(codes, np.int32)), pa.array(list(names), pa.string())
            )

        return pa.table(
            [
                labels(self.run_codes, self.runs),
                labels(self.key_codes, self.keys),
                pa.array(np.frombuffer(self.steps, np.int64)),
                pa.array(np.frombuffer(self.values, np.float64)),
                pa.array(np.frombuffer(self.stamps, np.int64)).cast(pa.timestamp("us")),
            ],
            schema=METRIC_SCHEMA,
        )


def _close_all() -> None:
    for recorder in list(_recorders):
        recorder.close()


def _after_fork() -> None:
    for recorder in list(_recorders):
        recorder._reset()


_threads.at_exit(_close_all, _threads.FLUSH)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
