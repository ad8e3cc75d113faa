"""Damaged journals on a team store cost the damaged record and nothing else, as on the local
store: the shipper keeps the bytes aside in this machine's ``spool/corrupt/``, records them in
``wb_spool_damage`` (so ``doctor()`` lists them from any machine), never re-reads them, and the
runs of a process whose journal was damaged are ``failed``, not ``killed``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest
from _postgres import PostgresServer
from test_damage import _foreign_journal

import workbench as wb
from workbench.store import _pg_live
from workbench.store.postgres import PostgresStore

pytestmark = pytest.mark.slow


@pytest.fixture
def store(team_store: PostgresStore) -> PostgresStore:
    return team_store


@pytest.fixture
def con(team_con: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    return team_con


def test_garbage_in_a_live_journal_costs_nothing(
    store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    client = wb.Workbench(store)
    with client.start_run("damage") as run:
        for step in range(2_500):
            run.log_metric("loss", 1.0, step=step)
        run._recorder.flush()
        (journal,) = store.spool.journals()
        with open(journal, "ab") as f:  # something else writes into our journal
            f.write(os.urandom(64))
        for step in range(2_500, 5_000):
            run.log_metric("loss", 1.0, step=step)
    with caplog.at_level(logging.WARNING, logger="workbench.store"):
        assert store.sync()
    history = client.get_metric_history(run.run_id, "loss")
    assert sorted(history["step"]) == list(range(5_000))
    assert client.get_run(run.run_id).status.value == "finished"
    (damage,) = store.doctor().damage
    assert (damage.end - damage.start, damage.reason) == (64, "bytes that are not a record")
    assert Path(damage.copy).parent == store.spool.folder / "corrupt"
    assert Path(damage.copy).stat().st_size == 64
    assert sum("are bytes that are not a record" in r.message for r in caplog.records) == 1


def test_a_cut_sealed_journal_is_shipped_but_its_damage_and_its_run_failed(
    store: PostgresStore, con: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    path, run_id = _foreign_journal(store.spool.folder, sealed=True)
    os.truncate(path, path.stat().st_size - 5)  # the second batch, with the run's end, is cut
    with caplog.at_level(logging.WARNING, logger="workbench.store"):
        assert store.sync()
    assert not path.exists(), "a damaged journal must not stay in the spool to be re-read"
    assert len(store.get_metric_history([run_id])) == 500  # the first batch
    assert _pg_live.reap(con) == 1
    run = store.sql("SELECT status, error FROM runs WHERE run_id = $r", {"r": run_id})
    assert run["status"].tolist() == ["failed"]  # its end was in the damaged part
    assert "journal of its process" in run["error"][0] and "damaged" in run["error"][0]
    (damage,) = store.doctor().damage
    assert damage.reason == "an incomplete record at the end" and Path(damage.copy).exists()
    messages = [r.message for r in caplog.records if "incomplete record" in r.message]
    assert len(messages) == 1 and "Whatever was logged in them is lost" in messages[0]
    assert store.sync()  # nothing is read twice
    assert len(store.doctor().damage) == 1


def test_another_machine_sees_the_damage_this_machine_found(
    store: PostgresStore, postgres: PostgresServer, tmp_path: Path
) -> None:
    path, _ = _foreign_journal(store.spool.folder, sealed=True)
    os.truncate(path, path.stat().st_size - 5)
    assert store.sync()
    elsewhere = PostgresStore(store._url, local=tmp_path / "other-machine")
    try:
        (damage,) = elsewhere.doctor().damage
        assert damage.copy.startswith(str(store.spool.folder))  # where the bytes are kept
    finally:
        elsewhere.close()
