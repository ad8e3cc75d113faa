"""Where a feature view's rows come from: files, a DuckDB query, or a DataFrame.

Every source is read by the feature store's own in-memory DuckDB connection (``_engine``): a
source gives the SQL to read it (:meth:`Source.relation`), so files larger than memory stream
through DuckDB and never become one DataFrame. Each names its event-timestamp column and,
optionally, a created-timestamp column (when the same entity and event time arrive again later,
the row created last wins: a late correction).

A :class:`DataFrameSource` lives in the process that made it. Its definition is stored like any
other, but its rows are not: another process that loads the view is told to register it again
with its data, or to save the data to files.
"""

from __future__ import annotations

import abc
import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._validation import check_name, fail
from workbench.features._errors import FeatureSourceError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["DataFrameSource", "FileSource", "QuerySource", "Source", "source_from_spec"]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


class Source(abc.ABC):
    """A feature view's rows (see the module); subclasses say where they live."""

    timestamp: str
    created_timestamp: str | None

    @abc.abstractmethod
    def to_spec(self) -> dict[str, Any]:
        """The source as JSON-ready data (part of the view's versioned definition)."""

    @abc.abstractmethod
    def relation(self, con: duckdb.DuckDBPyConnection, *, view: str) -> str:
        """SQL a FROM clause reads the rows with; FeatureSourceError if they cannot be read."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the rows live, for people (messages, notebook cards)."""

    def identity(self) -> tuple[Any, ...] | None:
        """What changes when the rows may have changed (None: unknown, assume they did)."""
        return None


def _check_columns(caller: str, timestamp: Any, created_timestamp: Any) -> None:
    check_name(timestamp, caller, name="timestamp")
    if created_timestamp is not None:
        check_name(created_timestamp, caller, name="created_timestamp")
        if created_timestamp == timestamp:
            raise fail(
                "created_timestamp",
                caller,
                "a column other than the event timestamp",
                created_timestamp,
                "It says when a row was written (for late corrections); leave it out if the "
                "source has no such column.",
            )


@dataclass(frozen=True, init=False)
class FileSource(Source):
    """Parquet or CSV files: one file, a folder of them (searched recursively), or a glob.

    Parameters
    ----------
    path
        A file, a folder or a glob pattern (``data/stats/*.parquet``); stored as an absolute
        path.
    timestamp
        The event-timestamp column: when the feature values became true.
    created_timestamp
        Optional: when each row was written. Rows with the same entity and event time are
        corrections of each other; the one created last wins.
    format
        ``"parquet"`` or ``"csv"``; by default from the file names.
    """

    path: str
    timestamp: str
    created_timestamp: str | None = None
    format: str = "parquet"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timestamp: str,
        created_timestamp: str | None = None,
        format: str | None = None,  # noqa: A002 - the word users know (pandas, DuckDB)
    ) -> None:
        caller = "FileSource"
        if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
            raise fail("path", caller, "a file, folder or glob pattern", path)
        _check_columns(caller, timestamp, created_timestamp)
        resolved = str(Path(path).expanduser().absolute())
        if format is None:
            kind = _format_of(resolved, caller)
        elif format in ("parquet", "csv"):
            kind = format
        else:
            raise fail("format", caller, "'parquet' or 'csv'", format)
        object.__setattr__(self, "path", resolved)
        object.__setattr__(self, "timestamp", timestamp)
        object.__setattr__(self, "created_timestamp", created_timestamp)
        object.__setattr__(self, "format", kind)

    def pattern(self) -> str:
        """The glob DuckDB reads: the file, ``folder/**/*.<format>``, or the pattern."""
        if os.path.isdir(self.path):
            suffix = "parquet" if self.format == "parquet" else "csv"
            return os.path.join(self.path, "**", f"*.{suffix}")
        return self.path

    def files(self) -> list[str]:
        """The files the source holds right now, sorted."""
        return sorted(p for p in glob.glob(self.pattern(), recursive=True) if os.path.isfile(p))

    def relation(self, con: duckdb.DuckDBPyConnection, *, view: str) -> str:
        if not self.files():
            raise FeatureSourceError(
                f"The source of feature view {view!r} no longer exists: no {self.format} files "
                f"at {self.pattern()}. Restore the files there, or register a new version of "
                f"the view with its new place: FileSource(<path>, timestamp={self.timestamp!r})."
            )
        reader = "read_parquet" if self.format == "parquet" else "read_csv"
        return f"{reader}({sql_literal(self.pattern())}, union_by_name = true)"

    def identity(self) -> tuple[Any, ...]:
        found = []
        for path in self.files():
            stat = os.stat(path)
            found.append((path, stat.st_size, stat.st_mtime_ns))
        return (self.pattern(), tuple(found))

    def describe(self) -> str:
        return f"{self.format} files at {self.pattern()}"

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "file",
            "path": self.path,
            "format": self.format,
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
        }


def _format_of(path: str, caller: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in _FORMATS:
        return _FORMATS[suffix]
    if os.path.isdir(path):
        files = [p for p in Path(path).rglob("*") if p.suffix.lower() in _FORMATS]
        kinds = {_FORMATS[p.suffix.lower()] for p in files}
        if len(kinds) == 1:
            return kinds.pop()
        if kinds:
            raise fail(
                "path",
                caller,
                "a folder of one kind of file",
                path,
                "It holds both parquet and csv files: pass format='parquet' or format='csv'.",
            )
        raise fail(
            "path",
            caller,
            "a folder holding parquet or csv files",
            path,
            "It holds none yet: pass format='parquet' (or 'csv') to define the view before "
            "the files arrive.",
        )
    if not any(ch in path for ch in "*?["):
        raise fail(
            "path",
            caller,
            "an existing file or folder, or a glob pattern",
            path,
            "Check the path (it is resolved against the current folder).",
        )
    raise fail(
        "format", caller, "'parquet' or 'csv' for this pattern", None, "Pass format='parquet'."
    )


@dataclass(frozen=True, init=False)
class QuerySource(Source):
    """A DuckDB query: ``SELECT ... FROM read_parquet('s3-sync/*.parquet') WHERE ...``.

    The query runs on the feature store's own in-memory DuckDB connection, so it reads files
    (``read_parquet``, ``read_csv``, ``read_json``) and computes columns, but does not see the
    workbench store's tables or a notebook's connections.
    """

    query: str
    timestamp: str
    created_timestamp: str | None = None

    def __init__(self, query: str, *, timestamp: str, created_timestamp: str | None = None) -> None:
        caller = "QuerySource"
        if not isinstance(query, str) or not query.strip():
            raise fail("query", caller, "a DuckDB SELECT query", query)
        _check_columns(caller, timestamp, created_timestamp)
        object.__setattr__(self, "query", query.strip().rstrip(";"))
        object.__setattr__(self, "timestamp", timestamp)
        object.__setattr__(self, "created_timestamp", created_timestamp)

    def relation(self, con: duckdb.DuckDBPyConnection, *, view: str) -> str:
        import duckdb

        try:
            con.sql(f"DESCRIBE SELECT * FROM ({self.query}) LIMIT 0")
        except duckdb.Error as exc:
            raise FeatureSourceError(
                f"The query source of feature view {view!r} cannot be read: "
                f"{str(exc).splitlines()[0]}. Fix the query (or the files it reads), then "
                "register the view again."
            ) from None
        return f"({self.query})"

    def describe(self) -> str:
        return f"DuckDB query {self.query[:200]!r}"

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "query",
            "query": self.query,
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
        }


@dataclass(frozen=True, init=False, eq=False)
class DataFrameSource(Source):
    """Rows held in this process: a pandas DataFrame or a pyarrow Table.

    Handy in a notebook. The definition is stored and versioned like any other, the rows are
    not: another process (a server, a scheduled job) needs a :class:`FileSource` instead.
    """

    timestamp: str
    created_timestamp: str | None = None
    data: Any = field(default=None, repr=False)
    _arrow: list[Any] = field(default_factory=list, repr=False)

    def __init__(self, data: Any, *, timestamp: str, created_timestamp: str | None = None) -> None:
        caller = "DataFrameSource"
        _check_columns(caller, timestamp, created_timestamp)
        if data is not None and not _is_table(data):
            raise fail(
                "data",
                caller,
                "a pandas DataFrame or a pyarrow Table",
                data,
                "For files use FileSource(path, timestamp=...).",
            )
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "timestamp", timestamp)
        object.__setattr__(self, "created_timestamp", created_timestamp)
        object.__setattr__(self, "_arrow", [])

    def arrow(self, *, view: str) -> pa.Table:
        """The rows as an Arrow table (converted once)."""
        if self.data is None:
            raise FeatureSourceError(
                f"The source of feature view {view!r} is a DataFrame held by the process that "
                "registered the view, so this process cannot read it. Register the view again "
                "here with its data (register_features(view)), or save the rows to files and "
                "give the view a FileSource."
            )
        if not self._arrow:
            import pyarrow as pa

            data = self.data
            table = (
                data
                if isinstance(data, pa.Table)
                else pa.Table.from_pandas(data, preserve_index=False)
            )
            self._arrow.append(table)
        return self._arrow[0]

    def relation(self, con: duckdb.DuckDBPyConnection, *, view: str) -> str:
        name = f"__wb_frame_{abs(hash(view))}"
        con.register(name, self.arrow(view=view))
        return quote(name)

    def identity(self) -> tuple[Any, ...] | None:
        return None if self.data is None else ("frame", id(self.data), len(self.data))

    def describe(self) -> str:
        if self.data is None:
            return "a DataFrame in another process"
        return f"a DataFrame of {len(self.data):,} rows in this process"

    def columns(self) -> list[list[str]]:
        """Column names and Arrow types (the stored part of the source)."""
        if self.data is None:
            return []
        schema = self.arrow(view="?").schema
        return [[name, str(schema.field(name).type)] for name in schema.names]

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "dataframe",
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
            "columns": self.columns(),
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataFrameSource) and self.to_spec() == other.to_spec()

    def __hash__(self) -> int:
        return hash((self.timestamp, self.created_timestamp))


def _is_table(data: Any) -> bool:
    import pandas as pd
    import pyarrow as pa

    return isinstance(data, (pd.DataFrame, pa.Table))


def source_from_spec(spec: Mapping[str, Any], *, data: Any = None) -> Source:
    """The source a stored spec describes (``data``: the rows of a DataFrame source, if this
    process has them)."""
    kind = spec["type"]
    columns = {"timestamp": spec["timestamp"], "created_timestamp": spec.get("created_timestamp")}
    if kind == "file":
        source = FileSource.__new__(FileSource)
        for key, value in (("path", spec["path"]), ("format", spec["format"]), *columns.items()):
            object.__setattr__(source, key, value)
        return source
    if kind == "query":
        return QuerySource(spec["query"], **columns)
    if kind == "dataframe":
        return DataFrameSource(data, **columns)
    raise FeatureSourceError(
        f"A stored feature view has a source of type {kind!r}, which this workbench does not "
        "know (written by a newer version?). Upgrade workbench."
    )
