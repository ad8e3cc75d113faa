"""Where offline work runs: a private in-memory DuckDB, over the sources themselves.

The workbench store's DuckDB file is never opened here (it belongs to one process at a time, see
docs/store.md). Point-in-time joins, validation scans and materialization read the sources
(parquet/csv files, a query, Arrow tables) in a session of this process's own in-memory
database. DuckDB streams files and spills to ``temp_directory`` when a sort or join outgrows
``memory_limit``, so sources larger than memory work.

Times: every timestamp is compared as a UTC instant. A column with a time zone is converted to
UTC; a column without one is taken to be UTC already.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.features._sources import quote
from workbench.features._types import kind_of_sql

if TYPE_CHECKING:
    import duckdb

__all__ = ["connect", "describe", "time_expression", "utc_naive"]

#: Environment variables that bound the offline engine (DuckDB's own settings).
MEMORY_LIMIT_ENV = "WORKBENCH_FEATURES_MEMORY_LIMIT"
TEMP_DIR_ENV = "WORKBENCH_FEATURES_TEMP_DIR"


@contextlib.contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh session on this process's in-memory DuckDB database, closed afterwards (its
    temporary tables and registered Arrow tables go with it).

    The database is made once per process (opening one costs tens of milliseconds, a session
    about one). Spills go to ``WORKBENCH_FEATURES_TEMP_DIR`` (default: the system's temporary
    folder); ``WORKBENCH_FEATURES_MEMORY_LIMIT`` (``"8GB"``) caps its memory.
    """
    import duckdb

    con = _database().cursor()
    try:
        with contextlib.suppress(duckdb.Error):
            con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


_db: duckdb.DuckDBPyConnection | None = None
_db_pid = 0
_db_lock = threading.Lock()


def _database() -> duckdb.DuckDBPyConnection:
    """This process's engine database (a forked child makes its own)."""
    global _db, _db_pid
    with _db_lock:
        if _db is None or _db_pid != os.getpid():
            import duckdb

            spill = Path(os.environ.get(TEMP_DIR_ENV) or tempfile.gettempdir())
            config: dict[str, Any] = {
                "threads": _cores(),
                "temp_directory": str(spill / "workbench-features-spill"),
                "preserve_insertion_order": False,
            }
            limit = os.environ.get(MEMORY_LIMIT_ENV)
            if limit:
                config["memory_limit"] = limit
            _db, _db_pid = duckdb.connect(":memory:", config=config), os.getpid()
        return _db


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def describe(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Column name -> DuckDB type of ``relation`` (reads no rows)."""
    rows = con.sql(f"DESCRIBE SELECT * FROM {relation} AS s LIMIT 0").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def time_expression(column: str, sql_type: str) -> str:
    """SQL giving ``column`` as a naive UTC timestamp (see the module)."""
    name = quote(column)
    upper = sql_type.upper()
    if upper.startswith("TIMESTAMP WITH TIME ZONE") or upper == "TIMESTAMPTZ":
        return f"({name} AT TIME ZONE 'UTC')"
    if kind_of_sql(sql_type) == "date":
        return f"CAST({name} AS TIMESTAMP)"
    return name


def utc_naive(value: Any, caller: str, *, name: str) -> dt.datetime:
    """A point in time given by a user (aware, or naive meaning UTC) as naive UTC."""
    import pandas as pd

    from workbench._validation import fail

    if isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except ValueError:
            raise fail(name, caller, "a datetime or an ISO 8601 string", value) from None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise fail(name, caller, "a datetime (naive means UTC) or an ISO 8601 string", value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    result: dt.datetime = value
    return result
