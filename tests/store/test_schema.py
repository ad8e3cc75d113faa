"""Opening stores: fresh, current, newer-than-us, not-a-store; migrations run forward."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

import workbench as wb
from workbench.store import _schema
from workbench.store.duckdb import DuckDBStore


def test_store_written_by_a_newer_version_is_refused(tmp_path: Path) -> None:
    DuckDBStore(tmp_path).close()
    con = duckdb.connect(str(tmp_path / "workbench.duckdb"))
    con.execute("UPDATE wb_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(wb.StoreVersionError, match=r"schema version 99.*pip install -U"):
        DuckDBStore(tmp_path)


def test_a_foreign_duckdb_file_is_not_a_store(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "workbench.duckdb"))
    con.execute("CREATE TABLE sales (x INT)")
    con.close()
    with pytest.raises(wb.NotAWorkbenchStoreError, match="not a workbench store"):
        DuckDBStore(tmp_path)


def test_a_file_that_is_not_duckdb_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "workbench.duckdb").write_text("hello, I am a text file")
    with pytest.raises(wb.NotAWorkbenchStoreError, match="could not be opened"):
        DuckDBStore(tmp_path)


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("")
    with pytest.raises(wb.NotAWorkbenchStoreError, match="is a file"):
        DuckDBStore(tmp_path / "store")


def test_migrations_run_forward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    DuckDBStore(tmp_path).close()
    extra = ["ALTER TABLE wb_runs ADD COLUMN note VARCHAR"]
    monkeypatch.setattr(_schema, "MIGRATIONS", [*_schema.MIGRATIONS, extra])
    monkeypatch.setattr("workbench.store._database.MIGRATIONS", [*_schema.MIGRATIONS, extra])
    monkeypatch.setattr("workbench.store._database.SCHEMA_VERSION", _schema.SCHEMA_VERSION + 1)
    DuckDBStore(tmp_path).close()
    con = duckdb.connect(str(tmp_path / "workbench.duckdb"))
    version = con.execute("SELECT value FROM wb_meta WHERE key='schema_version'").fetchone()
    columns = [r[0] for r in con.execute("DESCRIBE wb_runs").fetchall()]
    con.close()
    assert version == (str(_schema.SCHEMA_VERSION + 1),)
    assert "note" in columns


def test_external_holder_makes_store_busy_not_broken(tmp_path: Path) -> None:
    DuckDBStore(tmp_path).close()
    holder = duckdb.connect(str(tmp_path / "workbench.duckdb"))  # same process: shared instance
    try:
        store = DuckDBStore(tmp_path, lock_timeout=0.5)
        assert store.list_experiments() == []
    finally:
        holder.close()


def test_journal_torn_by_a_killed_writer(tmp_path: Path) -> None:
    """A writer killed mid-write leaves a torn record: complete ones are kept, the file retired."""
    import socket

    from workbench.store._spool import HEADER, MAGIC
    from workbench.store.batch import Batch

    store = DuckDBStore(tmp_path)
    batch = Batch()
    batch.records["experiments"].append({"name": "from-dead-writer", "created_at": 0})
    payload = batch.to_ipc()
    import zlib

    record = HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
    dead = tmp_path / "spool" / f"{1:020d}-{socket.gethostname()}-4194303.journal"
    dead.write_bytes(record + record[: len(record) // 2])
    assert [e.name for e in store.list_experiments()] == ["from-dead-writer"]
    assert not dead.exists()


def test_failed_append_does_not_strand_later_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails halfway (disk full) is rolled back, so later appends stay readable."""
    import os as os_module

    store = DuckDBStore(tmp_path)
    client = wb.Workbench(store)
    with client.start_run("exp") as run:
        run.log_metric("m", 1.0)
    client._recorder.flush()
    real_write = os_module.write
    calls = {"n": 0}

    def flaky_write(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(fd, bytes(data)[:10])
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("workbench.store._spool.os.write", flaky_write)
    run2 = client.start_run("exp")
    with pytest.raises(wb.StoreError, match="No space left"):
        client._recorder.flush()
    run2.log_metric("m", 2.0)
    run2.end()  # retries the kept batch, then writes the end
    assert client.get_run(run2.run_id).metrics["m"] == 2.0
    assert client.get_run(run.run_id).metrics["m"] == 1.0


@pytest.mark.slow
def test_lease_is_shared_in_turn_by_processes(tmp_path: Path) -> None:
    """While one process keeps the database open between reads, another still gets its turn."""
    import subprocess
    import sys

    code = (
        "import sys, time, workbench as wb\n"
        f"wb.set_store({str(tmp_path)!r})\n"
        "t = time.perf_counter(); n = len(wb.search_runs('lease'))\n"
        "print(n, time.perf_counter() - t)\n"
    )

    def read_in_another_process() -> float:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        n, waited = out.stdout.split()
        assert int(n) == 1
        return float(waited)

    store = DuckDBStore(tmp_path, linger=0.25)
    client = wb.Workbench(store)
    with client.start_run("lease"):
        pass
    client.flush()
    store.close()
    baseline = read_in_another_process()  # the same read with nobody holding the file

    store = DuckDBStore(tmp_path, linger=0.25)
    client = wb.Workbench(store)
    assert len(client.search_runs("lease")) == 1  # this process now holds the lease
    waited = read_in_another_process()
    # A holder that kept the file would make it wait lock_timeout (60 s) and fail.
    assert waited < 5 * baseline + 2.0, (waited, baseline)
    for _ in range(20):  # our reads keep working while the other process comes and goes
        assert len(client.search_runs("lease")) == 1
    store.close()


def test_record_appended_just_before_its_writer_dies_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer appends a complete record and dies between the ingester's read and its
    liveness check: the record must be ingested next time, not deleted as a torn tail."""
    import socket
    import zlib

    from workbench.store import _spool
    from workbench.store._spool import HEADER, MAGIC
    from workbench.store.batch import Batch

    def record(name: str) -> bytes:
        batch = Batch()
        batch.records["experiments"].append({"name": name, "created_at": 0})
        payload = batch.to_ipc()
        return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload

    store = DuckDBStore(tmp_path)
    journal = tmp_path / "spool" / f"{1:020d}-{socket.gethostname()}-4194303.journal"
    journal.write_bytes(record("first"))
    liveness = iter([True])  # alive when first asked, dead from then on
    monkeypatch.setattr(_spool, "_writer_alive", lambda path: next(liveness, False))
    real_read = _spool.Spool.read

    def read_then_writer_appends_and_dies(
        self: _spool.Spool, path: Path, offset: int, **options: Any
    ) -> _spool.Scan:
        entries = real_read(self, path, offset, **options)
        with open(path, "ab") as f:
            f.write(record("last-words"))
        return entries

    monkeypatch.setattr(_spool.Spool, "read", read_then_writer_appends_and_dies)
    store.sync()
    monkeypatch.setattr(_spool.Spool, "read", real_read)
    names = sorted(e.name for e in store.list_experiments())
    assert names == ["first", "last-words"]
    assert not journal.exists()


def test_schema_5_names_who_created_the_runs_of_an_older_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs logged before schema 5 get ``created_by`` from the user and host they recorded."""
    with monkeypatch.context() as patch:
        patch.setattr("workbench.store._database.MIGRATIONS", _schema.MIGRATIONS[:4])
        patch.setattr("workbench.store._database.SCHEMA_VERSION", 4)
        wb.Workbench(tmp_path / "store").close()
    con = duckdb.connect(str(tmp_path / "store" / "workbench.duckdb"))
    con.execute("INSERT INTO wb_experiments VALUES ('e', 'old', now(), NULL, NULL)")
    for run_id, context in (("with", '{"user": "ada"}'), ("without", "{}")):
        con.execute(
            "INSERT INTO wb_runs (run_id, experiment_id, name, status, start_time, host, context)"
            " VALUES ($id, 'e', $id, 'finished', now(), 'lab-1', $c)",
            {"id": run_id, "c": context},
        )
    con.close()
    client = wb.Workbench(tmp_path / "store")
    rows = client.sql("SELECT run_id, created_by FROM runs ORDER BY run_id")
    assert rows["created_by"].tolist()[0] == "ada@lab-1"
    assert rows["created_by"].isna().tolist() == [False, True]  # no user recorded: unknown
    client.close()
