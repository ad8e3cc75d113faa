"""The default store: one DuckDB file, a spool folder, and content-addressed artifacts.

DuckDB lets one process at a time hold the file (see docs/store.md), so no process keeps it
open: every operation takes an inter-process file lock, opens the database, works, closes it, and
releases the lock, typically within a few tens of milliseconds. Writers never wait for that lock:
they drop batch files into the spool, and whoever holds the lock next ingests them. Readers
ingest before they read, so they see every durable write.

Layout of a store folder::

    workbench.duckdb    the database (tables wb_*, documented views)
    workbench.lock      the inter-process lock (flock; released by the OS if a holder dies)
    spool/              batch files not yet ingested (corrupt/ holds damaged ones)
    heartbeats/         one file per live process owning running runs
    artifacts/sha256/   artifact files by content digest
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench._version import __version__
from workbench.exceptions import (
    ConflictError,
    ExperimentNotFoundError,
    InvalidParameterError,
    NotAWorkbenchStoreError,
    NotFoundError,
    RunNotFoundError,
    StoreBusyError,
    StoreError,
    StoreVersionError,
)
from workbench.store import _deployments_sql, _ingest, _read, _registry_sql
from workbench.store._lease import DEFAULT_LINGER_S, Lease, LeaseTimeout
from workbench.store._schema import MIGRATIONS, PUBLIC_VIEWS, SCHEMA_VERSION
from workbench.store._spool import Spool
from workbench.store.artifacts import ArtifactStore
from workbench.store.base import ProcessInfo, RunSearch, Store

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import Dataset, Experiment, Run
    from workbench.registry._entities import (
        AliasEvent,
        ModelVersion,
        NewModelVersion,
        RegisteredModel,
    )
    from workbench.store._batch import Batch
    from workbench.store._deployments_sql import DeploymentRecord

__all__ = ["DuckDBStore"]

logger = logging.getLogger("workbench.store")

DB_FILE = "workbench.duckdb"
_LOCK_CONFLICT = re.compile(r"lock", re.IGNORECASE)


class DuckDBStore(Store):
    """A store in a folder (or ``":memory:"`` for a throw-away, single-process store).

    Parameters
    ----------
    location
        A folder (created if missing), a path ending in ``.duckdb`` (its folder holds the
        rest), or ``":memory:"``.
    lock_timeout
        Seconds to wait for other processes before raising ``StoreBusyError``.
    linger
        Seconds to keep the database open after an operation, so that a burst of reads (a
        dashboard refresh, paging) pays the ~30 ms open/close once; other processes wait at most
        this long for it. 0 closes it after every operation.
    fsync
        Also flush spool files to the disk device (protects against power loss, not only
        against process death). Done in the background; on by default.
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        lock_timeout: float = 60.0,
        fsync: bool = True,
        linger: float = DEFAULT_LINGER_S,
    ) -> None:
        self.lock_timeout = lock_timeout
        self._thread_lock = threading.RLock()
        self._memory = os.fspath(location) == ":memory:"
        if self._memory:
            self.location = ":memory:"
            self._tmp = tempfile.TemporaryDirectory(prefix="workbench-memory-")
            self.root = Path(self._tmp.name)
            self._con: duckdb.DuckDBPyConnection | None = _configure(duckdb.connect(":memory:"))
            atexit.register(_close_at_exit, weakref.ref(self))
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
            self._con = None
        for sub in ("spool", "heartbeats", "artifacts"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.spool = Spool(self.root / "spool", fsync=fsync)
        self._artifacts = ArtifactStore(self.root / "artifacts")
        self._lease = (
            None if self._memory else Lease(self.root / "workbench.lock", self._open, linger=linger)
        )
        self._checked = False
        with self._connect(timeout=lock_timeout) as con:
            self._check_schema(con)
        self._checked = True

    def __repr__(self) -> str:
        return f"DuckDBStore({self.location!r})"

    # -- connections -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database, held exclusively for the duration of the block."""
        timeout = self.lock_timeout if timeout is None else timeout
        if self._lease is not None:
            try:
                with self._lease.hold(timeout) as con:
                    yield con
            except LeaseTimeout:
                raise self._busy(timeout) from None
            return
        if not self._thread_lock.acquire(timeout=timeout if timeout >= 0 else -1):
            raise self._busy(timeout)
        try:
            assert self._con is not None
            yield self._con
        finally:
            self._thread_lock.release()

    def _open(self, timeout: float) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying while a non-workbench process (e.g. the duckdb CLI) holds it."""
        if self._checked and not self.db_path.exists():
            raise StoreError(
                f"The store database {self.db_path} has been removed since this process opened "
                "it. Point set_store() / WORKBENCH_STORE at an existing store or a new folder."
            )
        deadline = time.monotonic() + max(timeout, 0.0)
        delay = 0.002
        while True:
            try:
                return _configure(duckdb.connect(str(self.db_path)))
            except duckdb.IOException as exc:
                if not _LOCK_CONFLICT.search(str(exc)):
                    raise NotAWorkbenchStoreError(
                        f"{self.db_path} could not be opened as a DuckDB database: {exc}"
                    ) from exc
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"Another program holds {self.db_path} open ({exc}). Close it (for "
                        "example a duckdb shell), or open the file read-only from it."
                    ) from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.05)

    def _busy(self, timeout: float) -> StoreBusyError:
        return StoreBusyError(
            f"The store {self.location} stayed locked by other processes for {timeout:.1f} s. "
            "A long-running query may hold it; retry, or raise DuckDBStore(lock_timeout=...)."
        )

    def _check_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not tables:
            self._migrate(con, 0)
            return
        if "wb_meta" not in tables:
            raise NotAWorkbenchStoreError(
                f"{self.location} holds a DuckDB database that is not a workbench store "
                f"(tables: {sorted(tables)[:5]}). Choose an empty folder for the store."
            )
        row = con.execute("SELECT value FROM wb_meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"The store {self.location} has schema version {version}, written by a newer "
                f"workbench; this workbench {__version__} reads up to version {SCHEMA_VERSION}. "
                "Upgrade with `pip install -U workbench`."
            )
        if version < SCHEMA_VERSION:
            self._migrate(con, version)

    def _migrate(self, con: duckdb.DuckDBPyConnection, current: int) -> None:
        con.begin()
        for version in range(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            logger.info("Migrated store %s to schema version %d.", self.location, version + 1)
        con.execute(
            "INSERT OR REPLACE INTO wb_meta VALUES ('schema_version', $v), ('written_by', $w)",
            {"v": str(SCHEMA_VERSION), "w": __version__},
        )
        con.commit()

    # -- writes ----------------------------------------------------------------------------
    def write_batch(self, batch: Batch) -> None:
        if self._memory:
            with self._connect() as con:
                _ingest.apply_batches(con, [batch])
            return
        self.spool.write(batch)

    def sync(self, *, block: bool = True) -> bool:
        if self._memory:
            return True
        try:
            with self._connect(timeout=self.lock_timeout if block else 0.0) as con:
                self._ingest_pending(con)
        except StoreBusyError:
            if block:
                raise
            return False
        return True

    def _ingest_pending(self, con: duckdb.DuckDBPyConnection) -> None:
        """Apply every complete journal record not yet ingested; delete finished journals."""
        journals = self.spool.journals()
        if journals:
            offsets = dict(con.execute('SELECT journal, "offset" FROM wb_spool_offsets').fetchall())
            gone = {path: self.spool.writer_gone(path) for path in journals}  # before reading
            batches, reached = [], {}
            for path in journals:
                key = Spool.key(path)
                entries = self.spool.read(path, offsets.get(key, 0))
                if entries:
                    batches += [e.batch for e in entries]
                    reached[key] = entries[-1].end
            if batches:
                _ingest.apply_batches(con, batches, reached)
                offsets.update(reached)
            for path in journals:
                key = Spool.key(path)
                if gone[path] and self.spool.finished(path, offsets.get(key, 0)):
                    path.unlink(missing_ok=True)
                    con.execute("DELETE FROM wb_spool_offsets WHERE journal = $k", {"k": key})
        _ingest.reap_dead_runs(con, self.root / "heartbeats")

    def heartbeat(self, process: ProcessInfo) -> None:
        if not self._memory:
            path = _ingest.heartbeat_file(self.root / "heartbeats", process.proc_id)
            _ingest.touch(path)

    def retire(self, process: ProcessInfo) -> None:
        if not self._memory:
            _ingest.heartbeat_file(self.root / "heartbeats", process.proc_id).unlink(
                missing_ok=True
            )

    @property
    def artifacts(self) -> ArtifactStore:
        return self._artifacts

    @contextlib.contextmanager
    def _synced(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database with every durable batch ingested: what all reads start from."""
        with self._connect() as con:
            if not self._memory:
                self._ingest_pending(con)
            yield con

    # -- experiments -----------------------------------------------------------------------
    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        with self._synced() as con:
            if _read.experiment_rows(con, name=name):
                raise ConflictError(
                    f"An experiment named {name!r} already exists. Log to it with "
                    f"start_run(experiment={name!r}), or choose another name."
                )
            con.execute(
                "INSERT INTO wb_experiments VALUES ($id, $name, $now, NULL, $d)",
                {"id": _new_id(), "name": name, "now": _utcnow(), "d": description},
            )
            return _read.experiment_rows(con, name=name)[0]

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        with self._synced() as con:
            return _read.experiment_rows(con, include_deleted=include_deleted)

    def rename_experiment(self, experiment_id: str, new_name: str) -> Experiment:
        with self._synced() as con:
            self._require_experiment(con, experiment_id)
            if _read.experiment_rows(con, name=new_name):
                raise ConflictError(
                    f"An experiment named {new_name!r} already exists; "
                    "choose another name or delete that one first."
                )
            con.execute(
                "UPDATE wb_experiments SET name = $n WHERE experiment_id = $id",
                {"n": new_name, "id": experiment_id},
            )
            return _read.experiment_rows(con, experiment_id=experiment_id, include_deleted=True)[0]

    def set_experiment_deleted(self, experiment_id: str, deleted: bool) -> None:
        with self._synced() as con:
            exp = self._require_experiment(con, experiment_id)
            if not deleted and _read.experiment_rows(con, name=exp.name):
                raise ConflictError(
                    f"Cannot restore experiment {exp.name!r}: a live experiment has that name "
                    "now. Rename one of them first with rename_experiment()."
                )
            con.execute(
                "UPDATE wb_experiments SET deleted_at = $t WHERE experiment_id = $id",
                {"t": _utcnow() if deleted else None, "id": experiment_id},
            )

    def _require_experiment(self, con: duckdb.DuckDBPyConnection, experiment_id: str) -> Experiment:
        rows = _read.experiment_rows(con, experiment_id=experiment_id, include_deleted=True)
        if not rows:
            raise ExperimentNotFoundError(f"No experiment with id {experiment_id!r}.")
        return rows[0]

    def set_run_deleted(self, run_id: str, deleted: bool) -> None:
        with self._synced() as con:
            found = con.execute(
                "UPDATE wb_runs SET deleted_at = $t WHERE run_id = $id RETURNING run_id",
                {"t": _utcnow() if deleted else None, "id": run_id},
            ).fetchall()
            if not found:
                raise _run_not_found(run_id)

    # -- reads -----------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        with self._synced() as con:
            run = _read.run_snapshot(con, run_id)
        if run is None:
            raise _run_not_found(run_id)
        return run

    def search_runs(self, search: RunSearch) -> pd.DataFrame:
        with self._synced() as con:
            return _read.search_runs(con, search)

    def get_metric_history(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> pd.DataFrame:
        with self._synced() as con:
            return _read.metric_history(con, list(run_ids), None if keys is None else list(keys))

    def get_dataset(self, digest: str) -> Dataset:
        with self._synced() as con:
            dataset = _read.dataset(con, digest)
        if dataset is None:
            raise NotFoundError(
                f"No dataset with digest {digest!r}. Datasets are recorded by "
                "run.log_input(); list them with workbench.sql('select * from datasets')."
            )
        return dataset

    def sql(self, query: str, parameters: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self._synced() as con:
            statements = con.extract_statements(query)
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                kinds = [s.type.name for s in statements]
                raise InvalidParameterError(
                    f"workbench.sql runs exactly one read-only SELECT; got {kinds or 'nothing'}. "
                    f"Query the views {', '.join(PUBLIC_VIEWS)}."
                )
            con.begin()
            try:
                return con.execute(query, dict(parameters or {})).df()
            except duckdb.Error as exc:
                raise InvalidParameterError(f"The SQL query failed: {exc}") from None
            finally:
                con.rollback()

    def close(self) -> None:
        if self._lease is not None:
            self._lease.release()
        if self._con is not None:
            self._con.close()
            self._con = None
            self._tmp.cleanup()

    # -- registry --------------------------------------------------------------------------
    # Synchronous: each call holds the store lock, so version numbers are assigned atomically.
    def create_model_version(self, new: NewModelVersion) -> ModelVersion:
        with self._synced() as con:
            return _registry_sql.create_version(con, new, _utcnow())

    def get_model_version(self, name: str, version: int | None = None) -> ModelVersion:
        with self._synced() as con:
            return _registry_sql.get_version(con, name, version)

    def get_model_alias(self, name: str, alias: str) -> int:
        with self._synced() as con:
            return _registry_sql.alias_target(con, name, alias)

    def list_models(self) -> list[RegisteredModel]:
        with self._synced() as con:
            return _registry_sql.list_models(con)

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        with self._synced() as con:
            return _registry_sql.list_versions(con, name)

    def update_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        with self._synced() as con:
            return _registry_sql.update_model(con, name, description, tags)

    def delete_model_version(self, name: str, version: int) -> None:
        with self._synced() as con:
            _registry_sql.delete_version(con, name, version, _utcnow())

    def set_model_alias(
        self, name: str, alias: str, version: int, *, actor: str | None, reason: str | None
    ) -> AliasEvent | None:
        with self._synced() as con:
            return _registry_sql.set_alias(con, name, alias, version, actor, reason, _utcnow())

    def delete_model_alias(
        self, name: str, alias: str, *, actor: str | None, reason: str | None
    ) -> AliasEvent:
        with self._synced() as con:
            return _registry_sql.delete_alias(con, name, alias, actor, reason, _utcnow())

    def rollback_model_alias(
        self, name: str, alias: str, *, actor: str | None, reason: str | None
    ) -> AliasEvent:
        with self._synced() as con:
            return _registry_sql.rollback_alias(con, name, alias, actor, reason, _utcnow())

    def get_alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        with self._synced() as con:
            return _registry_sql.alias_history(con, name, alias)

    # -- deployments -------------------------------------------------------------------------
    def create_deployment(self, record: DeploymentRecord) -> None:
        with self._connect() as con:
            _deployments_sql.insert_deployment(con, record)

    def set_deployment_status(self, deployment_id: str, status: str) -> bool:
        with self._connect() as con:
            return _deployments_sql.set_deployment_status(con, deployment_id, status, _utcnow())

    def list_deployments(self) -> list[DeploymentRecord]:
        with self._connect() as con:
            return _deployments_sql.list_deployments(con, _utcnow())

    def get_deployment(self, deployment_id: str) -> DeploymentRecord:
        with self._connect() as con:
            return _deployments_sql.get_deployment(con, deployment_id, _utcnow())


def _configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Session settings: every usable core (DuckDB 2.0 detected one here), no progress bar
    printed into the user's notebook or terminal."""
    con.execute(f"SET threads = {_usable_cores()}")
    with contextlib.suppress(duckdb.InvalidInputException):
        # In a Jupyter kernel without ipywidgets DuckDB refuses the setting; it draws no bar
        # there either.
        con.execute("SET enable_progress_bar = false")
    return con


@functools.cache
def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _close_at_exit(ref: weakref.ref[DuckDBStore]) -> None:
    """Close an in-memory store before interpreter teardown (DuckDB complains otherwise)."""
    store = ref()
    if store is not None:
        store.close()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _run_not_found(run_id: str) -> RunNotFoundError:
    return RunNotFoundError(
        f"No run with id {run_id!r} in this store. Find runs with workbench.search_runs(), "
        "and check that WORKBENCH_STORE / set_store() point at the store you logged to."
    )


def _json(value: str | None) -> Any:
    return json.loads(value) if value else {}
