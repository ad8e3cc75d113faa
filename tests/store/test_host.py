"""Reads go to the process that holds the database: the ingester of a writing process, or the
store daemon once several processes share the store. Readers neither open the file nor wait
for it, read their own writes, and carry on when the host dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import workbench as wb
from workbench.store import _host
from workbench.store._holders import flock_holder_pids

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _host.AVAILABLE, reason="hosted reads need Linux"),
]

WRITER = """
import sys, threading, time
import workbench as wb
client = wb.connect(sys.argv[1])
run = client.start_run("hosted", name=sys.argv[2])
run.log_metric("m", 1.0)
client.flush()
print("ready", flush=True)
told = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), told.set()), daemon=True).start()
while not told.wait(0.01):  # keep logging until told to stop
    run.log_metric("m", 1.0)
run.end()
"""


def _holders(store: Path, name: str) -> list[int]:
    """Pids holding the flock on ``store/name``."""
    return flock_holder_pids(store / name)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(name: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / "store"), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.communicate("stop\n", timeout=60)
        else:
            process.communicate()  # closes the pipes


def test_another_process_reads_through_the_writer_and_reads_its_own_writes(
    tmp_path: Path, writers: Callable[[str], subprocess.Popen[str]]
) -> None:
    store_dir = tmp_path / "store"
    writer = writers("remote")
    _wait(lambda: _holders(store_dir, "ingest.lock"), 30, "the writer to take the ingest role")
    store = wb.DuckDBStore(store_dir)
    client = wb.Workbench(store)
    try:
        assert set(client.search_runs("hosted")["name"]) == {"remote"}
        assert client.search_runs("hosted", max_results=1, offset=1).attrs["total"] == 1
        with client.start_run("hosted", name="local") as run:
            run.log_metric("m", 2.0)
            assert client.get_run(run.run_id).metrics == {"m": 2.0}  # read-your-writes
        assert not store._lease.held, "reads were served by the host, not by opening the file"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        assert set(client.search_runs("hosted")["name"]) == {"remote", "local"}  # fell back
    finally:
        client.close()


Shared = tuple[Path, subprocess.Popen[str], subprocess.Popen[str], int]


@pytest.fixture
def shared(
    tmp_path: Path,
    writers: Callable[[str], subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> Shared:
    """Two writers share a store until its daemon (idle after 2 s) holds the ingest role."""
    monkeypatch.setenv("WORKBENCH_DAEMON_IDLE", "2")
    store_dir = tmp_path / "store"
    first, second = writers("first"), writers("second")
    _wait(lambda: _holders(store_dir, "daemon.lock"), 60, "the store daemon to start")
    (daemon,) = _holders(store_dir, "daemon.lock")
    assert "workbench.store._daemon" in Path(f"/proc/{daemon}/cmdline").read_text()
    _wait(lambda: _holders(store_dir, "ingest.lock") == [daemon], 60, "the hand-over")
    return store_dir, first, second, daemon


def test_the_daemon_takes_over_when_the_store_is_shared_and_leaves_when_idle(
    shared: Shared,
) -> None:
    store_dir, first, second, _ = shared
    client = wb.Workbench(store_dir)
    try:
        assert set(client.search_runs("hosted")["name"]) == {"first", "second"}
        for writer in (first, second):
            writer.communicate("stop\n", timeout=60)
            assert writer.returncode == 0
        _wait(lambda: not _holders(store_dir, "daemon.lock"), 60, "the idle daemon to exit")
        assert set(client.search_runs("hosted")["status"]) == {"finished"}
    finally:
        client.close()


def test_a_killed_daemon_is_replaced_by_its_standby_at_once(shared: Shared) -> None:
    store_dir, first, second, daemon = shared
    _wait(lambda: len(_holders(store_dir, "standby.lock")) == 1, 60, "the daemon's standby")
    (standby,) = _holders(store_dir, "standby.lock")
    os.kill(daemon, signal.SIGKILL)
    # The standby, not a writer, takes both roles; no new process had to start first.
    _wait(lambda: _holders(store_dir, "ingest.lock") == [standby], 30, "the standby's takeover")
    assert _holders(store_dir, "daemon.lock") == [standby]
    assert "workbench.store._daemon" in Path(f"/proc/{standby}/cmdline").read_text()
    store = wb.DuckDBStore(store_dir)
    client = wb.Workbench(store)
    try:
        assert set(client.search_runs("hosted")["name"]) == {"first", "second"}
        assert not store._lease.held, "the read was served by the new daemon"
        _wait(lambda: _holders(store_dir, "standby.lock"), 60, "a standby for the new daemon")
        (next_standby,) = _holders(store_dir, "standby.lock")
        for writer in (first, second):
            writer.communicate("stop\n", timeout=60)
            assert writer.returncode == 0
        # Idle, the daemon stops its standby before it goes, rather than leave it to take
        # over and idle on: when the daemon is gone, so is the standby.
        _wait(lambda: not _alive(standby), 60, "the idle daemon to exit")
        assert not _alive(next_standby), "the standby outlived the daemon"
        assert not _holders(store_dir, "daemon.lock")
        assert set(client.search_runs("hosted")["status"]) == {"finished"}
    finally:
        client.close()
