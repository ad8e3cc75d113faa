"""Journals shipped to the team store on a real PostgreSQL server: the same rows as the local
store makes of the same batches, exactly once with several shippers at a time, and journals
removed once their writer is gone and all is shipped."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from _postgres import PostgresServer

from workbench.store import _database, _ingest, _pg, _pg_ingest
from workbench.store._spool import Spool
from workbench.store.batch import METRIC_SCHEMA, Batch

pytestmark = pytest.mark.slow

T0 = 1_796_000_000_000_000  # microseconds since the epoch


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    url = postgres.url(postgres.new_database())
    with _pg.connect(url) as con:
        _pg.ensure_schema(con, url)
    return url


def _spool(folder: Path) -> Spool:
    folder.mkdir(exist_ok=True)
    return Spool(folder)


def local_store(batches: list[Batch]) -> duckdb.DuckDBPyConnection:
    """An in-memory local store (DuckDB) with ``batches`` applied, to compare against."""
    local = duckdb.connect()
    _database.migrate(local, "memory", 0)
    _ingest.apply_batches(local, batches)
    return local


def _points(run_id: str, key: str, steps: list[int], values: list[float]) -> pa.Table:
    n = len(steps)
    return pa.table(
        {
            "run_id": Batch.constant_label(run_id, n),
            "key": Batch.constant_label(key, n),
            "step": pa.array(steps, pa.int64()),
            "value": pa.array(values, pa.float64()),
            "timestamp": pa.array([T0 + 1000 * i for i in range(n)], pa.timestamp("us")),
        },
        schema=METRIC_SCHEMA,
    )


def _run(run_id: str, experiment: str, parent: str | None = None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "experiment": experiment,
        "name": f"name-{run_id}",
        "parent_id": parent,
        "start_time": T0,
        "proc_id": "vm:1:2",
        "host": "vm",
        "pid": 1,
        "pid_started": 1.5,
        "context": '{"git": {"commit": "abc"}, "note": "x, \\"quoted\\"\\nline"}',
    }


def _batches() -> list[Batch]:
    """A run's life over three flushes, with what the merge rules are about."""
    first, second, third = Batch(), Batch(), Batch()
    first.records["experiments"].append({"name": "team", "created_at": T0})
    first.records["runs"] += [_run("r1", "team"), _run("r2", "team", parent="r1")]
    first.records["params"] += [
        {"run_id": "r1", "key": "lr", "value": "0.1", "value_num": 0.1, "value_type": "float"},
        {"run_id": "r1", "key": "lr", "value": "0.9", "value_num": 0.9, "value_type": "float"},
        {"run_id": "r1", "key": "empty", "value": "", "value_num": None, "value_type": "str"},
        {"run_id": "r1", "key": "none", "value": None, "value_num": None, "value_type": "null"},
    ]
    first.records["tags"] += [{"run_id": "r1", "key": "stage", "value": "dev"}]
    first.metrics = _points("r1", "loss", [0, 1, 2], [3.0, 2.0, 1.0])
    second.records["tags"] += [{"run_id": "r1", "key": "stage", "value": "prod"}]
    second.records["datasets"].append(
        {
            "digest": "d1",
            "name": "iris",
            "source": "sklearn",
            "n_rows": 150,
            "n_cols": 5,
            "schema": '{"a": "float"}',
            "profile": "{}",
            "created_at": T0,
        }
    )
    second.records["inputs"].append(
        {"run_id": "r1", "digest": "d1", "name": "iris", "context": "training"}
    )
    for size in (10, 20):  # last write wins
        second.records["artifacts"].append(
            {
                "run_id": "r1",
                "path": "model.skops",
                "digest": f"sha{size}",
                "size": size,
                "media_type": "application/octet-stream",
                "created_at": T0 + size,
            }
        )
    second.metrics = pa.concat_tables(
        [_points("r1", "loss", [1, 5], [9.0, 0.5]), _points("r2", "acc", [0], [0.7])]
    )
    third.records["experiments"].append({"name": "other", "created_at": T0 + 5})
    third.records["runs"].append(_run("r3", "other"))
    third.records["run_updates"] += [
        {
            "run_id": "r1",
            "status": "finished",
            "end_time": T0 + 2_000_000,
            "error": None,
            "proc_id": None,
            "host": None,
            "pid": None,
            "pid_started": None,
        },
        {
            "run_id": "r2",
            "status": "failed",
            "end_time": T0 + 3_000_000,
            "error": "ValueError: bad\nthings",
            "proc_id": None,
            "host": None,
            "pid": None,
            "pid_started": None,
        },
    ]
    third.records["requests"].append(
        {
            "request_id": "q1",
            "deployment_id": "dep",
            "model_name": "m",
            "model_version": 2,
            "role": "primary",
            "received_at": T0 + 7,
            "latency_ms": 4.5,
            "status": 200,
            "n_rows": 1,
            "inputs": '{"columns": ["a"], "data": [[1]]}',
            "outputs": "[0]",
            "error": None,
        }
    )
    return [first, second, third]


VIEWS = {  # documented views, the columns compared (experiment ids are made per store)
    "experiments": "name, created_at, description, created_by",
    "runs": "run_id, name, experiment, parent_id, status, error, start_time, end_time, "
    "duration_s, host, context::VARCHAR AS context, created_by",
    "params": "*",
    "tags": "*",
    "metrics": "*",
    "metric_history": "*",
    "datasets": "digest, name, source, n_rows, n_cols, schema::VARCHAR AS schema, "
    "profile::VARCHAR AS profile, created_at",
    "run_inputs": "*",
    "artifacts": "*",
    "requests": "request_id, deployment_id, model_name, model_version, role, received_at, "
    "latency_ms, status, n_rows, inputs::VARCHAR AS inputs, outputs::VARCHAR AS outputs, error",
}


def _rows(execute: Any, view: str) -> list[tuple[Any, ...]]:
    rows = execute(f"SELECT {VIEWS[view]} FROM {view}")
    return sorted((tuple(None if pd.isna(v) else v for v in row) for row in rows), key=repr)


def test_shipped_batches_make_the_same_rows_as_the_local_store(url: str, tmp_path: Path) -> None:
    spool = _spool(tmp_path / "spool")
    for batch in _batches():
        spool.write(batch)
    spool.close()  # sealed: the writer is done
    with _pg.connect(url) as con:
        shipped = _pg_ingest.ship_journals(con, spool)
    assert shipped.batches == 3 and not shipped.more
    assert spool.journals() == [], "a sealed journal is removed once all of it is shipped"

    local = local_store(_batches())
    with psycopg.connect(url) as pg:
        for view in VIEWS:
            expected = _rows(lambda sql: local.execute(sql).fetchall(), view)
            got = _rows(lambda sql: pg.execute(sql).fetchall(), view)
            assert got == expected, view
        assert pg.execute("SELECT count(*) FROM wb_spool_offsets").fetchone() == (0,)
        # The merge rules, spelled out once: the first param wins, the last tag and artifact
        # win, the latest metric is the highest step (not the last logged), ends are recorded.
        one = lambda sql: pg.execute(sql).fetchone()  # noqa: E731
        assert one("SELECT value FROM params WHERE run_id = 'r1' AND key = 'lr'") == ("0.1",)
        assert one("SELECT value FROM tags WHERE key = 'stage'") == ("prod",)
        assert one("SELECT size FROM artifacts") == (20,)
        assert one("SELECT value, step, count, min, max FROM metrics WHERE key = 'loss'") == (
            0.5,
            5,
            5,
            0.5,
            9.0,
        )
        assert one("SELECT status FROM runs WHERE run_id = 'r2'") == ("failed",)
        assert one("SELECT count(DISTINCT experiment_id) FROM runs") == (2,)


def test_shippers_in_several_threads_ship_each_batch_once(url: str, tmp_path: Path) -> None:
    spools = [_spool(tmp_path / "spool") for _ in range(3)]  # three writers, one folder
    for i, spool in enumerate(spools):
        for j in range(20):
            batch = Batch()
            batch.metrics = _points(f"w{i}", "m", list(range(j * 100, j * 100 + 100)), [1.0] * 100)
            if j == 0:
                batch.records["runs"].append(_run(f"w{i}", "team"))
            spool.write(batch)
        spool.close()
    errors: list[BaseException] = []

    def ship() -> None:
        try:
            with _pg.connect(url) as con:
                while _pg_ingest.ship_journals(con, spools[0], max_bytes=4096).batches:
                    pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ship) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with psycopg.connect(url) as pg:
        counts = pg.execute(
            "SELECT p.run_id, count(*), count(DISTINCT p.step), max(m.count) "
            "FROM wb_metric_points p JOIN metrics m USING (run_id, key) GROUP BY 1 ORDER BY 1"
        ).fetchall()
        experiments = pg.execute("SELECT count(*) FROM experiments").fetchone()
    assert counts == [(f"w{i}", 2000, 2000, 2000) for i in range(3)]
    assert experiments == (1,), "one experiment, however many shippers created it at once"
    assert spools[0].journals() == []


def test_a_live_writers_journal_is_shipped_and_kept(url: str, tmp_path: Path) -> None:
    spool = _spool(tmp_path / "spool")
    batch = Batch()
    batch.records["runs"].append(_run("live", "team"))
    spool.write(batch)
    with _pg.connect(url) as con:
        assert _pg_ingest.ship_journals(con, spool).batches == 1
        assert _pg_ingest.ship_journals(con, spool).batches == 0, "nothing twice"
        assert len(spool.journals()) == 1, "this process may still append to it"
        spool.write(batch)  # the same batch again: the run is not doubled
        spool.close()
        assert _pg_ingest.ship_journals(con, spool).batches == 1
        with con.transaction():
            assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    assert spool.journals() == []


def test_a_journal_another_process_is_shipping_is_skipped_not_shipped_twice(
    url: str, tmp_path: Path
) -> None:
    spool = _spool(tmp_path / "spool")
    first = Batch()
    first.records["runs"].append(_run("r", "team"))
    spool.write(first)
    with _pg.connect(url) as con, psycopg.connect(url) as other:
        assert _pg_ingest.ship_journals(con, spool).batches == 1
        spool.write(Batch(metrics=_points("r", "m", [1], [1.0])))
        (key,) = (Spool.key(path) for path in spool.journals())
        with other.transaction():  # another shipper is in the middle of this journal
            other.execute(
                "SELECT * FROM wb_spool_offsets WHERE journal = %s FOR UPDATE", (key,)
            ).fetchall()
            assert _pg_ingest.ship_journals(con, spool).batches == 0  # skipped, not waited
        assert _pg_ingest.ship_journals(con, spool).batches == 1
        with con.transaction():
            assert con.execute("SELECT count(*) FROM metric_history").fetchone() == (1,)


def test_points_are_copied_in_binary_exactly(url: str) -> None:
    """Binary COPY keeps every point bit for bit: runs and keys of any length and script,
    interleaved; NaN and infinities; negative and huge steps; times before PostgreSQL's epoch
    (2000) and at the microsecond."""
    import numpy as np

    rng = np.random.default_rng(7)
    n = 5_000
    runs = ["r", "a-much-longer-run-id-" * 3, "ünïcode-运行"]
    keys = ["loss", "val/accuracy", "k" * 200]
    run_ids = [runs[i] for i in rng.integers(0, len(runs), n)]
    names = [keys[i] for i in rng.integers(0, len(keys), n)]
    values = rng.normal(size=n)
    values[:3] = [np.nan, np.inf, -np.inf]
    steps = rng.integers(-(2**62), 2**62, n)
    stamps = rng.integers(-(10**15), 4 * 10**15, n)  # 1938 to 2096, in microseconds
    points = pa.table(
        [
            Batch.labels(run_ids),
            Batch.labels(names),
            pa.array(steps, pa.int64()),
            pa.array(values, pa.float64()),
            pa.array(stamps, pa.timestamp("us")),
        ],
        schema=METRIC_SCHEMA,
    )
    with _pg.connect(url) as con, con.transaction():
        with con.cursor().copy("COPY wb_metric_points FROM STDIN (FORMAT binary)") as copy:
            copy.write(_pg_ingest.binary_points(points))
        got = con.execute(
            "SELECT run_id, key, step, value, "
            "(extract(epoch FROM timestamp) * 1000000)::BIGINT FROM wb_metric_points"
        ).fetchall()
    expected = list(
        zip(run_ids, names, steps.tolist(), values.tolist(), stamps.tolist(), strict=True)
    )
    key = lambda row: (row[0], row[1], row[2], row[4])  # noqa: E731
    assert len(got) == n
    for g, e in zip(sorted(got, key=key), sorted(expected, key=key), strict=True):
        assert g[:3] == e[:3] and g[4] == e[4]
        assert g[3] == e[3] or (np.isnan(g[3]) and np.isnan(e[3]))
