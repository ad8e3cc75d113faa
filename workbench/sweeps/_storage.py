"""Where a sweep's Optuna study lives: by default a journal file inside the workbench store.

The default is Optuna's :class:`~optuna.storages.JournalStorage` on one file per sweep,
``<store>/optuna/<name>-<hash>.journal``, written through :class:`FileJournalBackend`, which
differs from Optuna's own file backend in three measured ways (see docs/sweeps.md):

* **Lock.** An exclusive ``flock`` on ``<journal>.flock`` instead of a symlink/``O_EXCL`` lock
  file. The OS releases it when the holder dies, so a worker killed while writing does not make
  every other worker wait out Optuna's 30 s grace period.
* **Torn tails.** A writer killed in the middle of a record leaves a line without its newline;
  the next record is glued to it and, with Optuna's backend, no later record is readable (the
  next writer fails too). Here the next writer, holding the lock, first truncates that
  unacknowledged fragment.
* **fsync.** Every append is one ``write()`` (in the OS page cache when it returns, so it
  survives the death of the process, like the workbench spool); the file is fsynced at most every
  0.5 s and at the end of a sweep (power loss loses at most that interval). Optuna fsyncs on every
  append: 2.2 ms per trial here, against 0.3 ms.
* **Owner.** A new trial is created with its process (host, pid, start time) already in its
  user attributes, in the same record: a process killed right after creating a trial leaves
  a RUNNING trial that is known to be stale, not an ownerless one (:class:`OwnedJournalStorage`).

With a team store (PostgreSQL), the default is the store's own database instead (Optuna's
tables beside workbench's), so ``workbench sweep worker NAME`` on any machine joins the study.
A storage URL (``postgresql+psycopg2://...``, ``mysql://...``, ``sqlite:///...``) gives an
:class:`~optuna.storages.RDBStorage` with Optuna's heartbeat on (a crashed worker's trials are
failed by the others), and ``grpc://host:port`` Optuna's gRPC storage proxy: both reach one
study from several machines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from workbench import _threads
from workbench import _validation as v
from workbench.exceptions import ConflictError
from workbench.store import Store, StudyCopy
from workbench.sweeps._trial import OWNER_ATTR, owner_token

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to Optuna's lock file
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FileJournalBackend",
    "OwnedJournalStorage",
    "StorageChoice",
    "copy_studies",
    "journal_path",
    "resolve_storage",
]

logger = logging.getLogger("workbench.sweeps")

JOURNAL_DIR = "optuna"
JOURNAL_SUFFIX = ".journal"
FSYNC_INTERVAL_S = 0.5
HEARTBEAT_INTERVAL_S = 20
HEARTBEAT_GRACE_S = 60
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class FileJournalBackend(JournalFileBackend):
    """Optuna's journal file format, appended under ``flock``; see the module docstring.

    Parameters
    ----------
    file_path
        The journal file (created if missing).
    fsync_interval
        Seconds between fsyncs of the file (0 fsyncs every append, like Optuna).
    """

    def __init__(self, file_path: str, *, fsync_interval: float = FSYNC_INTERVAL_S) -> None:
        super().__init__(file_path)
        self._lock_path = file_path + ".flock"
        self._lock_fd: int | None = None
        self._lock_pid: int | None = None
        self._fsync_interval = fsync_interval
        self._last_fsync = time.monotonic()
        self._unsynced = False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock_fd"] = state["_lock_pid"] = None  # a descriptor is only valid in its process
        return state

    def _lock_descriptor(self) -> int:
        # flock belongs to the open file description: a forked child must open its own, or it
        # would share the parent's lock instead of competing for it.
        if self._lock_fd is None or self._lock_pid != os.getpid():
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            self._lock_pid = os.getpid()
        return self._lock_fd

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        import json

        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode()
        lock = self._lock_descriptor()
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            fd = os.open(self._file_path, os.O_RDWR | os.O_APPEND)
            try:
                _drop_torn_tail(fd, self._file_path)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                self._unsynced = True
                if time.monotonic() - self._last_fsync >= self._fsync_interval:
                    os.fsync(fd)
                    self._last_fsync = time.monotonic()
                    self._unsynced = False
            finally:
                os.close(fd)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    def sync(self) -> None:
        """fsync the journal now (the end of a sweep calls this)."""
        if self._unsynced:
            fd = os.open(self._file_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._last_fsync = time.monotonic()
            self._unsynced = False


class OwnedJournalStorage(JournalStorage):
    """A ``JournalStorage`` whose new trials carry their process from the start.

    Optuna creates a trial, and workbench records its owner (``workbench.owner``) a moment
    later; a process killed in between would leave a RUNNING trial nobody can tell is stale.
    Here the owner is part of the record that creates the trial.
    """

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None:
            template_trial = FrozenTrial(
                number=-1,
                state=TrialState.RUNNING,
                value=None,
                datetime_start=dt.datetime.now(),
                datetime_complete=None,
                params={},
                distributions={},
                user_attrs={OWNER_ATTR: owner_token()},
                system_attrs={},
                intermediate_values={},
                trial_id=-1,
            )
        return super().create_new_trial(study_id, template_trial)


def _drop_torn_tail(fd: int, path: str) -> None:
    """Cut a final record without its newline: its writer died before the write returned."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
        end = start
    else:
        keep = 0
    os.ftruncate(fd, keep)
    logger.warning(
        "Removed %d bytes of an unfinished record at the end of %s (a worker died while "
        "writing it; that write never returned, so no acknowledged trial data is lost).",
        size - keep,
        path,
    )


def sync_storage(storage: BaseStorage) -> None:
    """Make a journal storage's appends power-loss durable now (no-op for other storages)."""
    backend = getattr(storage, "_backend", None)
    if isinstance(backend, FileJournalBackend):
        backend.sync()


def journal_path(root: Path, name: str) -> Path:
    """The default journal file of sweep ``name`` in a store folder."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    slug = _UNSAFE.sub("_", name).strip("_.")[:60] or "sweep"
    return root / JOURNAL_DIR / f"{slug}-{digest}{JOURNAL_SUFFIX}"


def open_journal(path: Path) -> BaseStorage:
    """A JournalStorage on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows
        from optuna.storages.journal import JournalFileOpenLock

        backend: JournalFileBackend = JournalFileBackend(str(path), JournalFileOpenLock(str(path)))
    else:
        backend = FileJournalBackend(str(path))
    return OwnedJournalStorage(backend)


def redact(url: str) -> str:
    """A storage URL without its password, for tags and messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


@dataclass(frozen=True)
class StorageChoice:
    """The Optuna storage of a sweep and how to describe it."""

    storage: BaseStorage
    label: str  # "journal" for the default, else a URL without password or a class name
    local: bool  # only processes on this machine can reach it (stale trials: check the pid)


def resolve_storage(
    storage: Any,
    root: Path | None,
    name: str,
    *,
    caller: str = "workbench.sweep",
    shared: str | None = None,
) -> StorageChoice:
    """Turn the ``storage`` argument into an Optuna storage. ``shared``: the database URL of a
    team store, the default then (every worker on every machine reaches the same study)."""
    if storage is None and shared is not None:
        return StorageChoice(_rdb(shared, caller), redact(shared), False)
    if storage is None:
        if root is None:
            raise v.fail(
                "storage",
                caller,
                "given when the workbench store has no folder",
                storage,
                "Pass storage='sqlite:///sweeps.db' or an optuna storage, or use a store folder.",
            )
        return StorageChoice(open_journal(journal_path(root, name)), "journal", True)
    if isinstance(storage, BaseStorage):
        is_journal = isinstance(storage, JournalStorage) and isinstance(
            getattr(storage, "_backend", None), JournalFileBackend
        )
        return StorageChoice(storage, type(storage).__name__, is_journal)
    if isinstance(storage, os.PathLike) or (
        isinstance(storage, str) and "://" not in storage and storage.strip()
    ):
        return StorageChoice(
            open_journal(Path(storage).expanduser().absolute()), str(storage), True
        )
    if isinstance(storage, str) and storage.startswith("grpc://"):
        return StorageChoice(_grpc(storage, caller), storage, False)
    if isinstance(storage, str) and "://" in storage:
        return StorageChoice(_rdb(storage, caller), redact(storage), False)
    raise v.fail(
        "storage",
        caller,
        "None (a journal in the store), a journal file path, a database URL, "
        "'grpc://host:port' or an optuna storage",
        storage,
    )


_RDB_STORAGES: dict[tuple[int, str], BaseStorage] = {}  # (pid, url) -> storage


def _rdb(url: str, caller: str) -> BaseStorage:
    """The process's RDB storage of ``url``: one per database, so sweeps and loads share its
    connection pool (a storage per call left pools to the garbage collector), disposed of at
    exit; a forked child makes its own."""
    key = (os.getpid(), url)
    storage = _RDB_STORAGES.get(key)
    if storage is None:
        storage = _RDB_STORAGES[key] = _new_rdb(url, caller)
    return storage


def _dispose_rdb_storages() -> None:
    for (pid, _), storage in list(_RDB_STORAGES.items()):
        engine = getattr(storage, "engine", None)
        if pid == os.getpid() and engine is not None:
            engine.dispose()
    _RDB_STORAGES.clear()


_threads.at_exit(_dispose_rdb_storages, _threads.FILES)


def _new_rdb(url: str, caller: str) -> BaseStorage:
    try:
        # The heartbeat is how RDB storages fail the trials of a crashed worker (on any
        # machine); Optuna labels the argument experimental, and we rely on it deliberately.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=HEARTBEAT_GRACE_S,
                engine_kwargs={"pool_pre_ping": True},
            )
    except (ImportError, ModuleNotFoundError) as exc:
        raise v.fail(
            "storage",
            caller,
            "a database URL whose driver is installed",
            redact(url),
            f"({exc}). Install the driver, e.g. `pip install psycopg2-binary` for PostgreSQL.",
        ) from None
    except Exception as exc:
        raise v.fail(
            "storage",
            caller,
            "a reachable database URL",
            redact(url),
            f"({type(exc).__name__}: {exc}). Check host, port, credentials and database name.",
        ) from None


def _grpc(url: str, caller: str) -> BaseStorage:
    match = re.fullmatch(r"grpc://([^:/]+):(\d+)/?", url)
    if match is None:
        raise v.fail("storage", caller, "'grpc://host:port'", url)
    try:
        from optuna.storages import GrpcStorageProxy

        return GrpcStorageProxy(host=match[1], port=int(match[2]))
    except ImportError as exc:
        raise v.fail(
            "storage",
            caller,
            "a gRPC URL with grpcio installed",
            url,
            f"({exc}). Install it with `pip install grpcio protobuf`.",
        ) from None


# -- copying a store's sweeps (``workbench store copy``) ------------------------------------------
def copy_studies(source: Store, destination: Store) -> list[StudyCopy]:
    """Copy the Optuna studies of ``source``'s sweeps into ``destination``, by name, so that
    ``load_sweep(name)`` finds them there.

    The studies copied are those in the store's default storage (the journals of a store
    folder, or a team store's database); a sweep given ``storage=`` keeps its study there.
    ``optuna.copy_study`` copies a new one; a study already at the destination gets the trials
    it lacks (a copy that was interrupted), and ``ConflictError`` if it holds other trials.
    """
    copied = []
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study created
    try:
        for name, storage in _default_studies(source):
            target = resolve_storage(
                None,
                getattr(destination, "root", None),
                name,
                caller=_COPY_CALLER,
                shared=getattr(destination, "sqlalchemy_url", None),
            ).storage
            copied.append(_copy_study(name, storage, target))
    finally:
        optuna.logging.set_verbosity(verbosity)
    return copied


_COPY_CALLER = "workbench store copy"


def _default_studies(store: Store) -> list[tuple[str, BaseStorage]]:
    """(name, storage) of every study in the default storage of ``store``'s sweeps."""
    shared = getattr(store, "sqlalchemy_url", None)
    if shared is not None:
        # Optuna creates its tables in a database it opens: not in a store that has none.
        found = store.sql(
            "SELECT count(*) AS n FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = 'studies'"
        )
        if not int(found["n"].iloc[0]):
            return []
        storage = _rdb(shared, _COPY_CALLER)
        return [(s.study_name, storage) for s in storage.get_all_studies()]
    root = getattr(store, "root", None)
    folder = Path(root) / JOURNAL_DIR if root is not None else None
    if folder is None or not folder.is_dir():
        return []
    studies = []
    for path in sorted(folder.glob(f"*{JOURNAL_SUFFIX}")):
        journal = open_journal(path)
        studies += [(s.study_name, journal) for s in journal.get_all_studies()]
    return studies


def _copy_study(name: str, source: BaseStorage, target: BaseStorage) -> StudyCopy:
    source_id = source.get_study_id_from_name(name)
    trials = sorted(source.get_all_trials(source_id, deepcopy=False), key=lambda t: t.number)
    try:
        target_id = target.get_study_id_from_name(name)
    except KeyError:
        optuna.copy_study(from_study_name=name, from_storage=source, to_storage=target)
        return StudyCopy(name, len(trials), len(trials), len(trials))

    def conflict(what: str) -> ConflictError:
        return ConflictError(
            f"The sweep {name!r} at the destination differs from the source's ({what}), so "
            "its trials were not copied. Copy into a new store, or delete that study there "
            "(optuna.delete_study) and copy again."
        )

    if target.get_study_directions(target_id) != source.get_study_directions(source_id):
        raise conflict("other directions")
    for kind in ("user", "system"):
        have = getattr(target, f"get_study_{kind}_attrs")(target_id)
        for key, value in getattr(source, f"get_study_{kind}_attrs")(source_id).items():
            if key not in have:  # an interrupted copy_study: set after the study was created
                getattr(target, f"set_study_{kind}_attr")(target_id, key, value)
            elif have[key] != value:
                raise conflict(f"attribute {key!r}")
    there = sorted(target.get_all_trials(target_id, deepcopy=False), key=lambda t: t.number)
    for mine, theirs in zip(trials, there, strict=False):
        if _trial_content(mine) != _trial_content(theirs):
            raise conflict(f"trial {mine.number}")
    if len(there) > len(trials):
        raise conflict(f"{len(there) - len(trials)} more trials")
    for trial in trials[len(there) :]:
        target.create_new_trial(target_id, template_trial=trial)
    return StudyCopy(name, len(trials), len(trials) - len(there), len(trials))


def _trial_content(trial: FrozenTrial) -> tuple[Any, ...]:
    """A trial as a copy keeps it (its id is the storage's own)."""
    return (
        trial.number,
        trial.state,
        trial.values,
        trial.params,
        trial.distributions,
        trial.user_attrs,
        trial.system_attrs,
        trial.intermediate_values,
        trial.datetime_start,
        trial.datetime_complete,
    )
