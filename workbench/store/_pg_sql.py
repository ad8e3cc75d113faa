"""The local store's read queries, run on the team store's PostgreSQL connection.

The local store's SQL is DuckDB's dialect with named parameters (``$name``). Most of it is
standard SQL, so rather than keep a second copy of every query, :class:`PgSession` offers the
part of DuckDB's connection interface the read modules use (``execute(sql, parameters)`` and
``fetchall``/``fetchone``/``df`` on the result) and translates the few differences:

* ``$name`` parameters become psycopg's ``%(name)s`` (and a literal ``%`` becomes ``%%``);
  values are bound on the client (``ClientCursor``), so PostgreSQL infers their types from the
  query as DuckDB does (``$name IS NULL OR col = $name`` needs no casts);
* ``list_contains(list, x)`` becomes ``x = ANY(list)``, ``any_value(x)`` ``min(x)``,
  ``epoch(t)`` ``extract(epoch FROM t)``, ``TRY_CAST(x AS DOUBLE)`` ``wb_try_double(x)``;
* JSON columns come back as text, as from DuckDB, for the readers to parse.

What cannot be translated this way is written per dialect where it is used.
"""

from __future__ import annotations

import contextlib
import functools
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.store._pg import postgres_statement

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

# pandas dtypes of PostgreSQL type oids (timestamp, bigint, integer, double, real, numeric, text,
# varchar)
_DTYPES = {
    1114: "datetime64[us]",
    20: "int64",
    23: "int64",
    701: "float64",
    700: "float64",
    1700: "float64",  # numeric (extract(epoch ...) gives one)
    25: "str",
    1043: "str",
}
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# any_value() is PostgreSQL 16's; where the local store uses it, a group's values are equal
# (one value per run and key), so min() gives the same answer on PostgreSQL 15 too.
_ANY_VALUE = re.compile(r"\bany_value\(")
# TRY_CAST (NULL where the cast fails) is DuckDB's; the team store's schema has functions for
# the two casts the local store's queries use (see _pg.SUPPORT).
_TRY_CAST = re.compile(r"TRY_CAST\(([\w.]+) AS (DOUBLE|BIGINT)\)")
_LIST_CONTAINS = re.compile(r"list_contains\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """``sql`` (DuckDB's dialect, ``$name`` parameters) in PostgreSQL's, for psycopg."""
    sql = sql.replace("%", "%%")
    sql = _LIST_CONTAINS.sub(r"(\2 = ANY(\1))", sql)
    sql = _ANY_VALUE.sub("min(", sql)
    sql = _TRY_CAST.sub(lambda m: f"wb_try_{m[2].lower()}({m[1]})", sql)
    sql = postgres_statement(sql)  # the schema's translations (DOUBLE, epoch) hold for queries
    return _PARAMETER.sub(r"%(\1)s", sql)


class PgResult:
    """The rows of one query, read like a DuckDB result."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()

    def df(self) -> pd.DataFrame:
        """A DataFrame typed as DuckDB types it (also when there are no rows)."""
        description = self._cursor.description or ()
        frame = pd.DataFrame.from_records(
            self._cursor.fetchall(), columns=[column.name for column in description]
        )
        for column in description:
            dtype = _DTYPES.get(column.type_code)
            if dtype is not None and not (dtype == "int64" and frame[column.name].isna().any()):
                frame[column.name] = frame[column.name].astype(dtype)  # type: ignore[call-overload]
        return frame

    def to_arrow_table(self) -> pa.Table:
        """The rows as an Arrow table (as DuckDB's relation gives them)."""
        import pyarrow as pa

        return pa.Table.from_pandas(self.df(), preserve_index=False)


class PgSession:
    """A PostgreSQL connection that runs the local store's read queries (see the module)."""

    def __init__(self, con: psycopg.Connection[Any]) -> None:
        from psycopg.types.string import TextLoader

        con.adapters.register_loader("json", TextLoader)
        self.con = con
        self._transactions: list[contextlib.AbstractContextManager[Any]] = []

    def execute(self, sql: str, parameters: dict[str, Any] | None = None) -> PgResult:
        import psycopg

        cursor = psycopg.ClientCursor(self.con)
        cursor.execute(translate(sql), parameters)  # type: ignore[call-overload]
        return PgResult(cursor)

    # DuckDB's explicit transactions, as the registry's changes use them: nested in the
    # store's own transaction, so each is a savepoint.
    def begin(self) -> None:
        transaction = self.con.transaction()
        transaction.__enter__()
        self._transactions.append(transaction)

    def commit(self) -> None:
        self._transactions.pop().__exit__(None, None, None)

    def rollback(self) -> None:
        import psycopg

        self._transactions.pop().__exit__(psycopg.Rollback, psycopg.Rollback(), None)

    def sql(self, sql: str, params: dict[str, Any] | None = None) -> PgResult:
        """DuckDB's relation API, as far as the reads use it (``.to_arrow_table()``)."""
        return self.execute(sql, params)
