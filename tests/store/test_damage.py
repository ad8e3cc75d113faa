"""Damaged journals cost the damaged record and nothing else; damage is kept aside, reported
once, never re-read, and never taken for a dead process."""

from __future__ import annotations

import logging
import os
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.store import _ingester
from workbench.store._spool import HEADER, MAGIC, Spool, scan
from workbench.store.batch import METRIC_SCHEMA, Batch

DEAD_PID = 4_194_303  # above Linux's pid_max: never a live process


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background ingest: journals are read when the test reads, after it damaged them."""
    monkeypatch.setattr(_ingester.Ingester, "ensure_running", lambda self: None)


@pytest.fixture
def client(tmp_path: Path, quiet: None) -> Iterator[wb.Workbench]:
    client = wb.Workbench(tmp_path / "store")
    yield client
    client.close()


def _journal(client: wb.Workbench) -> Path:
    (journal,) = client.store.spool.journals()  # type: ignore[attr-defined]
    return journal


def _log(run: wb.ActiveRun, steps: range) -> None:
    for step in steps:
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run._recorder.flush()


def test_garbage_in_a_live_journal_costs_nothing(
    client: wb.Workbench, caplog: pytest.LogCaptureFixture
) -> None:
    with client.start_run("damage") as run:
        _log(run, range(2_500))
        with open(_journal(client), "ab") as f:  # something else writes into our journal
            f.write(os.urandom(64))
        _log(run, range(2_500, 5_000))
    with caplog.at_level(logging.WARNING, logger="workbench.store"):
        history = client.get_metric_history(run.run_id, "loss")
    assert sorted(history["step"]) == list(range(5_000))
    assert client.get_run(run.run_id).status.value == "finished"
    health = client.store.doctor()  # type: ignore[attr-defined]
    assert [(d.end - d.start, d.reason) for d in health.damage] == [
        (64, "bytes that are not a record")
    ]
    assert Path(health.damage[0].copy).stat().st_size == 64
    assert sum("are bytes that are not a record" in r.message for r in caplog.records) == 1


def test_a_record_cut_short_in_a_live_journal_costs_that_record(client: wb.Workbench) -> None:
    with client.start_run("damage") as run:
        _log(run, range(1_000))
        _log(run, range(1_000, 2_000))
        journal = _journal(client)
        os.truncate(journal, journal.stat().st_size - 5)  # the second batch loses 5 bytes
        _log(run, range(2_000, 3_000))
    steps = sorted(client.get_metric_history(run.run_id, "loss")["step"])
    assert steps == [*range(1_000), *range(2_000, 3_000)]
    assert client.get_run(run.run_id).status.value == "finished"
    (damage,) = client.store.doctor().damage  # type: ignore[attr-defined]
    assert damage.reason == "a record cut short"


def _foreign_journal(spool_dir: Path, *, sealed: bool, points: int = 1_000) -> tuple[Path, str]:
    """A journal of a process that is gone: a run with ``points`` points in two batches, and
    its end (finished) in the second."""
    run_id = "r" + os.urandom(8).hex()
    start = Batch()
    start.records["runs"].append(
        {
            "run_id": run_id,
            "experiment": "damage",
            "name": "foreign",
            "parent_id": None,
            "start_time": 1_700_000_000_000_000,
            "proc_id": f"{socket.gethostname()}:{DEAD_PID}:x",
            "host": socket.gethostname(),
            "pid": DEAD_PID,
            "pid_started": 1.0,
            "context": "{}",
        }
    )
    batches = [start, Batch()]
    for i, batch in enumerate(batches):
        n = points // 2
        batch.metrics = pa.table(
            [
                Batch.constant_label(run_id, n),
                Batch.constant_label("loss", n),
                pa.array(range(i * n, (i + 1) * n), pa.int64()),
                pa.array([0.5] * n, pa.float64()),
                pa.array([1_700_000_000_000_000] * n, pa.timestamp("us")),
            ],
            schema=METRIC_SCHEMA,
        )
    batches[1].records["run_updates"].append(
        {"run_id": run_id, "status": "finished", "end_time": 1_700_000_001_000_000}
    )
    name = f"{1:020d}-{socket.gethostname()}-{DEAD_PID}" + (".sealed" if sealed else ".journal")
    path = spool_dir / name
    with open(path, "wb") as f:
        for batch in batches:
            payload = batch.to_ipc()
            f.write(HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload)
    return path, run_id


def test_a_cut_sealed_journal_is_reported_retired_and_not_called_killed(
    client: wb.Workbench, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = client.store.root / "spool"  # type: ignore[attr-defined]
    path, run_id = _foreign_journal(spool_dir, sealed=True)
    os.truncate(path, path.stat().st_size - 5)
    with caplog.at_level(logging.WARNING, logger="workbench.store"):
        client.flush()
    run = client.get_run(run_id)
    assert len(client.get_metric_history(run_id, "loss")) == 500  # the first batch
    assert run.status.value == "failed"  # its end was in the damaged part: not "killed"
    assert "journal of its process" in (run.error or "") and "damaged" in (run.error or "")
    assert not path.exists(), "a damaged journal must not stay in the spool to be re-read"
    (damage,) = client.store.doctor().damage  # type: ignore[attr-defined]
    assert damage.reason == "an incomplete record at the end"
    assert (spool_dir / "corrupt").is_dir() and Path(damage.copy).exists()
    messages = [r.message for r in caplog.records if "incomplete record" in r.message]
    assert len(messages) == 1 and "Whatever was logged in them is lost" in messages[0]
    client.flush()  # nothing is read twice
    assert len(client.store.doctor().damage) == 1  # type: ignore[attr-defined]


def test_a_killed_writers_cut_journal_says_what_may_be_lost(
    client: wb.Workbench, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = client.store.root / "spool"  # type: ignore[attr-defined]
    path, _ = _foreign_journal(spool_dir, sealed=False)
    os.truncate(path, path.stat().st_size - 5)
    with caplog.at_level(logging.WARNING, logger="workbench.store"):
        client.flush()
    (message,) = [r.message for r in caplog.records if "incomplete record" in r.message]
    assert "if the file was cut, the record in it is lost" in message
    assert "nothing acknowledged is lost" not in message.split(";")[0]


def test_a_store_folder_holds_one_database(tmp_path: Path) -> None:
    wb.DuckDBStore(tmp_path / "one.duckdb").close()
    with pytest.raises(wb.StoreError, match=r"already holds the workbench store 'one.duckdb'"):
        wb.DuckDBStore(tmp_path / "two.duckdb")
    assert not (tmp_path / "two.duckdb").exists()
    wb.DuckDBStore(tmp_path / "one.duckdb").close()  # the folder's own database still opens
    wb.DuckDBStore(tmp_path / "elsewhere" / "two.duckdb").close()


def _record(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _batch(n: int) -> bytes:
    batch = Batch()
    batch.records["tags"].append({"run_id": f"r{n}", "key": "k", "value": str(n)})
    return _record(batch.to_ipc())


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=8),
    hit=st.integers(min_value=0, max_value=7),
    garbage=st.binary(min_size=1, max_size=80),
    mode=st.sampled_from(["insert", "overwrite", "cut"]),
)
def test_scanning_recovers_every_record_the_damage_did_not_touch(
    n: int, hit: int, garbage: bytes, mode: str
) -> None:
    """Damage inside (or between) records of a journal whose writer is gone: every record it
    does not overlap is read back, and the damage is reported as ranges that cover it."""
    records = [_batch(i) for i in range(n)]
    hit %= n
    starts = [sum(len(r) for r in records[:i]) for i in range(n)]
    data = b"".join(records)
    at = starts[hit] + len(records[hit]) // 2
    if mode == "insert":
        data = data[:at] + garbage + data[at:]
    elif mode == "overwrite":
        data = data[:at] + garbage + data[at + len(garbage) :]
    else:
        data = data[:at] + data[at + len(garbage) :]
    result = scan(data, 0, at_eof=True, writer_gone=True)
    values = sorted(int(e.batch.records["tags"][0]["value"]) for e in result.entries)
    spoiled = {
        i for i in range(n) if starts[i] < at + len(garbage) and at < starts[i] + len(records[i])
    }
    assert set(range(n)) - spoiled <= set(values) <= set(range(n))
    assert result.offset == len(data)
    assert result.damage and all(d.start < d.end for d in result.damage)


def test_bad_bytes_at_the_end_of_a_live_journal_wait_for_their_writer() -> None:
    """An unfinished write looks like damage until its writer is gone: nothing is skipped."""
    data = _batch(0) + _batch(1)[:20]
    live = scan(data, 0, at_eof=True, writer_gone=False)
    assert len(live.entries) == 1 and live.damage == [] and live.offset == len(_batch(0))
    gone = scan(data, 0, at_eof=True, writer_gone=True)
    assert len(gone.entries) == 1 and gone.offset == len(data) and len(gone.damage) == 1


def test_spool_read_widens_past_its_size_limit(tmp_path: Path) -> None:
    path = tmp_path / f"{1:020d}-{socket.gethostname()}-{DEAD_PID}.sealed"
    path.write_bytes(_batch(0) + _batch(1))
    found = Spool(tmp_path).read(path, 0, writer_gone=True, max_bytes=8)
    assert len(found.entries) == 1 and not found.at_eof


def test_doctor_on_the_command_line(
    client: wb.Workbench, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.cli import main

    path, _ = _foreign_journal(client.store.root / "spool", sealed=True)  # type: ignore[attr-defined]
    os.truncate(path, path.stat().st_size - 5)
    store = str(client.store.root)  # type: ignore[attr-defined]
    assert main(["--store", store, "doctor", "--sync"]) == 0
    out = capsys.readouterr().out
    assert "1 damaged range(s)" in out and "an incomplete record at the end" in out
    assert main(["--store", store, "doctor", "--strict", "--format", "json"]) == 1
    assert '"reason": "an incomplete record at the end"' in capsys.readouterr().out
