"""The default Optuna storage: a journal in the store folder, safe when writers die."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import optuna
import pytest

import workbench as wb
from workbench.sweeps._storage import (
    FileJournalBackend,
    journal_path,
    open_journal,
    redact,
    resolve_storage,
)


def test_journal_path_is_per_sweep_and_safe(tmp_path: Path) -> None:
    a, b = journal_path(tmp_path, "lr search/v1"), journal_path(tmp_path, "lr search?v1")
    assert a != b and a.parent == tmp_path / "optuna"
    assert a.name.startswith("lr_search_v1-") and a.suffix == ".journal"


def test_a_torn_tail_is_cut_before_the_next_append(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.journal"
    study = optuna.create_study(study_name="s", storage=open_journal(path))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    with open(path, "ab") as f:  # a writer killed in the middle of a record
        f.write(b'{"op_code": 4, "worker_id": "dead", "trial_id"')
    again = optuna.load_study(study_name="s", storage=open_journal(path))
    again.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert "unfinished record" in caplog.text
    fresh = optuna.load_study(study_name="s", storage=open_journal(path))
    assert len(fresh.trials) == 5
    assert path.read_bytes().endswith(b"\n")


def _die_while_appending(path: str, holding: object) -> None:
    """Append one record, then start another and stop halfway, holding the lock, until killed."""
    backend = FileJournalBackend(path)
    backend.append_logs([{"op_code": 0, "worker_id": "w", "payload": "complete"}])
    real_write = os.write

    def write_half_and_hang(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[: len(data) // 2])
        holding.set()  # type: ignore[attr-defined]
        threading.Event().wait()
        return 0

    os.write = write_half_and_hang  # type: ignore[assignment]  # this child process only
    backend.append_logs([{"op_code": 0, "worker_id": "w", "payload": "torn"}])


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")  # 3.12+
def test_the_lock_dies_with_its_holder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "j.journal")
    ctx = multiprocessing.get_context("fork")
    holding = ctx.Event()
    writer = ctx.Process(target=_die_while_appending, args=(path, holding))
    writer.start()
    assert holding.wait(120)  # it holds the lock, with half a record written
    assert writer.pid is not None
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    lock = os.open(path + ".flock", os.O_RDWR)
    try:  # free at once: Optuna's lock file would stay taken for its 30 s grace period
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        os.close(lock)
    FileJournalBackend(path).append_logs([{"op_code": 0, "worker_id": "me"}])
    lines = Path(path).read_bytes().split(b"\n")
    assert lines[-1] == b"" and b'"complete"' in lines[0] and b'"me"' in lines[1]
    assert len(lines) == 3 and "unfinished record" in caplog.text


def _optimize(path: str, n: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="shared", storage=open_journal(Path(path)))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")  # 3.12+
def test_processes_share_one_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    optuna.create_study(study_name="shared", storage=open_journal(path))
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_optimize, args=(str(path), 25)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    trials = optuna.load_study(study_name="shared", storage=open_journal(path)).trials
    assert len(trials) == 75
    assert sorted(t.number for t in trials) == list(range(75))
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}


def test_fsync_is_batched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real(fd))
    backend = FileJournalBackend(str(tmp_path / "j.journal"), fsync_interval=3600)
    for _ in range(50):
        backend.append_logs([{"op_code": 0}])
    assert calls == []
    backend.sync()
    assert len(calls) == 1
    every = FileJournalBackend(str(tmp_path / "k.journal"), fsync_interval=0)
    every.append_logs([{"op_code": 0}])
    assert len(calls) == 2


def test_resolve_storage_forms(tmp_path: Path) -> None:
    default = resolve_storage(None, tmp_path, "s")
    assert default.label == "journal" and default.local
    path = resolve_storage(str(tmp_path / "x.journal"), None, "s")
    assert path.local and (tmp_path / "x.journal").exists()
    rdb = resolve_storage(f"sqlite:///{tmp_path / 'o.db'}", None, "s")
    assert isinstance(rdb.storage, optuna.storages.RDBStorage) and not rdb.local
    given = optuna.storages.InMemoryStorage()
    assert resolve_storage(given, None, "s").storage is given
    with pytest.raises(wb.InvalidParameterError, match="no folder"):
        resolve_storage(None, None, "s")
    with pytest.raises(wb.InvalidParameterError, match="grpc://host:port"):
        resolve_storage("grpc://nohost", None, "s")


def test_redact_hides_passwords() -> None:
    assert redact("postgresql+psycopg2://bob:s3cret@db:5432/opt") == (
        "postgresql+psycopg2://bob:***@db:5432/opt"
    )
    assert "s3cret" not in redact("weird://bob:s3cret@host")
