"""Copy a store into another: local to team store and back, local to local, team to team.

What is copied: every row of the ``wb_*`` tables both ends have, by the columns both have, under
the same ids; the artifact files those rows reference (by digest, each one checked); and, through
``studies``, the Optuna studies of the store's sweeps. Not copied: a store's own bookkeeping
(``NOT_COPIED``: its schema version, its journals' offsets and damage records, the team store's
heartbeats), which describes that store, not the work logged to it.

How:

* Both ends are synced first: every journal of this machine ingested (local) or shipped (team).
* Each table is read in Arrow batches (DuckDB's Arrow export; on PostgreSQL ``COPY ... TO``
  parsed by pyarrow) into a scratch DuckDB database beside nothing else, where the rows the
  destination lacks are found by key, and the keys under which it holds *different* rows. Any
  such conflict is refused before anything is written.
* The new rows are written in dependency order (``ORDER``), in batches of about ``batch_rows``,
  one transaction each: ``COPY ... FROM`` on PostgreSQL (as ``_pg_ingest`` ships), an Arrow
  insert on DuckDB. Artifact files go first, so no copied row points at a missing file.

A row's key is its table's primary key. Three tables have none; their rows are compared and
written by group (``GROUPS``), and a batch never splits a group: metric points by (run, key), the
request log by request, the alias history by (model, alias, seq). So a copy killed at any moment
leaves whole groups behind: the next run copies what is missing, and nothing twice.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv

from workbench.config import is_team_url, redact_url, store_location
from workbench.exceptions import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidParameterError,
    NotAWorkbenchStoreError,
    StoreError,
    StoreVersionError,
)
from workbench.store import _database, _layout, _pg
from workbench.store.base import Store
from workbench.store.duckdb import DuckDBStore

if TYPE_CHECKING:
    import pandas as pd
    import psycopg

    from workbench.store.postgres import PostgresStore

__all__ = ["CopyReport", "InitReport", "StudyCopy", "TableCopy", "copy_store", "init_team_store"]

#: Tables in the order they are written: what a row refers to comes before it. Tables not named
#: here (added by a later schema) follow, by name.
ORDER = (
    "wb_experiments",
    "wb_runs",
    "wb_params",
    "wb_tags",
    "wb_datasets",
    "wb_run_inputs",
    "wb_artifacts",
    "wb_metric_points",
    "wb_metric_summary",
    "wb_models",
    "wb_model_versions",
    "wb_aliases",
    "wb_alias_history",
    "wb_deployments",
    "wb_requests",
)
#: A store's own bookkeeping, never copied (why, for the docs).
NOT_COPIED = {
    "wb_meta": "the store's schema version, which each end keeps for itself",
    "wb_spool_offsets": "how far each of this store's journals is ingested",
    "wb_spool_damage": "damaged bytes found in this store's journals (kept in its spool)",
    "wb_heartbeats": "which processes log to the team store right now",
}
#: The tables without a primary key: the columns that group their rows (see the module).
GROUPS = {
    "wb_metric_points": ("run_id", "key"),
    "wb_requests": ("request_id",),
    "wb_alias_history": ("name", "alias", "seq"),
}
#: Content-addressed rows: a destination row with the same digest describes the same data, and
#: is kept as it is (two people who logged the same file; the ingest keeps the first row too).
KEEP_EXISTING = frozenset({"wb_datasets"})
#: The columns that hold the digest of an artifact file.
BLOBS = {"wb_artifacts": "digest", "wb_model_versions": "artifact_digest"}
BATCH_ROWS = 50_000
LINGER_S = 2.0

# Column types as the copy carries them: (DuckDB type, Arrow type), by the database's type name.
_TEXT = ("VARCHAR", pa.string())
_INT = ("BIGINT", pa.int64())
_FLOAT = ("DOUBLE", pa.float64())
_TIME = ("TIMESTAMP", pa.timestamp("us"))
_BOOL = ("BOOLEAN", pa.bool_())
_KINDS = {
    **dict.fromkeys(("varchar", "character varying", "text", "json", "uuid"), _TEXT),
    **dict.fromkeys(("bigint", "integer", "smallint", "tinyint"), _INT),
    **dict.fromkeys(("double", "double precision", "real", "float"), _FLOAT),
    **dict.fromkeys(("timestamp", "timestamp without time zone"), _TIME),
    "boolean": _BOOL,
}
_COLUMNS_SQL = """
    SELECT c.table_name, c.column_name, c.data_type
    FROM information_schema.columns c JOIN information_schema.tables t
         ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE t.table_type = 'BASE TABLE' AND c.table_schema = current_schema()
    ORDER BY c.table_name, c.ordinal_position"""
_KEY_SQL = """
    SELECT k.table_name, k.column_name
    FROM information_schema.table_constraints c JOIN information_schema.key_column_usage k
         ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
            AND k.table_name = c.table_name
    WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()
    ORDER BY k.table_name, k.ordinal_position"""
_POINT_COLUMNS = ["run_id", "key", "step", "value", "timestamp"]  # _pg_ingest.binary_points'


# -- the report ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableCopy:
    """One table of a copy: rows at each end once done, rows this copy wrote."""

    table: str
    source_rows: int
    destination_rows: int
    copied: int
    left_out: tuple[str, ...] = ()  # source columns the destination does not have


@dataclass(frozen=True)
class StudyCopy:
    """One sweep's Optuna study: trials at the source, trials this copy added, trials there."""

    name: str
    trials: int
    copied: int
    destination_trials: int


#: Copies the Optuna studies of the sweeps of one store into another (``workbench.sweeps``
#: provides it: the store layer does not know where sweeps keep their studies).
StudyCopier = Callable[[Store, Store], Sequence[StudyCopy]]


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_store` did, and the counts that verify it."""

    source: str
    destination: str
    tables: tuple[TableCopy, ...]
    files: int  # artifact files the source's rows reference
    files_copied: int
    files_present: int  # of ``files``, at the destination once done
    bytes_copied: int
    files_missing: tuple[str, ...]  # digests: not at the source, or damaged there (not copied)
    studies: tuple[StudyCopy, ...]
    seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def new_rows(self) -> int:
        """Rows this copy wrote (0 when the destination had everything)."""
        return sum(t.copied for t in self.tables)

    @property
    def verified(self) -> bool:
        """Whether the destination holds at least every row, file and trial the source holds."""
        return (
            all(t.destination_rows >= t.source_rows for t in self.tables)
            and self.files_present == self.files
            and all(s.destination_trials >= s.trials for s in self.studies)
        )

    def to_frame(self) -> pd.DataFrame:
        """The verification counts: one row per table, then the files and each sweep."""
        import pandas as pd

        rows = [(t.table, t.source_rows, t.destination_rows, t.copied) for t in self.tables]
        rows.append(("artifact files", self.files, self.files_present, self.files_copied))
        rows += [
            (f"sweep {s.name} (trials)", s.trials, s.destination_trials, s.copied)
            for s in self.studies
        ]
        return pd.DataFrame(rows, columns=["what", "source", "destination", "copied"])

    def __str__(self) -> str:
        rate = self.new_rows / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"Copied {self.source} -> {self.destination} in {self.seconds:.1f} s: "
            f"{self.new_rows:,} new rows ({rate:,.0f} rows/s), {self.files_copied:,} artifact "
            f"files ({self.bytes_copied / 1e6:,.1f} MB), {len(self.studies)} sweep(s).",
            self.to_frame().to_string(index=False),
        ]
        lines += [f"note: {note}" for note in self.notes]
        if self.verified:
            lines.append("Verified: the destination holds every row, file and trial of the source.")
        else:
            lines.append("NOT verified: " + "; ".join(self._shortfalls()) + ".")
        return "\n".join(lines)

    def _shortfalls(self) -> list[str]:
        found = [
            f"{t.table} has {t.source_rows - t.destination_rows:,} rows fewer at the destination"
            for t in self.tables
            if t.destination_rows < t.source_rows
        ]
        if self.files_present < self.files:
            found.append(
                f"{self.files - self.files_present} artifact file(s) are not at the destination "
                f"(missing or damaged at the source: {', '.join(self.files_missing[:3])}...)"
            )
        found += [
            f"sweep {s.name} has {s.trials - s.destination_trials} trials fewer there"
            for s in self.studies
            if s.destination_trials < s.trials
        ]
        return found or ["rows were written to the source during the copy: copy again"]


# -- the ends of a copy -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
    name: str
    duck: str  # the DuckDB type the copy carries it as
    arrow: pa.DataType


def _q(name: str) -> str:
    """A quoted identifier (``offset`` and ``timestamp`` are column names)."""
    return '"' + name.replace('"', '""') + '"'


class _End(abc.ABC):
    """One end of a copy: its store, and SQL on its database."""

    def __init__(self, store: Store, *, owned: bool) -> None:
        self.store = store
        self.owned = owned  # opened here: closed here

    @property
    def location(self) -> str:
        return self.store.location

    @abc.abstractmethod
    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of a query without parameters."""

    @abc.abstractmethod
    def read(self, table: str, columns: Sequence[_Column], into: Callable[[Any], None]) -> None:
        """Pass the rows of ``table`` (as ``columns``) to ``into`` as an Arrow stream."""

    @abc.abstractmethod
    def write(self, table: str, columns: Sequence[_Column], rows: pa.Table) -> None:
        """Append ``rows`` to ``table`` in one transaction."""

    @abc.abstractmethod
    def identity(self) -> tuple[Any, ...]:
        """What makes this store this store (two ends with equal identities are one store)."""

    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        """Reads in the block see one state of the store (where the database can)."""
        return contextlib.nullcontext()

    def tables(self) -> dict[str, dict[str, str]]:
        """``wb_*`` table -> column -> type name."""
        found: dict[str, dict[str, str]] = {}
        for table, column, sql_type in self.query(_COLUMNS_SQL):
            if table.startswith("wb_"):
                found.setdefault(table, {})[column] = str(sql_type).lower()
        return found

    def primary_keys(self) -> dict[str, tuple[str, ...]]:
        keys: dict[str, list[str]] = {}
        for table, column in self.query(_KEY_SQL):
            keys.setdefault(table, []).append(column)
        return {table: tuple(columns) for table, columns in keys.items()}

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {_q(table)}")[0][0])

    def schema_version(self) -> int:
        rows = self.query("SELECT value FROM wb_meta WHERE key = 'schema_version'")
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        if self.owned:
            self.store.close()


class _LocalEnd(_End):
    """A local store: SQL on its DuckDB file, holding it as its changes do (``_change``)."""

    store: DuckDBStore

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.store._change(lambda con: con.execute(sql).fetchall())  # type: ignore[no-any-return]

    def read(self, table: str, columns: Sequence[_Column], into: Callable[[Any], None]) -> None:
        select = ", ".join(f"CAST({_q(c.name)} AS {c.duck}) AS {_q(c.name)}" for c in columns)
        sql = f"SELECT {select} FROM {_q(table)}"
        self.store._change(lambda con: into(con.sql(sql).to_arrow_reader(BATCH_ROWS)))

    def write(self, table: str, columns: Sequence[_Column], rows: pa.Table) -> None:
        names = ", ".join(_q(c.name) for c in columns)

        def insert(con: duckdb.DuckDBPyConnection) -> None:
            con.register("wb_copy_rows", rows)
            try:
                con.execute(f"INSERT INTO {_q(table)} ({names}) SELECT {names} FROM wb_copy_rows")
            finally:
                con.unregister("wb_copy_rows")

        self.store._change(insert)

    def identity(self) -> tuple[Any, ...]:
        stat = os.stat(self.store.root)
        return ("local", stat.st_dev, stat.st_ino)


class _TeamEnd(_End):
    """A team store: SQL on a connection of its own to the PostgreSQL database."""

    store: PostgresStore

    def __init__(self, store: PostgresStore, *, owned: bool) -> None:
        super().__init__(store, owned=owned)
        self.con: psycopg.Connection[Any] = _pg.connect(store._url)
        self.con.autocommit = True
        # Text the way pyarrow reads it back: ISO times, floats exact, UTF-8.
        for setting in ("DateStyle TO 'ISO, YMD'", "extra_float_digits TO 3"):
            self.con.execute(f"SET {setting}")  # type: ignore[arg-type]
        self.con.execute("SET client_encoding TO 'UTF8'")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()  # type: ignore[arg-type]

    def read(self, table: str, columns: Sequence[_Column], into: Callable[[Any], None]) -> None:
        names = ", ".join(_q(c.name) for c in columns)
        schema = pa.schema([(c.name, c.arrow) for c in columns])
        with tempfile.TemporaryFile() as buffer:
            sql = f"COPY (SELECT {names} FROM {_q(table)}) TO STDOUT (FORMAT csv)"
            with self.con.cursor().copy(sql) as copy:  # type: ignore[arg-type]
                for chunk in copy:
                    buffer.write(chunk)
            if buffer.tell() == 0:
                into(pa.RecordBatchReader.from_batches(schema, []))
                return
            buffer.seek(0)
            into(
                pa_csv.open_csv(
                    buffer,
                    read_options=pa_csv.ReadOptions(column_names=schema.names),
                    parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                    convert_options=pa_csv.ConvertOptions(
                        column_types=schema,
                        # NULL is an unquoted empty field, an empty string a quoted one
                        null_values=[""],
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
                        true_values=["t"],
                        false_values=["f"],
                    ),
                )
            )

    def write(self, table: str, columns: Sequence[_Column], rows: pa.Table) -> None:
        from workbench.store._pg_ingest import binary_points

        names = [c.name for c in columns]
        listed = ", ".join(_q(n) for n in names)
        with self.con.transaction():
            if table == "wb_metric_points" and names == _POINT_COLUMNS:
                sql = f"COPY wb_metric_points ({listed}) FROM STDIN (FORMAT binary)"
                data = binary_points(rows)
            else:
                sql = f"COPY {_q(table)} ({listed}) FROM STDIN (FORMAT csv)"
                buffer = io.BytesIO()
                pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=False))
                data = buffer.getvalue()
            with self.con.cursor().copy(sql) as copy:  # type: ignore[arg-type]
                copy.write(data)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        with self.con.transaction():
            self.con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def identity(self) -> tuple[Any, ...]:
        row = self.query(
            "SELECT pg_postmaster_start_time(), current_setting('port'), current_database()"
        )[0]
        return ("team", *row)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()
        super().close()


def _open(location: str | os.PathLike[str] | Store, role: str) -> _End:
    """The end ``location`` names. A source must be a store already; a destination may be an
    empty database or a new or empty folder (the store is created there)."""
    if isinstance(location, Store):
        return _end(location, owned=False)
    if not isinstance(location, (str, os.PathLike)) or not str(location).strip():
        raise InvalidParameterError(
            f"The {role} of copy_store must be a store folder, a postgresql:// URL or a Store. "
            f"Got {location!r}."
        )
    text = store_location(location, given_as=f"the {role}")
    if text == ":memory:":
        raise InvalidParameterError(
            f"The {role} is ':memory:', a store that lives only inside one process; copy "
            "between store folders or team stores."
        )
    if is_team_url(text):
        from workbench.store.postgres import PostgresStore

        if role == "source":
            _require_team_store(text)
        return _end(PostgresStore(text), owned=True)
    path = Path(text).expanduser().absolute()
    root, db = (path.parent, path) if path.suffix == ".duckdb" else (path, path / _layout.DB_FILE)
    if role == "source" and not db.is_file():
        raise NotAWorkbenchStoreError(
            f"{root} is not a workbench store ({db.name} is missing), so there is nothing to "
            "copy. Check the path: a store folder holds workbench.duckdb, spool/ and artifacts/."
        )
    foreign = root.is_dir() and not db.exists() and not (root / _layout.MARKER).exists()
    if role == "destination" and foreign and any(root.iterdir()):
        raise NotAWorkbenchStoreError(
            f"{root} is a folder with other files in it, not a workbench store. Copy into "
            "a new or empty folder (it is created), or into an existing store."
        )
    # Kept open between the copy's many short uses (another process that wants it rings).
    return _end(DuckDBStore(path, linger=LINGER_S), owned=True)


def _end(store: Store, *, owned: bool) -> _End:
    if isinstance(store, DuckDBStore) and store.location != ":memory:":
        return _LocalEnd(store, owned=owned)
    from workbench.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        return _TeamEnd(store, owned=owned)
    raise InvalidParameterError(
        f"copy_store copies between store folders and team stores; {store!r} is neither."
    )


def _require_team_store(url: str) -> None:
    """Refuse a source database that holds no workbench store (opening it would create one)."""
    with contextlib.closing(_pg.connect(url)) as con:
        version = _pg._version(con, redact_url(url))
    if version == 0:
        raise NotAWorkbenchStoreError(
            f"{redact_url(url)} holds no workbench store (the database is empty), so there is "
            "nothing to copy. Check the database name."
        )


# -- the copy ----------------------------------------------------------------------------------
def copy_store(
    source: str | os.PathLike[str] | Store,
    destination: str | os.PathLike[str] | Store,
    *,
    progress: bool = True,
    studies: StudyCopier | None = None,
    batch_rows: int = BATCH_ROWS,
) -> CopyReport:
    """Copy every run, metric point, artifact file, dataset, model version, alias change,
    deployment and request logged to ``source`` into ``destination``, with the same ids.

    Re-running it copies only what is missing (an interrupted copy finishes; a finished one
    copies nothing). Nothing is written when the destination holds a different row under an id
    of the source's (``ConflictError``).

    Parameters
    ----------
    source, destination
        A store folder or a team store's ``postgresql://`` URL (or an open ``Store``). The
        destination may be a new or empty folder, or an empty database: the store is created.
    progress
        Show a progress bar per table (tqdm; a widget in notebooks).
    studies
        Copies the sweeps' Optuna studies as well; ``workbench store copy`` passes
        :func:`workbench.sweeps.copy_studies`.
    batch_rows
        About how many rows each transaction writes.

    Returns
    -------
    CopyReport
        Per table the rows at both ends once done and the rows written; the same for artifact
        files and sweeps. ``report.verified`` says whether the destination holds them all.
    """
    if not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidParameterError(
            f"The 'batch_rows' parameter of copy_store must be a positive int. Got {batch_rows!r}."
        )
    started = time.monotonic()
    src = _open(source, "source")
    try:
        dst = _open(destination, "destination")
        try:
            return _run(src, dst, progress, studies, batch_rows, started)
        finally:
            dst.close()
    finally:
        src.close()


def _run(
    src: _End,
    dst: _End,
    progress: bool,
    studies: StudyCopier | None,
    batch_rows: int,
    started: float,
) -> CopyReport:
    if src.identity() == dst.identity():
        raise InvalidParameterError(
            f"The source and the destination are the same store ({src.location}): nothing to "
            "copy. Give another folder or database as the destination."
        )
    versions = src.schema_version(), dst.schema_version()
    if versions[0] != versions[1]:
        raise StoreVersionError(
            f"The source {src.location} has schema version {versions[0]} and the destination "
            f"{dst.location} version {versions[1]}; a copy needs both at the same version. "
            "Open the older one once with the newer workbench (that migrates it), then copy."
        )
    notes = [_sync(end) for end in (src, dst)]
    with tempfile.TemporaryDirectory(prefix="workbench-copy-") as scratch_dir:
        # In memory, and spilled to the folder beyond DuckDB's memory limit.
        scratch = duckdb.connect(":memory:", config={"threads": _database.usable_cores()})
        try:
            _database.configure(scratch, writable=False)
            scratch.execute("SET temp_directory = $d", {"d": scratch_dir})
            with src.snapshot():  # the tables of a team store as of one moment
                plans, more_notes = _plan(src, dst, scratch, batch_rows, progress)
            notes += more_notes
            files = _copy_files(src, dst, scratch, plans, progress)
            copied = {p.table: _write(dst, scratch, p, progress) for p in plans}
        finally:
            scratch.close()
    copied_studies = tuple(studies(src.store, dst.store)) if studies is not None else ()
    dst.store.sync()  # a team store's shared artifact location: the files copied are uploaded
    tables = tuple(
        TableCopy(p.table, src.count(p.table), dst.count(p.table), copied[p.table], p.left_out)
        for p in plans
    )
    return CopyReport(
        source=src.location,
        destination=dst.location,
        tables=tables,
        files=len(files.referenced),
        files_copied=files.copied,
        files_present=sum(_has_file(dst.store, d) for d in files.referenced),
        bytes_copied=files.bytes,
        files_missing=tuple(files.missing),
        studies=copied_studies,
        seconds=time.monotonic() - started,
        notes=tuple(note for note in notes if note),
    )


def _sync(end: _End) -> str:
    if end.store.sync():
        return ""
    return (
        f"{end.location}: journals another process is still shipping were not all visible; "
        "what they hold is not in this copy (copy again later)"
    )


@dataclass
class _Plan:
    """One table: what to write, in which batches."""

    table: str
    columns: list[_Column]
    key: tuple[str, ...]
    pending: int
    batches: list[int]
    left_out: tuple[str, ...]


def _plan(
    src: _End, dst: _End, scratch: duckdb.DuckDBPyConnection, batch_rows: int, progress: bool
) -> tuple[list[_Plan], list[str]]:
    """Load every table of both ends into ``scratch``; find what each lacks, and refuse any
    conflict before anything is written."""
    src_tables, dst_tables = src.tables(), dst.tables()
    keys = dst.primary_keys()
    shared = [t for t in src_tables if t in dst_tables and t not in NOT_COPIED]
    order = [t for t in ORDER if t in shared] + sorted(set(shared) - set(ORDER))
    notes = [
        f"table {t} is not at the destination: not copied"
        for t in sorted(set(src_tables) - set(dst_tables) - set(NOT_COPIED))
    ]
    plans, conflicts = [], []
    bar = _bar(len(order), "comparing tables", progress, unit="table")
    for table in order:
        columns = [
            _column(table, name, kind, dst_tables[table][name])
            for name, kind in src_tables[table].items()
            if name in dst_tables[table]
        ]
        left_out = tuple(c for c in src_tables[table] if c not in dst_tables[table])
        if left_out:
            notes.append(f"{table}: the destination has no column {', '.join(left_out)}")
        key = keys.get(table) or GROUPS.get(table) or tuple(c.name for c in columns)
        _load(src, table, columns, scratch, f"s_{table}")
        if dst.count(table):
            _load(dst, table, columns, scratch, f"d_{table}")
        else:
            scratch.execute(f"CREATE TABLE {_q('d_' + table)} AS FROM {_q('s_' + table)} LIMIT 0")
        if table not in KEEP_EXISTING:
            conflicts += _conflicts(scratch, table, columns, key)
        plan = _pending(scratch, table, columns, key, batch_rows, left_out)
        conflicts += _name_conflicts(scratch, plan)
        plans.append(plan)
        bar.update(1)
    bar.close()
    if conflicts:
        raise ConflictError(
            f"The destination {dst.location} already holds different rows under ids of the "
            f"source's: {'; '.join(conflicts)}. Nothing was copied. It holds another version of "
            "that work (copied before it changed at the source, or logged there): copy into a "
            "new, empty store, or rename or delete those rows at one end first."
        )
    running = None
    if "wb_runs" in shared:
        running = scratch.execute(
            "SELECT count(*) FROM s_wb_runs WHERE status = 'running' AND deleted_at IS NULL"
        ).fetchone()
    if running and running[0]:
        notes.append(
            f"{running[0]} run(s) are still running at the source: they are copied as they are "
            "now (no process logs to them at the destination, which may mark them killed); "
            "copying again after they end is refused as a conflict"
        )
    return plans, notes


def _column(table: str, name: str, source_type: str, destination_type: str) -> _Column:
    kinds = _KINDS.get(source_type), _KINDS.get(destination_type)
    if kinds[0] is None or kinds[0] != kinds[1]:
        raise InvalidParameterError(
            f"Column {table}.{name} is {source_type} at the source and {destination_type} at "
            "the destination; the copy carries text, integers, floats, times and booleans "
            "between like columns only. Copy with the workbench version that wrote both stores."
        )
    return _Column(name, *kinds[0])


def _load(
    end: _End,
    table: str,
    columns: Sequence[_Column],
    scratch: duckdb.DuckDBPyConnection,
    name: str,
) -> None:
    definition = ", ".join(f"{_q(c.name)} {c.duck}" for c in columns)
    scratch.execute(f"CREATE TABLE {_q(name)} ({definition})")

    def into(reader: Any) -> None:
        scratch.register("wb_incoming", reader)
        try:
            scratch.execute(f"INSERT INTO {_q(name)} SELECT * FROM wb_incoming")
        finally:
            scratch.unregister("wb_incoming")

    end.read(table, columns, into)


def _on(left: str, right: str, key: Sequence[str]) -> str:
    """Join condition on ``key`` (NULLs equal: a key without a primary key may hold NULLs)."""
    return " AND ".join(f"{left}.{_q(k)} IS NOT DISTINCT FROM {right}.{_q(k)}" for k in key)


def _conflicts(
    scratch: duckdb.DuckDBPyConnection, table: str, columns: Sequence[_Column], key: Sequence[str]
) -> list[str]:
    """Keys under which the destination holds other rows than the source (a few, as text).

    Each side's rows under a key are fingerprinted by their count and the sum of their rows'
    hashes (a multiset's, whatever the order): 18x faster than ``EXCEPT ALL`` at 1M rows."""
    keys = ", ".join(_q(k) for k in key)
    fields = ", ".join(_q(c.name) for c in columns)
    s, d = (
        f"SELECT {keys}, count(*) AS n, sum(hash({fields})::HUGEINT) AS h "
        f"FROM {_q(side + table)} GROUP BY ALL"
        for side in ("s_", "d_")
    )
    rows = scratch.execute(
        f"""SELECT {", ".join(f"s.{_q(k)}" for k in key)} FROM ({s}) AS s JOIN ({d}) AS d
            ON {_on("s", "d", key)} WHERE s.n <> d.n OR s.h <> d.h ORDER BY ALL LIMIT 4"""
    ).fetchall()
    return [
        f"{table} " + ", ".join(f"{k}={v!r}" for k, v in zip(key, row, strict=True)) for row in rows
    ]


def _pending(
    scratch: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[_Column],
    key: tuple[str, ...],
    batch_rows: int,
    left_out: tuple[str, ...],
) -> _Plan:
    """``p_<table>``: the source rows the destination lacks, each with its batch number ``_b``
    (a group's rows share one: the batch its first row falls in)."""
    keys = ", ".join(_q(k) for k in key)
    s, d, p = _q(f"s_{table}"), _q(f"d_{table}"), _q(f"p_{table}")
    scratch.execute(
        f"""CREATE TABLE {p} AS
            WITH n AS (FROM {s} AS s ANTI JOIN {d} AS d ON {_on("s", "d", key)}),
                 g AS (SELECT {keys}, count(*) AS c FROM n GROUP BY ALL),
                 b AS (SELECT *, (sum(c) OVER (ORDER BY {keys} ROWS UNBOUNDED PRECEDING) - c)
                                 // {batch_rows} AS _b FROM g)
            SELECT n.*, b._b FROM n JOIN b ON {_on("n", "b", key)}"""
    )
    pending = scratch.execute(f"SELECT count(*) FROM {p}").fetchone()
    batches = [
        int(r[0]) for r in scratch.execute(f"SELECT DISTINCT _b FROM {p} ORDER BY 1").fetchall()
    ]
    count = int(pending[0]) if pending else 0
    return _Plan(table, columns, key, count, batches, left_out)


def _name_conflicts(scratch: duckdb.DuckDBPyConnection, plan: _Plan) -> list[str]:
    """A new live experiment whose name a live experiment of the destination has (names are
    unique among live experiments; ids differ per store)."""
    if plan.table != "wb_experiments" or not plan.pending:
        return []
    rows = scratch.execute(
        """SELECT p.name FROM p_wb_experiments p JOIN d_wb_experiments d ON p.name = d.name
           WHERE p.deleted_at IS NULL AND d.deleted_at IS NULL ORDER BY 1 LIMIT 4"""
    ).fetchall()
    return [
        f"wb_experiments name={name!r} (a different live experiment has that name there: "
        "rename one of them, e.g. `workbench experiments rename`)"
        for (name,) in rows
    ]


def _write(dst: _End, scratch: duckdb.DuckDBPyConnection, plan: _Plan, progress: bool) -> int:
    """Write the pending rows of one table, a transaction per batch; how many."""
    names = ", ".join(_q(c.name) for c in plan.columns)
    schema = pa.schema([(c.name, c.arrow) for c in plan.columns])
    written = 0
    with _bar(plan.pending, plan.table, progress, unit="row") as bar:
        for number in plan.batches:
            rows = scratch.sql(
                f"SELECT {names} FROM {_q('p_' + plan.table)} WHERE _b = {number}"
            ).to_arrow_table()
            dst.write(plan.table, plan.columns, rows.cast(schema))
            written += rows.num_rows
            bar.update(rows.num_rows)
    return written


# -- artifact files ----------------------------------------------------------------------------
@dataclass
class _Files:
    referenced: list[str] = field(default_factory=list)
    copied: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)


def _copy_files(
    src: _End, dst: _End, scratch: duckdb.DuckDBPyConnection, plans: list[_Plan], progress: bool
) -> _Files:
    """Copy the artifact files the source's rows reference and the destination lacks, each
    checked against its digest (a damaged or missing one is reported, not copied)."""
    tables = {p.table for p in plans}
    selects = [
        f"SELECT {_q(column)} FROM {_q('s_' + table)} WHERE {_q(column)} IS NOT NULL"
        for table, column in BLOBS.items()
        if table in tables
    ]
    files = _Files()
    if not selects:
        return files
    files.referenced = [
        r[0] for r in scratch.execute(" UNION ".join(selects) + " ORDER BY 1").fetchall()
    ]
    wanted = [d for d in files.referenced if not _has_file(dst.store, d)]
    with _bar(len(wanted), "artifact files", progress, unit="file") as bar:
        for digest in wanted:
            try:
                path = src.store.artifacts.path(digest)
            except (ArtifactNotFoundError, ArtifactIntegrityError):
                files.missing.append(digest)
            else:
                if _sha256(path) == digest:
                    dst.store.artifacts.put_file(path)
                    files.copied += 1
                    files.bytes += path.stat().st_size
                else:
                    files.missing.append(digest)
            bar.update(1)
    if files.copied and not dst.store.artifacts.upload_pending():  # files go before their rows
        raise StoreError(
            f"The artifact files copied to {dst.store.location} could not all be uploaded to "
            "its shared artifact location yet; run the copy again once it answers."
        )
    return files


def _has_file(store: Store, digest: str) -> bool:
    """Whether ``store`` holds the blob (asked, not downloaded from a shared location)."""
    return store.artifacts.exists(digest)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _bar(total: int, what: str, enabled: bool, *, unit: str) -> Any:
    """A tqdm bar (a widget in a notebook), or one that shows nothing."""
    from tqdm.auto import tqdm

    disable = not enabled or not total
    scale = unit == "row"  # 1.2M rows; 17 tables, 3 files
    return tqdm(total=total, desc=what, unit=unit, unit_scale=scale, leave=False, disable=disable)


# -- init --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InitReport:
    """What :func:`init_team_store` found and did: schema version before (0: an empty
    database) and after."""

    location: str
    before: int
    after: int

    def __str__(self) -> str:
        if self.before == 0:
            return f"Created the workbench schema (version {self.after}) in {self.location}."
        if self.before < self.after:
            return (
                f"Migrated the team store {self.location} from schema version {self.before} "
                f"to {self.after}."
            )
        return f"The team store {self.location} is at schema version {self.after}: nothing to do."


def init_team_store(url: str) -> InitReport:
    """Create the team store's schema in an empty PostgreSQL database, or migrate an older one,
    as opening the store would (under the same advisory lock); idempotent.

    Parameters
    ----------
    url
        ``postgresql://USER@HOST:PORT/DATABASE`` (the password in ``PGPASSWORD`` or
        ``~/.pgpass``).
    """
    if not isinstance(url, str) or not is_team_url(url.strip()):
        raise InvalidParameterError(
            f"workbench store init takes a team store's URL, postgresql://USER@HOST:PORT/"
            f"DATABASE. Got {redact_url(str(url))!r}. A local store needs no init: it is created "
            "the first time it is used."
        )
    location = store_location(url, given_as="the URL")
    shown = redact_url(location)
    with contextlib.closing(_pg.connect(location)) as con, con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", (_pg.SCHEMA_LOCK,))
        before = _pg._version(con, shown)
        after = _pg.ensure_schema(con, shown)  # a savepoint in this transaction; same lock
    return InitReport(shown, before, after)
