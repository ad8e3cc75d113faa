"""Ship journal batches to the team store on PostgreSQL: in bulk, exactly once.

The rules are the local store's (``_ingest``): params are immutable (first value wins), tags
and artifacts are last-write-wins, metric points are appended and their per-key summary
(latest by step then time, min, max, count) is merged, a run's final status is the last end
record seen, the request log is appended.

Bulk: every record kind of a slice of journal is copied (``COPY ... FROM STDIN`` in CSV, which
pyarrow's C++ writer produces) into a temporary staging table and merged with one
``INSERT ... SELECT ... ON CONFLICT`` per kind, in the transaction that moves the journal's
offset; nothing goes row by row.

Damage is contained as on the local store: damaged bytes are copied to ``spool/corrupt/`` of
this machine, recorded in ``wb_spool_damage`` (with the host, so ``workbench doctor`` on any
machine lists them) in the transaction that moves past them, and skipped; the runs of a process
whose journal was damaged are marked ``failed`` rather than ``killed`` (``_pg_live.reap``).

Exactly once, with shippers in several processes: each journal's offset row is locked for the
transaction (``SELECT ... FOR UPDATE SKIP LOCKED``), so a journal another process is shipping
is skipped, and the offset committed with the data is where the next shipper starts. New
experiment names are created under an advisory lock on the name, so machines that log to a new
experiment at the same moment share one.
"""

from __future__ import annotations

import functools
import io
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from workbench.store._ingest import (
    SUMMARY_MERGE,
    UNIQUE_BY,
    experiment_names,
    quarantine,
    unique,
)
from workbench.store._spool import Spool
from workbench.store._sql_store import EXPERIMENT_LOCK
from workbench.store.batch import METRIC_SCHEMA, RECORD_KINDS, Batch

if TYPE_CHECKING:
    import psycopg

# PostgreSQL types of the staged record columns (times are microseconds since the epoch).
_TYPES = {
    "created_at": "BIGINT",
    "start_time": "BIGINT",
    "end_time": "BIGINT",
    "received_at": "BIGINT",
    "pid": "INTEGER",
    "pid_started": "DOUBLE PRECISION",
    "value_num": "DOUBLE PRECISION",
    "latency_ms": "DOUBLE PRECISION",
    "n_rows": "BIGINT",
    "n_cols": "BIGINT",
    "size": "BIGINT",
    "model_version": "INTEGER",
}
_KIND_TYPES = {("requests", "status"): "INTEGER"}


def _ts(column: str) -> str:
    """SQL for a staged microseconds column as a UTC ``TIMESTAMP`` (exact, no float)."""
    return f"(TIMESTAMP '1970-01-01' + {column} * INTERVAL '1 microsecond')"


# One merge per kind: staged rows ``s`` into the table, as the local store does.
_MERGES = {
    "runs": f"""INSERT INTO wb_runs
        SELECT s.run_id, x.experiment_id, s.name, s.parent_id, 'running', NULL,
               {_ts("s.start_time")}, NULL, NULL, s.proc_id, s.host, s.pid, s.pid_started,
               s.context::JSON, s.created_by
        FROM stage_runs s JOIN stage_experiment_ids x ON x.name = s.experiment
        ON CONFLICT (run_id) DO NOTHING""",
    "params": """INSERT INTO wb_params SELECT * FROM stage_params
        ON CONFLICT (run_id, key) DO NOTHING""",
    "tags": """INSERT INTO wb_tags SELECT * FROM stage_tags
        ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value""",
    "datasets": f"""INSERT INTO wb_datasets
        SELECT digest, name, source, n_rows, n_cols, schema::JSON, profile::JSON,
               {_ts("created_at")}
        FROM stage_datasets ON CONFLICT (digest) DO NOTHING""",
    "inputs": """INSERT INTO wb_run_inputs SELECT * FROM stage_inputs
        ON CONFLICT (run_id, digest, context) DO NOTHING""",
    "artifacts": f"""INSERT INTO wb_artifacts
        SELECT run_id, path, digest, size, media_type, {_ts("created_at")} FROM stage_artifacts
        ON CONFLICT (run_id, path) DO UPDATE SET digest = excluded.digest,
            size = excluded.size, media_type = excluded.media_type,
            created_at = excluded.created_at""",
    "run_updates": f"""UPDATE wb_runs SET status = u.status, end_time = {_ts("u.end_time")},
            error = u.error, proc_id = coalesce(u.proc_id, wb_runs.proc_id),
            host = coalesce(u.host, wb_runs.host), pid = coalesce(u.pid, wb_runs.pid),
            pid_started = coalesce(u.pid_started, wb_runs.pid_started)
        FROM stage_run_updates u WHERE wb_runs.run_id = u.run_id""",
    "requests": f"""INSERT INTO wb_requests
        SELECT request_id, deployment_id, model_name, model_version, role,
               {_ts("received_at")}, latency_ms, status, n_rows, inputs::JSON, outputs::JSON,
               error
        FROM stage_requests""",
}
# Metric points as PostgreSQL takes them: the labels plain strings, not dictionary-encoded.
_POINTS = pa.schema(
    [f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f for f in METRIC_SCHEMA]
)
_SUMMARY_COLUMNS = (
    "run_id TEXT, key TEXT, latest DOUBLE PRECISION, latest_step BIGINT, "
    "latest_timestamp TIMESTAMP, min DOUBLE PRECISION, max DOUBLE PRECISION, count BIGINT"
)
_SUMMARY_MERGE = "INSERT INTO wb_metric_summary SELECT * FROM stage_summary" + SUMMARY_MERGE


DONE = -1  # the offset of a journal shipped to its end (its file is being removed)


@dataclass
class Shipped:
    """What one pass shipped: how many batches, and per journal the offset reached."""

    batches: int = 0
    damaged: int = 0  # stretches of damaged bytes found, kept aside and recorded
    offsets: dict[str, int] = field(default_factory=dict)
    more: bool = False  # some journal has bytes left (the pass stopped at ``max_bytes``)
    finished: list[str] = field(default_factory=list)  # journals shipped to their end, removed


def ship_journals(
    con: psycopg.Connection[Any],
    spool: Spool,
    *,
    max_bytes: int = 8 << 20,
    only: set[str] | None = None,
) -> Shipped:
    """Ship what the journals of ``spool`` (``only`` those keys, if given) hold beyond their
    recorded offsets, each journal in a transaction of its own; delete a journal once its
    writer is gone and it is all shipped.

    A finished journal's offset becomes ``DONE`` in the transaction that ships its end; the
    file is removed after the commit, and only then its row. A shipper that listed the file
    before it went finds ``DONE``, or finds the file gone: nothing is shipped twice."""
    shipped = Shipped()
    for path in spool.journals():
        if not path.exists():
            continue
        key = Spool.key(path)
        if only is not None and key not in only:
            continue
        finished = False
        with con.transaction():
            con.execute(
                'INSERT INTO wb_spool_offsets (journal, "offset") VALUES (%s, 0) '
                "ON CONFLICT (journal) DO NOTHING",
                (key,),
            )
            row = con.execute(
                'SELECT "offset" FROM wb_spool_offsets WHERE journal = %s FOR UPDATE SKIP LOCKED',
                (key,),
            ).fetchone()
            if row is None or row[0] == DONE:
                continue  # another process ships it right now, or it is all shipped
            if not path.exists():  # shipped and removed after we listed it: not ours to redo
                con.execute("DELETE FROM wb_spool_offsets WHERE journal = %s", (key,))
                continue
            start = int(row[0])
            gone = spool.writer_gone(path)  # before reading: see Spool.writer_gone
            found = spool.read(path, start, writer_gone=gone, max_bytes=max_bytes)
            batches = [entry.batch for entry in found.entries]
            if batches:
                apply_batches(con, batches)
            if found.damage:
                _record_damage(con, [quarantine(spool, path, bad) for bad in found.damage])
            finished = gone and spool.pending_bytes(path, found.offset) == 0
            con.execute(
                'UPDATE wb_spool_offsets SET "offset" = %s WHERE journal = %s',
                (DONE if finished else found.offset, key),
            )
            shipped.batches += len(batches)
            shipped.damaged += len(found.damage)
            shipped.offsets[key] = found.offset
            shipped.more = shipped.more or not found.at_eof
        if finished:
            path.unlink(missing_ok=True)
            shipped.finished.append(key)
            with con.transaction():
                con.execute(
                    'DELETE FROM wb_spool_offsets WHERE journal = %s AND "offset" = %s',
                    (key, DONE),
                )
    return shipped


def _record_damage(con: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    """Record damaged stretches of journal (rows of ``wb_spool_damage``), once each."""
    with con.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO wb_spool_damage VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (journal, start_offset) DO NOTHING",
            rows,
        )


def apply_batches(con: psycopg.Connection[Any], batches: list[Batch]) -> None:
    """Apply ``batches`` in the caller's transaction."""
    batch = Batch.merge(batches)
    records = batch.records
    _stage_experiment_ids(con, batch)
    for kind, sql in _MERGES.items():
        rows = unique(kind, records[kind]) if kind in UNIQUE_BY else records[kind]
        if rows:
            _stage(con, kind, rows)
            con.execute(sql)  # type: ignore[arg-type]
    if batch.metrics.num_rows:
        with con.cursor().copy("COPY wb_metric_points FROM STDIN (FORMAT binary)") as copy:
            copy.write(binary_points(batch.metrics))
        _copy(con, "stage_summary", _SUMMARY_COLUMNS, _summaries(batch.metrics.cast(_POINTS)))
        con.execute(_SUMMARY_MERGE)  # type: ignore[arg-type]


_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01, PostgreSQL's epoch, in Unix microseconds
_COPY_HEADER = b"PGCOPY\n\xff\r\n\0" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"


def binary_points(points: pa.Table) -> bytes:
    """Metric points in PostgreSQL's binary COPY format, built with numpy, not row by row.

    PostgreSQL parses binary rows far faster than CSV (no text to turn into numbers). A row
    holds two strings, so rows differ in length; the rows of one (run, key) do not, and each
    such group is one numpy structured array written out at once."""
    points = points.combine_chunks()
    run_ids, keys = (pc.dictionary_encode(points.column(c)).chunk(0) for c in ("run_id", "key"))
    runs = [s.encode() for s in run_ids.dictionary.to_pylist()]
    names = [s.encode() for s in keys.dictionary.to_pylist()]
    pair = run_ids.indices.to_numpy().astype(np.int64) * len(names) + keys.indices.to_numpy()
    order = np.argsort(pair, kind="stable")
    bounds = np.flatnonzero(np.diff(pair[order])) + 1
    steps = points.column("step").to_numpy()
    values = points.column("value").to_numpy()
    stamps = points.column("timestamp").cast(pa.int64()).to_numpy() - _PG_EPOCH_US
    parts = [_COPY_HEADER]
    for rows in np.split(order, bounds):
        run, key = runs[pair[rows[0]] // len(names)], names[pair[rows[0]] % len(names)]
        group = np.empty(len(rows), _row_type(len(run), len(key)))
        group["fields"], group["run_len"], group["run"] = 5, len(run), run
        group["key_len"], group["key"] = len(key), key
        group["step_len"], group["value_len"], group["stamp_len"] = 8, 8, 8
        group["step"], group["value"], group["stamp"] = steps[rows], values[rows], stamps[rows]
        parts.append(group.tobytes())
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


@functools.cache
def _row_type(run_len: int, key_len: int) -> np.dtype[Any]:
    """One binary COPY row of ``wb_metric_points`` with strings of these lengths."""
    return np.dtype(
        [
            ("fields", ">i2"),
            ("run_len", ">i4"),
            ("run", f"S{run_len}"),
            ("key_len", ">i4"),
            ("key", f"S{key_len}"),
            ("step_len", ">i4"),
            ("step", ">i8"),
            ("value_len", ">i4"),
            ("value", ">f8"),
            ("stamp_len", ">i4"),
            ("stamp", ">i8"),
        ]
    )


def _summaries(points: pa.Table) -> pa.Table:
    """Per (run, key) of a slice: the latest value (highest step, then time), min, max, count,
    computed in Arrow so that PostgreSQL merges one row per key rather than sorting points."""
    ordered = points.sort_by([(c, "ascending") for c in ("run_id", "key", "step", "timestamp")])
    grouped = ordered.group_by(["run_id", "key"], use_threads=False).aggregate(
        [
            ("value", "last"),
            ("step", "max"),
            ("timestamp", "last"),
            ("value", "min"),
            ("value", "max"),
            ("value", "count"),
        ]
    )
    columns = ["run_id", "key", "value_last", "step_max", "timestamp_last", "value_min"]
    return grouped.select([*columns, "value_max", "value_count"])


def _stage_experiment_ids(con: psycopg.Connection[Any], batch: Batch) -> None:
    """``stage_experiment_ids``: every experiment name the batch uses, with the id of its live
    experiment (created here if there is none; one per name across machines)."""
    ids: dict[str, str] = {}
    for name, (created, by) in sorted(experiment_names(batch).items()):
        # the lock create_experiment takes: one experiment per name, whoever creates it
        con.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", (name, EXPERIMENT_LOCK)
        )
        row = con.execute(
            "SELECT experiment_id FROM wb_experiments WHERE deleted_at IS NULL AND name = %s",
            (name,),
        ).fetchone()
        if row is None:
            row = (uuid.uuid4().hex,)
            con.execute(
                f"INSERT INTO wb_experiments VALUES (%s, %s, {_ts('%s')}, NULL, NULL, %s)",  # type: ignore[arg-type]
                (row[0], name, created, by),
            )
        ids[name] = row[0]
    _copy(
        con,
        "stage_experiment_ids",
        "name TEXT, experiment_id TEXT",
        pa.table({"name": list(ids), "experiment_id": list(ids.values())}),
    )


def _stage(con: psycopg.Connection[Any], kind: str, rows: list[dict[str, Any]]) -> None:
    columns = RECORD_KINDS[kind]
    types = [_KIND_TYPES.get((kind, c), _TYPES.get(c, "TEXT")) for c in columns]
    table = pa.table({c: [row.get(c) for row in rows] for c in columns})
    definition = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
    _copy(con, f"stage_{kind}", definition, table)


def _copy(con: psycopg.Connection[Any], name: str, definition: str, table: pa.Table) -> None:
    """Put ``table`` into the temporary table ``name`` (emptied at commit) with one COPY."""
    con.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({definition}) ON COMMIT DELETE ROWS"  # type: ignore[arg-type]
    )
    con.execute(f"TRUNCATE {name}")  # type: ignore[arg-type]
    _copy_into(con, name, table)


def _copy_into(con: psycopg.Connection[Any], name: str, table: pa.Table) -> None:
    """Append ``table`` (its columns in the table's order) to ``name`` with one COPY."""
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    with con.cursor().copy(f"COPY {name} FROM STDIN (FORMAT csv)") as copy:  # type: ignore[arg-type]
        copy.write(buffer.getvalue())
