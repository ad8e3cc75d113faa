"""Content-addressed artifact files, written atomically, on this machine or in a shared location.

A file's address is the SHA-256 of its bytes: ``<root>/sha256/ab/abcdef...``. Writing goes to a
temporary file in the same folder, is fsync'ed, then renamed into place, so a reader never sees
a partial file and a crash leaves at most a stray temporary file. Equal content is stored once.

**Shared location.** ``ArtifactStore(root, remote=URL)`` keeps the blobs in a location every
machine reaches (a shared folder, ``s3://bucket/prefix`` or another fsspec URL;
:mod:`workbench.store._artifact_backends`), and ``root`` becomes this machine's staging area
and read cache, with the same layout:

* **Logging never waits on the network.** ``put_bytes``/``put_file`` write the blob to ``root``
  exactly as above, plus a marker ``root/pending/<digest>``, and return; a
  ``workbench-uploader`` thread uploads it moments later. When a put returns, the blob is
  durable on this machine (against ``kill -9`` of the process); it is in the shared location
  once uploaded, which :meth:`upload_pending` (``workbench.flush()`` on a team store) waits for.
* **Nothing is lost with the process.** The marker is removed only after the upload. A process
  killed before uploading leaves its markers; the next workbench process of this machine that
  opens the store (same ``root``) uploads them. A process that exits normally uploads what it
  can before it exits (what fails then waits for the next process, too).
* **Write once.** A blob already in the shared location (same digest and size: logged by any
  machine) is not uploaded again. Uploads are atomic (``_artifact_backends``), and the local
  blob is hashed before upload: a blob damaged on this machine is never uploaded; it is moved
  to ``root/corrupt/`` and the error is logged.
* **Reads are checked.** :meth:`path` returns the local file; a blob this machine does not
  have is downloaded, hashed, and cached only if its SHA-256 is its name: otherwise
  :class:`~workbench.exceptions.ArtifactIntegrityError` names it and nothing is cached.

Several processes of a machine may share ``root``: a marker is locked (``flock``) while its blob
is written and while it is uploaded, so each blob is uploaded by one of them at a time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Literal

from workbench import _threads
from workbench.exceptions import ArtifactIntegrityError, ArtifactNotFoundError, StoreError
from workbench.store._artifact_backends import Backend, open_backend

try:
    import fcntl
except ImportError:  # Windows: no locks; uploads are idempotent, so only work is duplicated
    fcntl = None  # type: ignore[assignment]

__all__ = ["ArtifactStore"]

logger = logging.getLogger("workbench.store")

_CHUNK = 1 << 20
_DIGEST = re.compile(r"[0-9a-f]{64}")
UPLOAD_POLL_S = 0.25  # how often the uploader looks whether a put woke it
RESCAN_S = 10.0  # how often it looks for markers without being woken (another process's)
WAIT_S = 60.0  # how long upload_pending waits for a blob another process is uploading
STALE_S = 3600.0  # without flock: a marker whose blob never came is dropped after this long

_Outcome = Literal["done", "busy"]


class ArtifactStore:
    """Stores and finds files by content digest under ``root``, or in ``remote`` (a shared
    folder or an fsspec URL) with ``root`` as this machine's staging area and cache."""

    def __init__(self, root: str | os.PathLike[str], *, remote: str | None = None) -> None:
        self.root = Path(root)
        self._remote: Backend | None = None if remote is None else open_backend(remote)
        #: Where the blobs live: the shared location (password hidden), or ``root``.
        self.location = str(self.root) if self._remote is None else self._remote.location
        self._pending = self.root / "pending"
        self._own: set[str] = set()  # digests this process put that wait for upload
        self._own_lock = threading.Lock()
        self._wake = threading.Event()
        self._uploader: _threads.Worker | None = None
        self._uploader_lock = threading.Lock()
        self._failing = False
        self._closed = False
        if self._remote is not None:
            _before_thread_pools_stop(functools.partial(_upload_at_exit, weakref.ref(self)))
            _threads.at_exit(functools.partial(_close_at_exit, weakref.ref(self)))
            if self.pending():  # left by a process of this machine that died before uploading
                self._start_uploader()

    @property
    def remote(self) -> str | None:
        """The shared location (password hidden), or ``None`` when the blobs stay in ``root``."""
        return None if self._remote is None else self._remote.location

    # -- reads ---------------------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        """The local file with ``digest`` (read-only); with a shared location, downloaded and
        checked first if this machine does not have it.

        Raises ``ArtifactNotFoundError`` if no blob has that digest, ``ArtifactIntegrityError``
        if the shared location's blob does not hash to its name, ``StoreError`` if the shared
        location cannot be read."""
        if not _DIGEST.fullmatch(digest):
            raise ArtifactNotFoundError(
                f"{digest!r} is not an artifact digest (64 lowercase hex digits of a SHA-256)."
            )
        path = self._path_for(digest)
        if path.is_file():
            return path
        if self._remote is None:
            raise ArtifactNotFoundError(f"No artifact file with digest {digest!r} in {self.root}.")
        self._fetch(self._remote, digest, path)
        return path

    def exists(self, digest: str) -> bool:
        """Whether a blob with ``digest`` is stored, on this machine or in the shared location
        (asked, not downloaded: ``StoreError`` if the location cannot be reached)."""
        if not _DIGEST.fullmatch(digest):
            return False
        if self._path_for(digest).is_file():
            return True
        if self._remote is None:
            return False
        try:
            return self._remote.size(digest) is not None
        except Exception as exc:
            raise StoreError(
                f"Could not look for artifact blob {self._remote.describe(digest)}: {_reason(exc)}."
            ) from exc

    def _fetch(self, remote: Backend, digest: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
        os.close(fd)
        tmp = Path(name)
        try:
            try:
                remote.download(digest, tmp)
            except FileNotFoundError:
                raise ArtifactNotFoundError(
                    f"No artifact blob {remote.describe(digest)} (nor in this machine's cache "
                    f"{self.root}). If it was logged moments ago on another machine, it is not "
                    "uploaded yet: that machine uploads it in the background, `workbench.flush()` "
                    "there waits for it, and a process killed before uploading has it uploaded by "
                    "the next workbench process of its machine. Otherwise it was deleted from "
                    "the shared location."
                ) from None
            except Exception as exc:
                raise StoreError(
                    f"Could not read artifact blob {remote.describe(digest)}: {_reason(exc)}. "
                    "Check that the location is reachable and this machine's credentials may "
                    "read it."
                ) from exc
            actual, _ = _hash_file(tmp)
            if actual != digest:
                raise ArtifactIntegrityError(
                    f"The artifact blob {remote.describe(digest)} is damaged: its SHA-256 is "
                    f"{actual}, not {digest} (its name, recorded when it was logged). It is not "
                    "used nor cached. Restore it from a copy (the machine that logged it keeps "
                    "one in its cache), or log it again."
                )
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    # -- writes --------------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return (digest, size)."""
        digest = hashlib.sha256(data).hexdigest()
        self._store(digest, lambda f: f.write(data))
        return digest, len(data)

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a copy of the file at ``source``; return (digest, size)."""
        digest, size = _hash_file(source)

        def copy(f: IO[bytes]) -> None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, f, _CHUNK)

        self._store(digest, copy)
        return digest, size

    def _store(self, digest: str, write: Callable[[IO[bytes]], object]) -> None:
        target = self._path_for(digest)
        if target.exists():
            return  # stored before: uploaded, or its marker still waits
        if self._remote is None:
            self._write_atomically(target, write)
            return
        with self._marked(digest):  # the marker first: a blob here is a blob to upload
            self._write_atomically(target, write)
        with self._own_lock:
            self._own.add(digest)
        self._start_uploader()
        self._wake.set()

    @contextlib.contextmanager
    def _marked(self, digest: str) -> Iterator[None]:
        """Create ``pending/<digest>`` and hold its lock while the blob is written, so an
        uploader never takes a marker whose blob is still coming for a stale one."""
        self._pending.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._pending, prefix=".new-")
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.replace(tmp, self._pending / digest)  # the inode, and its lock, move along
            _fsync_dir(self._pending)
            yield
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)

    def _path_for(self, digest: str) -> Path:
        return self.root / "sha256" / digest[:2] / digest

    @staticmethod
    def _write_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- uploads -------------------------------------------------------------------------------
    def pending(self) -> list[str]:
        """Digests of blobs logged on this machine and not uploaded yet (any process's)."""
        try:
            names = os.listdir(self._pending)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _DIGEST.fullmatch(n))

    def upload_pending(self, *, own: bool = False, timeout: float = WAIT_S) -> bool:
        """Upload the blobs this machine logged that are not in the shared location yet
        (``own``: only this process's), waiting up to ``timeout`` seconds for those another
        process is uploading right now. Returns whether none is left.

        Raises ``StoreError`` if the shared location refuses or cannot be reached (the blobs
        stay here and are uploaded later)."""
        remote = self._remote
        if remote is None:
            return True
        deadline = time.monotonic() + timeout
        while True:
            with self._own_lock:
                digests = sorted(self._own) if own else self.pending()
            busy = [d for d in digests if self._upload(remote, d) == "busy"]
            if not busy:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def _upload(self, remote: Backend, digest: str) -> _Outcome:
        """Upload one pending blob under its marker's lock; ``"busy"`` if another process
        or thread holds it (it is uploading it, or still writing the blob)."""
        marker = self._pending / digest
        try:
            fd = os.open(marker, os.O_RDONLY)
        except FileNotFoundError:
            self._uploaded(digest)
            return "done"
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return "busy"
            try:
                if os.stat(marker).st_ino != os.fstat(fd).st_ino:
                    return "busy"  # a new marker replaced it: look again
            except FileNotFoundError:
                self._uploaded(digest)
                return "done"  # uploaded meanwhile by another process
            blob = self._path_for(digest)
            if not blob.is_file():
                # Its put died before the blob was written (nothing refers to it), unless,
                # without flock, the put is still writing: then wait for STALE_S.
                if fcntl is not None or time.time() - os.fstat(fd).st_mtime > STALE_S:
                    marker.unlink(missing_ok=True)
                    self._uploaded(digest)
                return "done"
            self._upload_blob(remote, digest, blob)
            marker.unlink(missing_ok=True)
            self._uploaded(digest)
            return "done"
        finally:
            os.close(fd)

    def _upload_blob(self, remote: Backend, digest: str, blob: Path) -> None:
        size = blob.stat().st_size
        try:
            if remote.size(digest) == size:
                return  # logged before, on some machine: write once
        except Exception as exc:
            raise StoreError(
                f"Could not look for artifact blob {remote.describe(digest)}: {_reason(exc)}."
            ) from exc
        actual, _ = _hash_file(blob)
        if actual != digest:
            corrupt = self.root / "corrupt" / digest
            corrupt.parent.mkdir(parents=True, exist_ok=True)
            os.replace(blob, corrupt)
            logger.error(
                "workbench did not upload artifact blob %s: this machine's copy is damaged "
                "(its SHA-256 is %s); it was moved to %s. Log the artifact again.",
                digest,
                actual,
                corrupt,
            )
            return
        try:
            remote.upload(digest, blob)
        except Exception as exc:
            raise StoreError(
                f"Could not upload artifact blob {remote.describe(digest)}: {_reason(exc)}. It "
                f"stays in {self._pending} and is uploaded when the location answers."
            ) from exc

    def _uploaded(self, digest: str) -> None:
        with self._own_lock:
            self._own.discard(digest)

    def _start_uploader(self) -> None:
        with self._uploader_lock:
            if self._uploader is not None and self._uploader.alive:
                return
            if not self._closed and not _threads.exiting():  # (again in a forked child)
                self._uploader = _threads.Worker("workbench-uploader", self._upload_loop).start()

    def _upload_loop(self, stop: threading.Event) -> None:
        scanned = float("-inf")
        while not stop.is_set():
            if self._wake.is_set() or time.monotonic() - scanned > RESCAN_S:
                self._wake.clear()
                scanned = time.monotonic()
                self._upload_round(stop)
            stop.wait(UPLOAD_POLL_S)

    def _upload_round(self, stop: threading.Event | None) -> None:
        """Upload what is pending, skipping what another process uploads; stop at the first
        failure (the location is down, say) and try again later."""
        remote = self._remote
        assert remote is not None
        try:
            for digest in self.pending():
                if stop is not None and stop.is_set():
                    return
                self._upload(remote, digest)
        except Exception as exc:
            if not self._failing and not _threads.exiting():
                logger.error("workbench could not upload artifacts; retrying: %s", exc)
            self._failing = True
        else:
            if self._failing:
                logger.warning("workbench uploads artifacts to %s again.", remote.location)
            self._failing = False

    def close(self) -> None:
        """Stop the uploader, then upload this process's blobs if the location answers (what
        is left waits in ``pending/`` for the next workbench process of this machine)."""
        with self._uploader_lock:
            if self._closed:
                return
            self._closed = True
            uploader, self._uploader = self._uploader, None
        if uploader is not None:
            uploader.stop()
        self._upload_own_before_leaving()

    def _upload_own_before_leaving(self) -> None:
        with self._own_lock:
            if self._remote is None or not self._own:
                return
        if _threads.exiting():
            return  # tried before thread pools stopped (_upload_at_exit); cannot now
        try:
            self.upload_pending(own=True)
        except Exception as exc:
            logger.error(
                "workbench could not upload %d artifact blob(s) to %s before leaving (%s); the "
                "next workbench process of this machine that opens the store uploads them.",
                len(self._own),
                self.location,
                exc,
            )


def _before_thread_pools_stop(hook: Callable[[], None]) -> None:
    """Run ``hook`` at interpreter exit while ``concurrent.futures`` still takes work.

    Storage libraries need thread pools (aiohttp, under s3fs, resolves host names in one), and
    those refuse work ("cannot schedule new futures after interpreter shutdown") once
    ``concurrent.futures`` has stopped, which is before any ``atexit`` handler runs. CPython's
    ``threading`` runs its own exit hooks before that, the latest registered first, so a hook
    registered after ``concurrent.futures.thread`` is imported runs while the pools work. On an
    interpreter without that hook, an ``atexit`` step before the last flush does (what it
    cannot upload then waits for the next process)."""
    import concurrent.futures.thread  # noqa: F401  (its exit hook must be registered first)

    register = getattr(threading, "_register_atexit", None)
    if register is None:
        _threads.at_exit(hook, _threads.FLUSH - 1)
        return
    with contextlib.suppress(RuntimeError):  # the interpreter is already shutting down
        register(hook)


def _upload_at_exit(ref: weakref.ref[ArtifactStore]) -> None:
    """At exit, before the last journals are written and shipped (``_threads.FLUSH``): upload
    this process's blobs, so the rows other machines read next come with their blobs."""
    store = ref()
    if store is not None and not store._closed:
        store._upload_own_before_leaving()


def _close_at_exit(ref: weakref.ref[ArtifactStore]) -> None:
    store = ref()
    if store is not None:
        store.close()


def _hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    hasher, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
