"""The spool: a folder of batch files waiting to be ingested into the DuckDB file.

Writing a batch never needs the database lock: it is one file, written to a temporary name and
renamed into place, so it is durable against the writer's death as soon as the rename returns.
Whoever next holds the lock ingests every complete file, in name order, inside one transaction,
then deletes them. File names sort by time, then process, then a per-process sequence number.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from workbench.store._batch import Batch

logger = logging.getLogger("workbench.store")

SUFFIX = ".arrow"


class Spool:
    """Write and read batch files in ``folder``."""

    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = folder
        self.fsync = fsync
        self._seq = 0
        self._lock = threading.Lock()  # keeps one process's files in sequence order
        self._unsynced: list[Path] = []

    def write(self, batch: Batch, writer_id: str) -> Path:
        """Write ``batch`` atomically; durable against process death on return."""
        data = batch.to_ipc()
        with self._lock:
            self._seq += 1
            name = f"{time.time_ns():020d}-{writer_id}-{self._seq:09d}{SUFFIX}"
            final = self.folder / name
            tmp = self.folder / f".{name}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, final)
            self._unsynced.append(final)
        return final

    def fsync_pending(self) -> None:
        """Flush written files to the disk itself (power-loss safety), off the caller's path."""
        if not self.fsync:
            return
        with self._lock:
            paths, self._unsynced = self._unsynced, []
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # already ingested and removed
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if paths:
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def pending(self) -> list[Path]:
        """Complete batch files, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(SUFFIX))
        except FileNotFoundError:
            return []
        return [self.folder / n for n in names]

    def read(self, path: Path) -> Batch | None:
        """The batch in ``path``; a damaged file is moved to ``corrupt/`` and None returned."""
        try:
            return Batch.from_ipc(path.read_bytes())
        except FileNotFoundError:
            return None  # another process ingested it between listing and reading
        except (ValueError, OSError) as exc:
            corrupt = self.folder / "corrupt"
            corrupt.mkdir(exist_ok=True)
            os.replace(path, corrupt / path.name)
            logger.error("Spool file %s is damaged (%s); moved it to %s.", path.name, exc, corrupt)
            return None
