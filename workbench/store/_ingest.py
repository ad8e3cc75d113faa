"""Apply batches to the DuckDB tables in one transaction, and mark runs of dead processes killed.

Everything is inserted as Arrow tables (millions of rows per second) rather than row by row.
Rules: params are immutable (first value wins), tags and artifacts are last-write-wins, metric
points are appended and their per-key summary (latest by step then time, min, max, count) is
upserted, a run's final status is the last end record seen.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from workbench._liveness import process_alive
from workbench.store._spool import SEALED, Damage, Spool, journal_owner
from workbench.store.batch import RECORD_KINDS, Batch

logger = logging.getLogger("workbench.store")

HEARTBEAT_TIMEOUT_S = 30.0

# Merging a batch's per-key summaries into the stored ones (DuckDB and PostgreSQL alike).
SUMMARY_MERGE = """
ON CONFLICT (run_id, key) DO UPDATE SET
    latest = CASE WHEN excluded.latest_step > wb_metric_summary.latest_step
                    OR (excluded.latest_step = wb_metric_summary.latest_step
                        AND excluded.latest_timestamp >= wb_metric_summary.latest_timestamp)
                  THEN excluded.latest ELSE wb_metric_summary.latest END,
    latest_timestamp = CASE WHEN excluded.latest_step > wb_metric_summary.latest_step
                    OR (excluded.latest_step = wb_metric_summary.latest_step
                        AND excluded.latest_timestamp >= wb_metric_summary.latest_timestamp)
                  THEN excluded.latest_timestamp ELSE wb_metric_summary.latest_timestamp END,
    latest_step = greatest(excluded.latest_step, wb_metric_summary.latest_step),
    min = least(excluded.min, wb_metric_summary.min),
    max = greatest(excluded.max, wb_metric_summary.max),
    count = wb_metric_summary.count + excluded.count
"""
_SUMMARY_UPSERT = (
    """
INSERT INTO wb_metric_summary
SELECT run_id, key,
       arg_max(value, {'s': step, 't': timestamp}),
       max(step),
       arg_max(timestamp, {'s': step, 't': timestamp}),
       min(value), max(value), count(*)
FROM __points GROUP BY run_id, key"""
    + SUMMARY_MERGE
)


def _table(kind: str, rows: list[dict[str, Any]]) -> pa.Table:
    columns = RECORD_KINDS[kind]
    return pa.table({c: [row.get(c) for row in rows] for c in columns})


# The merge rules of the record kinds keyed in their table: the columns of the key, and which
# record of a batch wins (params, datasets and inputs are immutable; the rest last-write-wins).
UNIQUE_BY: dict[str, tuple[tuple[str, ...], str]] = {
    "runs": (("run_id",), "first"),
    "params": (("run_id", "key"), "first"),
    "tags": (("run_id", "key"), "last"),
    "datasets": (("digest",), "first"),
    "inputs": (("run_id", "digest", "context"), "first"),
    "artifacts": (("run_id", "path"), "last"),
    "run_updates": (("run_id",), "last"),
}


def unique(kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per key of ``kind`` (``UNIQUE_BY``): the first or the last seen."""
    key, keep = UNIQUE_BY[kind]
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if keep == "last" or k not in seen:
            seen[k] = row
    return list(seen.values())


def experiment_names(batch: Batch) -> dict[str, tuple[int, str | None]]:
    """Every experiment name ``batch`` uses, with the time to create it at if it is new and
    who creates it (the first run's creator, for an experiment a run creates)."""
    names = {
        r["name"]: (r["created_at"], r.get("created_by")) for r in batch.records["experiments"]
    }
    for run in batch.records["runs"]:
        names.setdefault(run["experiment"], (run["start_time"], run.get("created_by")))
    return names


def _insert(
    con: duckdb.DuckDBPyConnection, sql: str, kind: str, rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    con.register("__rows", _table(kind, rows))
    try:
        con.execute(sql)
    finally:
        con.unregister("__rows")


def _resolve_experiments(con: duckdb.DuckDBPyConnection, batch: Batch) -> dict[str, str]:
    """Map every experiment name the batch uses to a live experiment id, creating missing ones."""
    names = experiment_names(batch)
    if not names:
        return {}
    found = dict(
        con.execute(
            "SELECT name, experiment_id FROM wb_experiments "
            "WHERE deleted_at IS NULL AND list_contains($names, name)",
            {"names": list(names)},
        ).fetchall()
    )
    for name, (created, by) in names.items():
        if name not in found:
            found[name] = uuid.uuid4().hex
            con.execute(
                "INSERT INTO wb_experiments VALUES "
                "($id, $name, make_timestamp($t), NULL, NULL, $by)",
                {"id": found[name], "name": name, "t": created, "by": by},
            )
    return found


def apply_batches(
    con: duckdb.DuckDBPyConnection,
    batches: list[Batch],
    offsets: dict[str, int] | None = None,
    damage: list[tuple[Any, ...]] | None = None,
) -> None:
    """Apply ``batches``, the journal ``offsets`` they were read up to and the ``damage`` found
    on the way (rows of ``wb_spool_damage``), atomically."""
    batch = Batch.merge(batches)
    records = batch.records
    con.begin()
    try:
        experiment_ids = _resolve_experiments(con, batch)
        runs = [dict(r, experiment=experiment_ids[r["experiment"]]) for r in records["runs"]]
        _insert(
            con,
            """INSERT OR IGNORE INTO wb_runs
            SELECT run_id, experiment, name, parent_id, 'running', NULL, make_timestamp(start_time),
                   NULL, NULL, proc_id, host, pid, pid_started, context, created_by FROM __rows""",
            "runs",
            unique("runs", runs),
        )
        _insert(
            con,
            "INSERT OR IGNORE INTO wb_params SELECT * FROM __rows",
            "params",
            unique("params", records["params"]),
        )
        _insert(
            con,
            "INSERT OR REPLACE INTO wb_tags SELECT * FROM __rows",
            "tags",
            unique("tags", records["tags"]),
        )
        _insert(
            con,
            """INSERT OR IGNORE INTO wb_datasets
            SELECT digest, name, source, n_rows, n_cols, schema, profile, make_timestamp(created_at)
            FROM __rows""",
            "datasets",
            unique("datasets", records["datasets"]),
        )
        _insert(
            con,
            "INSERT OR IGNORE INTO wb_run_inputs SELECT * FROM __rows",
            "inputs",
            unique("inputs", records["inputs"]),
        )
        _insert(
            con,
            """INSERT OR REPLACE INTO wb_artifacts
            SELECT run_id, path, digest, size, media_type, make_timestamp(created_at)
            FROM __rows""",
            "artifacts",
            unique("artifacts", records["artifacts"]),
        )
        if batch.metrics.num_rows:
            con.register("__points", batch.metrics)
            con.execute("INSERT INTO wb_metric_points SELECT * FROM __points")
            con.execute(_SUMMARY_UPSERT)
            con.unregister("__points")
        _insert(
            con,
            """UPDATE wb_runs SET status = u.status, end_time = make_timestamp(u.end_time),
                   error = u.error, proc_id = coalesce(u.proc_id, wb_runs.proc_id),
                   host = coalesce(u.host, wb_runs.host), pid = coalesce(u.pid, wb_runs.pid),
                   pid_started = coalesce(u.pid_started, wb_runs.pid_started)
               FROM __rows u WHERE wb_runs.run_id = u.run_id""",
            "run_updates",
            unique("run_updates", records["run_updates"]),
        )
        _insert(  # the serving request log: append-only, exactly once through the offsets
            con,
            """INSERT INTO wb_requests
            SELECT request_id, deployment_id, model_name, model_version, role,
                   make_timestamp(received_at), latency_ms, status, n_rows, inputs, outputs, error
            FROM __rows""",
            "requests",
            records["requests"],
        )
        if offsets:  # one statement: executemany would run one per journal
            reached = pa.table(
                {"journal": list(offsets), "offset": pa.array(list(offsets.values()), pa.int64())}
            )
            con.register("__offsets", reached)
            try:
                con.execute("INSERT OR REPLACE INTO wb_spool_offsets SELECT * FROM __offsets")
            finally:
                con.unregister("__offsets")
        if damage:
            con.executemany(
                "INSERT OR IGNORE INTO wb_spool_damage VALUES (?, ?, ?, ?, ?, ?, ?, ?)", damage
            )
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _process_alive(host: str, pid: int, pid_started: float, heartbeat: Path | None) -> bool:
    if host == socket.gethostname():
        return process_alive(pid, started=pid_started)
    if heartbeat is None:
        return True
    try:
        return time.time() - heartbeat.stat().st_mtime < HEARTBEAT_TIMEOUT_S
    except FileNotFoundError:
        return False


def _damaged_processes(con: duckdb.DuckDBPyConnection) -> set[tuple[str, int]]:
    return {
        (host, pid)
        for host, pid in con.execute(
            "SELECT DISTINCT host, pid FROM wb_spool_damage WHERE host IS NOT NULL"
        ).fetchall()
    }


def killed_error(host: str, pid: int) -> str:
    """The error of a run whose process died without ending it."""
    return (
        f"The process that ran it (pid {pid} on {host}) stopped without ending the run: it "
        "was killed or crashed."
    )


def damaged_error(host: str, pid: int) -> str:
    """The error of a run whose process left damaged journal bytes behind: its end may have
    been in them, so "killed" could be false."""
    return (
        f"Part of the journal of its process (pid {pid} on {host}) was damaged; the run's end "
        "and whatever was logged in that part are lost (the bytes are in spool/corrupt/ on "
        f"{host}; `workbench doctor` lists them)."
    )


def reap_dead_runs(con: duckdb.DuckDBPyConnection, heartbeats: Path | None) -> int:
    """Mark ``running`` runs whose owning process is gone as ``killed``; return how many.

    A run whose process left damaged journal bytes behind is marked ``failed`` instead, with
    an error that says so: its end may have been recorded in the damaged part, so "killed"
    could be false.
    """
    rows = con.execute(
        "SELECT run_id, proc_id, host, pid, pid_started FROM wb_runs "
        "WHERE status = 'running' AND proc_id IS NOT NULL"
    ).fetchall()
    if not rows:
        return 0
    verdicts: dict[str, tuple[bool, float | None]] = {}
    dead: list[tuple[str, str, dt.datetime, str]] = []
    damaged: set[tuple[str, int]] | None = None
    for run_id, proc_id, host, pid, pid_started in rows:
        if proc_id not in verdicts:
            beat = heartbeats / proc_id.replace(":", "_") if heartbeats else None
            alive = _process_alive(host, pid, pid_started, beat)
            last_seen = None
            if not alive and beat is not None and beat.exists():
                last_seen = beat.stat().st_mtime
            verdicts[proc_id] = (alive, last_seen)
        alive, last_seen = verdicts[proc_id]
        if alive:
            continue
        end = dt.datetime.fromtimestamp(last_seen or time.time(), dt.UTC).replace(tzinfo=None)
        damaged = _damaged_processes(con) if damaged is None else damaged
        if (host, pid) in damaged:
            status, error = "failed", damaged_error(host, pid)
        else:
            status, error = "killed", killed_error(host, pid)
        dead.append((run_id, status, end, error))
    if dead:
        con.executemany(
            "UPDATE wb_runs SET status = ?, end_time = ?, error = ? "
            "WHERE run_id = ? AND status = 'running'",
            [(status, end, error, run_id) for run_id, status, end, error in dead],
        )
    if heartbeats is not None:
        for proc_id, (alive, _) in verdicts.items():
            if not alive:
                (heartbeats / proc_id.replace(":", "_")).unlink(missing_ok=True)
    return len(dead)


def heartbeat_file(folder: Path, proc_id: str) -> Path:
    """Where the heartbeat of ``proc_id`` lives (colons are awkward on some filesystems)."""
    return folder / proc_id.replace(":", "_")


def touch(path: Path) -> None:
    """Create or refresh a heartbeat file."""
    try:
        os.utime(path)
    except FileNotFoundError:
        path.touch()


@dataclass
class Progress:
    """What one ingest pass did: batches applied, damage found, the offset reached in each
    journal, and whether the size limit left bytes for another pass."""

    batches: int = 0
    damaged: int = 0
    offsets: dict[str, int] = field(default_factory=dict)
    more: bool = False


def ingest_journals(
    con: duckdb.DuckDBPyConnection,
    spool: Spool,
    *,
    max_bytes: int | None = None,
    priority: set[str] | frozenset[str] = frozenset(),
    rotate: int = 0,
) -> Progress:
    """Apply complete journal records not yet ingested: all of the journals named in
    ``priority`` (this process's own, so it reads its writes), and about ``max_bytes`` of the
    others (None: all; 0: none; at least one record); delete finished journals.

    The others are taken in turn starting at the ``rotate``-th, so that successive passes with
    a small ``max_bytes`` serve every journal. Damaged bytes are copied to ``spool/corrupt/``,
    recorded in ``wb_spool_damage`` and skipped.
    """
    progress = Progress()
    journals = spool.journals()
    mine = [p for p in journals if Spool.key(p) in priority]
    others = [p for p in journals if Spool.key(p) not in priority]
    if others and max_bytes != 0:
        turn = rotate % len(others)
        mine += others[turn:] + others[:turn]
    if not mine:
        return progress
    offsets = dict(con.execute('SELECT journal, "offset" FROM wb_spool_offsets').fetchall())
    gone: dict[Path, bool] = {}
    budget = 1 << 62 if max_bytes is None else max_bytes
    batches: list[Batch] = []
    damage: list[tuple[Any, ...]] = []
    for path in mine:
        key = Spool.key(path)
        start = offsets.get(key, 0)
        limited = key not in priority
        if limited and budget <= 0:
            progress.offsets[key] = start
            progress.more = progress.more or spool.pending_bytes(path, start) > 0
            continue
        progress.offsets[key] = start
        nothing_new = spool.pending_bytes(path, start) == 0 and not path.name.endswith(SEALED)
        if nothing_new and not spool.writer_gone(path):
            continue  # only a dead writer's journal needs a look then (to be retired)
        gone[path] = spool.writer_gone(path)  # before reading: see Spool.writer_gone
        found = spool.read(
            path, start, writer_gone=gone[path], max_bytes=budget if limited else 1 << 62
        )
        if limited:
            budget -= found.offset - start
        batches += [entry.batch for entry in found.entries]
        damage += [quarantine(spool, path, bad) for bad in found.damage]
        progress.offsets[key] = found.offset
        progress.more = progress.more or not found.at_eof
    reached = {k: v for k, v in progress.offsets.items() if v != offsets.get(k, 0)}
    if reached:
        apply_batches(con, batches, reached, damage)
    progress.batches, progress.damaged = len(batches), len(damage)
    for path, writer_gone in gone.items():
        key = Spool.key(path)
        end = progress.offsets.get(key) or offsets.get(key) or 0
        if writer_gone and spool.pending_bytes(path, end) == 0 and path.exists():
            path.unlink(missing_ok=True)
            con.execute("DELETE FROM wb_spool_offsets WHERE journal = $k", {"k": key})
    return progress


def quarantine(spool: Spool, path: Path, bad: Damage) -> tuple[Any, ...]:
    """Keep damaged bytes aside, say so, and return the ``wb_spool_damage`` row (the local
    store's ingest and the team store's shipper both record it)."""
    copy = spool.quarantine(path, bad)
    logger.warning(
        "Journal %s: bytes %d-%d are %s; they are skipped and kept in %s. %s",
        path.name,
        bad.start,
        bad.end,
        bad.reason,
        copy,
        _damage_consequence(bad, sealed=path.suffix == SEALED),
    )
    key = Spool.key(path)
    host, pid = journal_owner(key) or (None, None)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return (key, bad.start, bad.end, bad.reason, str(copy), host, pid, now)


def _damage_consequence(bad: Damage, *, sealed: bool) -> str:
    if bad.reason.startswith("an incomplete record at the end") and not sealed:
        return (
            "Its process died: if it was killed during this write, that write was never "
            "acknowledged and nothing is lost; if the file was cut, the record in it is lost."
        )
    return "Whatever was logged in them is lost; every record around them is kept."
