"""The spool: per-process append-only journals of batches waiting to be ingested into DuckDB.

Writing a batch never needs the database lock. Each process appends to its own journal file
(``<time_ns>-<host>-<pid>.journal``) with a single ``write`` of a framed record::

    b"WBJ1" | payload length (uint32 LE) | CRC-32 of payload (uint32 LE) | payload (Arrow IPC)

Once ``write`` returns the bytes are in the operating system's cache, so they survive the death
of the process (``kill -9``); an fsync in the background (every flush interval) also makes them
survive power loss. Whoever next holds the database lock reads every journal from the offset it
had reached (kept in ``wb_spool_offsets``, updated in the same transaction as the data), applies
the complete records, and stops at a torn tail, which only a writer killed mid-``write`` leaves
(that call never returned, so nothing acknowledged is lost). A journal is deleted once it is
fully ingested and its writer has closed it (renamed to ``.sealed``) or died.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import psutil

from workbench.store._batch import Batch

logger = logging.getLogger("workbench.store")

MAGIC = b"WBJ1"
HEADER = struct.Struct("<4sII")
JOURNAL = ".journal"
SEALED = ".sealed"
ROTATE_BYTES = 64 << 20


@dataclass(frozen=True)
class Entry:
    """A complete record read from a journal, and the offset just after it."""

    batch: Batch
    end: int


class Spool:
    """Append batches to this process's journal; read and retire journals for ingestion."""

    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = folder
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._pid = -1
        self._size = 0
        self._needs_fsync = False

    # -- writing ----------------------------------------------------------------------------
    def write(self, batch: Batch) -> None:
        """Append ``batch``; durable against process death on return."""
        payload = batch.to_ipc()
        record = HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if self._fd is None or self._pid != os.getpid() or self._size > ROTATE_BYTES:
                self._open_new()
            assert self._fd is not None
            view = memoryview(record)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError:
                self._undo_partial_write()
                raise
            self._size += len(record)
            self._needs_fsync = True

    def _open_new(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            self._seal()
        self._pid = os.getpid()
        name = f"{time.time_ns():020d}-{socket.gethostname()}-{self._pid}{JOURNAL}"
        self._path = self.folder / name
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = 0

    def _undo_partial_write(self) -> None:
        """Cut a half-written record off, or move on to a new journal if that fails too."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            self._seal()

    def _seal(self) -> None:
        assert self._fd is not None and self._path is not None
        if self.fsync:
            os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        # FileNotFoundError: already ingested and removed after this writer was presumed dead.
        with contextlib.suppress(FileNotFoundError):
            os.replace(self._path, self._path.with_suffix(SEALED))

    def fsync_pending(self) -> None:
        """Flush this process's journal to the disk device (power-loss safety)."""
        with self._lock:
            if (
                self.fsync
                and self._needs_fsync
                and self._fd is not None
                and self._pid == os.getpid()
            ):
                os.fsync(self._fd)
                self._needs_fsync = False

    def close(self) -> None:
        """Seal this process's journal (no more appends)."""
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                self._seal()

    # -- reading ----------------------------------------------------------------------------
    def journals(self) -> list[Path]:
        """Journal files (open and sealed), oldest first."""
        try:
            names = [n for n in os.listdir(self.folder) if n.endswith((JOURNAL, SEALED))]
        except FileNotFoundError:
            return []
        return [self.folder / n for n in sorted(names)]

    @staticmethod
    def key(path: Path) -> str:
        """The name a journal's ingestion offset is recorded under (stable across sealing)."""
        return path.name.rsplit(".", 1)[0]

    def read(self, path: Path, offset: int) -> list[Entry]:
        """Complete records of ``path`` after ``offset`` (a torn tail is left for later)."""
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return []
        entries, position = [], 0
        while len(data) - position >= HEADER.size:
            magic, length, crc = HEADER.unpack_from(data, position)
            start, end = position + HEADER.size, position + HEADER.size + length
            if magic != MAGIC or end > len(data):
                break
            payload = data[start:end]
            if zlib.crc32(payload) != crc:
                break
            try:
                batch = Batch.from_ipc(payload)
            except ValueError as exc:
                logger.error("Skipping an unreadable batch in %s: %s", path.name, exc)
            else:
                entries.append(Entry(batch, offset + end))
            position = end
        return entries

    @staticmethod
    def writer_gone(path: Path) -> bool:
        """Whether nothing more can be appended to ``path`` (sealed, or its writer died).

        Ask *before* reading a journal: a writer can append a complete record and die between
        a read and a later liveness check, and that record must not be taken for a torn tail.
        """
        return path.suffix == SEALED or not _writer_alive(path)

    def finished(self, path: Path, offset: int) -> bool:
        """Whether ``path``, whose writer was gone before it was read up to ``offset``, can be
        deleted: sealed and fully read, or unsealed with at most a torn tail left."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False  # renamed to .sealed since it was listed: settle it next time
        if path.suffix == SEALED:
            return offset >= size
        if offset < size:
            logger.warning(
                "Journal %s ends in %d bytes of a write its process did not finish "
                "(it was killed mid-write); nothing acknowledged is lost.",
                path.name,
                size - offset,
            )
        return True


def _writer_alive(path: Path) -> bool:
    """Whether the process that created an unsealed journal may still append to it."""
    try:
        stamp, rest = path.stem.split("-", 1)
        host, pid = rest.rsplit("-", 1)
        created = int(stamp) / 1e9
        if host != socket.gethostname():
            return time.time() - path.stat().st_mtime < 3600  # other host: trust an hour
        process = psutil.Process(int(pid))
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= created + 1
    except (ValueError, psutil.Error, FileNotFoundError):
        return False
