"""The spool: per-process append-only journals of batches waiting to be ingested into DuckDB.

Writing a batch never needs the database lock. Each process appends to its own journal file
(``<time_ns>-<host>-<pid>.journal``) with a single ``write`` of a framed record::

    b"WBJ1" | payload length (uint32 LE) | CRC-32 of payload (uint32 LE) | payload (Arrow IPC)

Once ``write`` returns the bytes are in the operating system's cache, so they survive the death
of the process (``kill -9``); an fsync in the background also makes them survive power loss.
Whoever next ingests reads every journal from the offset it had reached (kept in
``wb_spool_offsets``, updated in the same transaction as the data) and applies the complete
records.

Damage is contained to the bytes that are damaged. The magic and the CRC let a reader find the
next good record after bad bytes (garbage written into the file, a record cut short), so a bad
record costs that record and nothing after it. Bad bytes are copied to ``spool/corrupt/`` and
reported (``workbench doctor``); the offset moves past them, so they are read once. Bad bytes
at the *end* of a journal are only judged once its writer is gone (sealed, or its process
died): until then they may be a write in progress. A journal is deleted once its writer is gone
and it has been read to the end.
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
from dataclasses import dataclass, field
from pathlib import Path

from workbench._liveness import process_alive
from workbench.store.batch import Batch

logger = logging.getLogger("workbench.store")

MAGIC = b"WBJ1"
HEADER = struct.Struct("<4sII")
JOURNAL = ".journal"
SEALED = ".sealed"
CORRUPT = "corrupt"
ROTATE_BYTES = 64 << 20
MAX_RECORD = 1 << 30  # a larger length field is damage, not a record still being written


@dataclass(frozen=True)
class Entry:
    """A complete record read from a journal, and the offset just after it."""

    batch: Batch
    end: int


@dataclass(frozen=True)
class Damage:
    """Bytes ``start:end`` of a journal that hold no readable record, and why."""

    start: int
    end: int
    reason: str
    data: bytes = field(repr=False, default=b"")


@dataclass
class Scan:
    """What reading a journal from an offset found: records, damage, and the offset reached."""

    entries: list[Entry] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    offset: int = 0
    at_eof: bool = True  # False: stopped at the size limit, more records follow


def _record_at(data: bytes, position: int) -> tuple[str, int]:
    """What starts at ``position``, and where it says it ends: ``ok`` (a record), ``short``
    (a header whose payload runs past the data), ``crc`` (a payload that does not match its
    checksum) or ``bad`` (no header at all)."""
    if len(data) - position < HEADER.size:
        return "short", position + HEADER.size
    magic, length, crc = HEADER.unpack_from(data, position)
    end = position + HEADER.size + length
    if magic != MAGIC or length > MAX_RECORD:
        return "bad", position
    if end > len(data):
        return "short", end
    if zlib.crc32(data[position + HEADER.size : end]) != crc:
        return "crc", end
    return "ok", end


def _next_record(data: bytes, start: int) -> int | None:
    """Where the first complete, intact record at or after ``start`` begins (None: none)."""
    position = data.find(MAGIC, start)
    while position >= 0:
        if _record_at(data, position)[0] == "ok":
            return position
        position = data.find(MAGIC, position + 1)
    return None


def scan(data: bytes, base: int, *, at_eof: bool, writer_gone: bool) -> Scan:
    """Read the records in ``data`` (journal bytes from offset ``base``).

    ``at_eof``: ``data`` reaches the current end of the file. ``writer_gone``: nothing more
    will be appended. Unreadable bytes followed by a good record are damage; at the end of the
    data they are damage only once the writer is gone (before, they may be a write in progress).
    """
    result = Scan(offset=base)
    position = 0
    while position < len(data):
        status, end = _record_at(data, position)
        if status == "ok":
            try:
                batch = Batch.from_ipc(data[position + HEADER.size : end])
            except ValueError as exc:
                result.damage.append(
                    Damage(
                        base + position, base + end, f"unreadable batch: {exc}", data[position:end]
                    )
                )
            else:
                result.entries.append(Entry(batch, base + end))
            position = end
            continue
        following = _next_record(data, position + 1)
        if following is not None:
            if status in ("short", "crc") and following < end:
                reason = "a record cut short"  # the next record starts inside it
            elif status == "crc":
                reason = "a record whose bytes changed (checksum mismatch)"
            else:
                reason = "bytes that are not a record"
            result.damage.append(
                Damage(base + position, base + following, reason, data[position:following])
            )
            position = following
            continue
        if not at_eof or not writer_gone:
            break  # more data may complete or follow it: decide later
        reason = (
            "an incomplete record at the end"
            if status == "short"
            else "bytes that are not a record"
        )
        result.damage.append(Damage(base + position, base + len(data), reason, data[position:]))
        position = len(data)
    result.offset = base + position
    return result


_OWN_LOCK = threading.Lock()
_OWN: dict[Path, tuple[int, dict[str, int]]] = {}


def _own_journals(folder: Path) -> dict[str, int]:
    """This process's record of the journals it wrote in ``folder``: key -> bytes written.

    Shared by every ``Spool`` of the folder in the process (several clients of one store), so
    a read through any of them waits for what any of them wrote. A forked child starts empty:
    its parent's journals are not its own.
    """
    with _OWN_LOCK:
        pid, own = _OWN.get(folder, (-1, {}))
        if pid != os.getpid():
            own = {}
            _OWN[folder] = (os.getpid(), own)
        return own


def _note_written(folder: Path, key: str, size: int) -> None:
    own = _own_journals(folder)
    with _OWN_LOCK:
        own[key] = size


class Spool:
    """Append batches to this process's journal; read and retire journals for ingestion."""

    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = folder
        self.fsync = fsync
        self._own_key = folder.resolve()  # one record per real folder, however it was named
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
            assert self._path is not None
            _note_written(self._own_key, self.key(self._path), self._size)
            self._needs_fsync = True

    def _open_new(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            self._seal()
        self._pid = os.getpid()
        name = f"{time.time_ns():020d}-{socket.gethostname()}-{self._pid}{JOURNAL}"
        self._path = self.folder / name
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _note_written(self._own_key, self.key(self._path), 0)
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
        """Flush this process's journal to the disk device (power-loss safety).

        The fsync runs on a duplicate of the descriptor, outside the lock: appends never wait
        for the disk.
        """
        with self._lock:
            if not (
                self.fsync
                and self._needs_fsync
                and self._fd is not None
                and self._pid == os.getpid()
            ):
                return
            fd = os.dup(self._fd)
            self._needs_fsync = False
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Seal this process's journal (no more appends)."""
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                self._seal()

    def own_targets(self) -> dict[str, int]:
        """The journals this process wrote, and how far: what a read must see of them."""
        own = _own_journals(self._own_key)
        with _OWN_LOCK:
            return dict(own)

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

    def pending_bytes(self, path: Path, offset: int) -> int:
        """How many bytes of ``path`` lie after ``offset`` (0 if it is gone)."""
        try:
            return max(0, path.stat().st_size - offset)
        except FileNotFoundError:
            return 0

    def read(self, path: Path, offset: int, *, writer_gone: bool, max_bytes: int) -> Scan:
        """Records of ``path`` after ``offset``: about ``max_bytes`` of them, at least one.

        ``writer_gone`` must be decided *before* reading (see :meth:`writer_gone`).
        """
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                window = max(1, max_bytes)
                while True:
                    f.seek(offset)
                    data = f.read(min(window, max(0, size - offset)))
                    at_eof = offset + len(data) >= size
                    result = scan(data, offset, at_eof=at_eof, writer_gone=writer_gone)
                    result.at_eof = at_eof
                    if result.entries or result.damage or at_eof:
                        return result
                    status, end = _record_at(data, 0)
                    # The first record is larger than the window, or damage is: widen it.
                    window = max(window * 2, end if status == "short" else 0)
        except FileNotFoundError:
            return Scan(offset=offset)

    @staticmethod
    def writer_gone(path: Path) -> bool:
        """Whether nothing more can be appended to ``path`` (sealed, or its writer died).

        Ask *before* reading a journal: a writer can append a complete record and die between
        a read and a later liveness check, and that record must not be taken for a torn tail.
        """
        return path.suffix == SEALED or not _writer_alive(path)

    def quarantine(self, path: Path, damage: Damage) -> Path:
        """Copy damaged bytes to ``corrupt/`` (idempotent: the name says where they were)."""
        folder = self.folder / CORRUPT
        folder.mkdir(exist_ok=True)
        target = folder / f"{self.key(path)}@{damage.start}-{damage.end}.bad"
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(damage.data)
            os.replace(tmp, target)
        return target


def journal_owner(key: str) -> tuple[str, int] | None:
    """``(host, pid)`` of the process that wrote the journal ``key`` (None if malformed)."""
    try:
        _, rest = key.split("-", 1)
        host, pid = rest.rsplit("-", 1)
        return host, int(pid)
    except ValueError:
        return None


def _writer_alive(path: Path) -> bool:
    """Whether the process that created an unsealed journal may still append to it."""
    try:
        stamp, rest = path.stem.split("-", 1)
        host, pid = rest.rsplit("-", 1)
        created = int(stamp) / 1e9
        if host != socket.gethostname():
            return time.time() - path.stat().st_mtime < 3600  # other host: trust an hour
        return process_alive(int(pid), running_at=created)
    except (ValueError, FileNotFoundError):
        return False
