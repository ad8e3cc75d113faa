"""Opening the DuckDB file of a store: retries while another program holds it, session
settings, and the schema check with its forward migrations."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import duckdb

from workbench._version import __version__
from workbench.exceptions import NotAWorkbenchStoreError, StoreBusyError, StoreVersionError
from workbench.store import _holders
from workbench.store._schema import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger("workbench.store")

CHECKPOINT_THRESHOLD = "4MB"
_LOCK_CONFLICT = re.compile(r"lock", re.IGNORECASE)


def open_file(db_path: Path, *, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open ``db_path``, retrying while a program outside workbench (a duckdb shell) holds it;
    ``StoreBusyError`` naming that program after ``timeout`` seconds."""
    deadline = time.monotonic() + max(timeout, 0.0)
    delay = 0.002
    settings = _settings(read_only)
    while True:
        try:
            con = _connect(db_path, read_only, settings)
        except duckdb.IOException as exc:
            if not _LOCK_CONFLICT.search(str(exc)):
                raise NotAWorkbenchStoreError(
                    f"{db_path} could not be opened as a DuckDB database: {exc}"
                ) from exc
            if time.monotonic() >= deadline:
                holder = _holders.duckdb_holder(str(exc)) or "another program"
                raise StoreBusyError(
                    f"{holder} holds {db_path} open, so workbench could not open it within "
                    f"{timeout:.1f} s. Close it there (a duckdb shell, a notebook with "
                    "duckdb.connect), or open the file read-only from it "
                    "(duckdb.connect(path, read_only=True) lets workbench in between queries)."
                ) from exc
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.05)
        else:
            return configure(con, writable=not read_only)


def _connect(db_path: Path, read_only: bool, settings: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(db_path), read_only=read_only, config=settings)
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
    # This process already has the file open with other settings (a notebook's own
    # duckdb.connect): share that instance, and set what can be set per session.
    con = duckdb.connect(str(db_path), read_only=read_only)
    for name, value in settings.items():
        with contextlib.suppress(duckdb.Error):
            con.execute(f"SET {name} = '{value}'")
    return con


def open_memory() -> duckdb.DuckDBPyConnection:
    """A throw-away in-memory database with the same settings."""
    return configure(duckdb.connect(":memory:", config={"threads": usable_cores()}))


def configure(
    con: duckdb.DuckDBPyConnection, *, writable: bool = True
) -> duckdb.DuckDBPyConnection:
    """Session settings (cursors inherit them): no progress bar printed into the user's
    notebook or terminal. The database changes hands many times a second under load, so
    closing must be cheap: no checkpoint at close; DuckDB checkpoints inside a commit once the
    write-ahead log passes ``CHECKPOINT_THRESHOLD`` instead (which also keeps the log that the
    next opener replays small)."""
    if writable:
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
    with contextlib.suppress(duckdb.InvalidInputException):
        # In a Jupyter kernel without ipywidgets DuckDB refuses the setting; it draws no bar
        # there either.
        con.execute("SET enable_progress_bar = false")
    return con


def _settings(read_only: bool) -> dict[str, Any]:
    """Settings given at open (cheaper than ``SET`` afterwards): threads, checkpoint size."""
    settings: dict[str, Any] = {"threads": usable_cores()}
    if not read_only:
        settings["checkpoint_threshold"] = CHECKPOINT_THRESHOLD
    return settings


@functools.cache
def usable_cores() -> int:
    """Cores this process may run on (DuckDB 2.0 detected one here by itself)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_schema(con: duckdb.DuckDBPyConnection, location: str, *, read_only: bool) -> None:
    """Create the schema in an empty database, migrate an older one forward, refuse anything
    else (a newer workbench's store, a foreign database)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if not tables:
        if read_only:
            raise NotAWorkbenchStoreError(
                f"{location} holds an empty database, not a workbench store, and it is opened "
                "read-only. Check the path."
            )
        migrate(con, location, 0)
        return
    if "wb_meta" not in tables:
        raise NotAWorkbenchStoreError(
            f"{location} holds a DuckDB database that is not a workbench store "
            f"(tables: {sorted(tables)[:5]}). Choose an empty folder for the store."
        )
    row = con.execute("SELECT value FROM wb_meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"The store {location} has schema version {version}, written by a newer "
            f"workbench; this workbench {__version__} reads up to version {SCHEMA_VERSION}. "
            "Upgrade with `pip install -U workbench`."
        )
    if version < SCHEMA_VERSION:
        if read_only:
            raise StoreVersionError(
                f"The store {location} has schema version {version} and this workbench "
                f"{__version__} needs version {SCHEMA_VERSION}; the upgrade writes to the "
                "store, which is open read-only. Open it once with write access (or ask its "
                "owner to), then read it here."
            )
        migrate(con, location, version)


def migrate(con: duckdb.DuckDBPyConnection, location: str, current: int) -> None:
    """Apply the migrations from ``current`` to ``SCHEMA_VERSION`` in one transaction."""
    con.begin()
    for version in range(current, SCHEMA_VERSION):
        for statement in MIGRATIONS[version]:
            con.execute(statement)
        logger.info("Migrated store %s to schema version %d.", location, version + 1)
    con.execute(
        "INSERT OR REPLACE INTO wb_meta VALUES ('schema_version', $v), ('written_by', $w)",
        {"v": str(SCHEMA_VERSION), "w": __version__},
    )
    con.commit()
