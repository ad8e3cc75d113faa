"""The local store's read queries run unchanged on the team store's PostgreSQL (through
``PgSession``'s translation) and answer exactly as on DuckDB, from the same batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from _postgres import PostgresServer
from test_postgres_ingest import _batches, _spool, local_store

from workbench.store import RunSearch, _pg, _pg_ingest, _read, _search
from workbench.store._pg_sql import PgSession, translate

pytestmark = pytest.mark.slow


@pytest.fixture
def both(postgres: PostgresServer, tmp_path: Path) -> Iterator[tuple[object, PgSession]]:
    """A DuckDB database and a PostgreSQL one, holding the same batches."""
    url = postgres.url(postgres.new_database())
    spool = _spool(tmp_path / "spool")
    for batch in _batches():
        spool.write(batch)
    spool.close()
    local = local_store(_batches())
    with _pg.connect(url) as con:
        _pg.ensure_schema(con, url)
        _pg_ingest.ship_journals(con, spool)
        con.commit()
        yield local, PgSession(con)


def _same_experiments(local: object, pg: PgSession) -> None:
    for kwargs in ({}, {"name": "team"}, {"name": "nope"}, {"include_deleted": True}):
        expected = _read.experiment_rows(local, **kwargs)  # type: ignore[arg-type]
        got = _read.experiment_rows(pg, **kwargs)  # type: ignore[arg-type]
        assert [(e.name, e.created_at) for e in got] == [
            (e.name, e.created_at) for e in expected
        ], kwargs


def test_snapshots_datasets_and_experiments_read_the_same(
    both: tuple[object, PgSession],
) -> None:
    local, pg = both
    _same_experiments(local, pg)
    for run_id in ("r1", "r2", "r3", "missing"):
        expected = _read.run_snapshot(local, run_id)  # type: ignore[arg-type]
        got = _read.run_snapshot(pg, run_id)  # type: ignore[arg-type]
        if expected is None:
            assert got is None
            continue
        assert got is not None
        # Experiment ids are made per store; everything else is the same.
        assert got.experiment_id != "" and expected.experiment_id != ""
        assert got.__class__(**{**vars(got), "experiment_id": ""}) == expected.__class__(
            **{**vars(expected), "experiment_id": ""}
        ), run_id
    assert _read.dataset(pg, "d1") == _read.dataset(local, "d1")  # type: ignore[arg-type]
    assert _read.dataset(pg, "nope") is None  # type: ignore[arg-type]


def test_metric_history_reads_the_same(both: tuple[object, PgSession]) -> None:
    local, pg = both
    cases = (((["r1", "r2"], None), 6), ((["r1"], ["loss"]), 5), ((["zz"], None), 0))
    for (run_ids, keys), points in cases:
        expected = _read.metric_history(local, run_ids, keys)  # type: ignore[arg-type]
        got = _read.metric_history(pg, run_ids, keys)  # type: ignore[arg-type]
        assert len(got) == points
        # DuckDB types the columns of an empty result as object
        pd.testing.assert_frame_equal(got, expected, check_dtype=points > 0)


def test_translation_keeps_literals_and_turns_list_contains_around() -> None:
    sql = "SELECT 'a%' LIKE x FROM t WHERE list_contains($ids, run_id) AND k = $key"
    assert translate(sql) == (
        "SELECT 'a%%' LIKE x FROM t WHERE (run_id = ANY(%(ids)s)) AND k = %(key)s"
    )


FLAT_SEARCHES = (
    RunSearch(),
    RunSearch(experiments=("team",)),
    RunSearch(filter="params.lr > 0.05"),
    RunSearch(filter="metrics.loss < 1 AND tags.stage = 'prod'"),
    RunSearch(filter="attributes.status = 'failed' OR name LIKE 'name-r3%'"),
    RunSearch(filter="params.empty = '' AND duration > 0"),
    RunSearch(filter="tags.stage IS NULL"),
    RunSearch(order_by=("metrics.loss DESC",)),
    RunSearch(order_by=("name DESC",), max_results=2, offset=1),
    RunSearch(columns=("params.lr", "metrics.loss", "tags.nope")),
)


@pytest.mark.parametrize("search", FLAT_SEARCHES, ids=repr)
def test_search_answers_the_same(both: tuple[object, PgSession], search: RunSearch) -> None:
    local, pg = both
    expected = _search.search_runs(local, search)  # type: ignore[arg-type]
    got = _search.search_runs(pg, search)  # type: ignore[arg-type]
    assert len(expected) > 0, "each search finds some runs (else it compares nothing)"
    assert got.attrs["total"] == expected.attrs["total"]
    pd.testing.assert_frame_equal(_values(got), _values(expected))


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    """The values, missing ones as None (the two stores' frames mark them NaN or None)."""
    return frame.astype(object).where(frame.notna(), None)
