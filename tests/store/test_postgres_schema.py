"""The team store's schema on a real PostgreSQL server: the local store's tables and documented
views, created once however many processes start at the same moment, refused when foreign or
newer, and connection errors that say what to do without showing a password."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from _postgres import PostgresServer

from workbench.exceptions import (
    InvalidParameterError,
    NotAWorkbenchStoreError,
    StoreError,
    StoreVersionError,
)
from workbench.store import _pg
from workbench.store._schema import PUBLIC_VIEWS, SCHEMA_VERSION

pytestmark = pytest.mark.slow


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.url(postgres.new_database())


def _columns(rows: Any) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def test_a_fresh_database_gets_the_local_stores_views_column_for_column(
    url: str, tmp_path: Path
) -> None:
    with _pg.connect(url) as con:
        assert _pg.ensure_schema(con, url) == SCHEMA_VERSION
        with con.transaction():
            pg = _columns(
                con.execute(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
                ).fetchall()
            )
            for view in PUBLIC_VIEWS:
                con.execute(f"SELECT * FROM {view} LIMIT 0")  # type: ignore[arg-type]
            row = con.execute("SELECT value FROM wb_meta WHERE key = 'schema_version'").fetchone()
    assert row == (str(SCHEMA_VERSION),)
    import workbench as wb

    local = wb.DuckDBStore(tmp_path / "local")
    local.close()
    with duckdb.connect(str(tmp_path / "local" / "workbench.duckdb"), read_only=True) as con:
        duck = _columns(
            con.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
            ).fetchall()
        )
    # every table and documented view, with the same columns in order, and the team's own
    assert {k: v for k, v in pg.items() if k not in _pg.TEAM_TABLES} == duck
    assert set(pg) - set(duck) == set(_pg.TEAM_TABLES)


def _start_store(url: str, start_at: float, results: Any) -> None:
    # Widen the race: each process looks at the database, then dawdles before it creates the
    # schema, so that without the advisory lock they would all find it empty and collide.
    look = _pg._version

    def slow_look(con: Any, location: str) -> int:
        version = look(con, location)
        time.sleep(0.5)
        return version

    _pg._version = slow_look  # type: ignore[assignment]
    while time.time() < start_at:  # all processes open the fresh database at the same moment
        time.sleep(0.001)
    try:
        with _pg.connect(url) as con:
            results.put(_pg.ensure_schema(con, url))
    except Exception as exc:  # reported to the test, which shows it
        results.put(repr(exc))


def test_processes_starting_a_fresh_store_at_once_create_the_schema_once(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 3.0
    processes = [
        context.Process(target=_start_store, args=(url, start_at, results)) for _ in range(6)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == [SCHEMA_VERSION] * 6
    with psycopg.connect(url) as con:
        meta = con.execute("SELECT key, value FROM wb_meta").fetchall()
    assert meta == [("schema_version", str(SCHEMA_VERSION))]


def test_a_store_of_a_newer_workbench_is_refused(url: str) -> None:
    with _pg.connect(url) as con:
        _pg.ensure_schema(con, url)
        with con.transaction():
            con.execute("UPDATE wb_meta SET value = %s", (str(SCHEMA_VERSION + 1),))
        with pytest.raises(StoreVersionError, match=r"newer workbench.*pip install -U"):
            _pg.ensure_schema(con, url)


def test_a_database_of_something_else_is_not_taken_over(url: str) -> None:
    with psycopg.connect(url) as con:
        con.execute("CREATE TABLE invoices (id INTEGER)")
    with _pg.connect(url) as con:
        with pytest.raises(NotAWorkbenchStoreError, match=r"not a workbench store.*invoices"):
            _pg.ensure_schema(con, url)
        with con.transaction():
            tables = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            ).fetchone()
    assert tables == (1,), "nothing was created in it"


def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = "postgresql://ana:s3cret@127.0.0.1:1/team"  # nothing listens on port 1
    with pytest.raises(StoreError, match=r"ana:\*\*\*@127.0.0.1:1/team.*PGPASSWORD") as caught:
        _pg.connect(url, timeout=2)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(InvalidParameterError, match=r"'mysql://ana:\*\*\*@host/db' is not a"):
        _pg.connect("mysql://ana:s3cret@host/db")
