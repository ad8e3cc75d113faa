"""Stores that cannot be written, files held by other programs, and a full disk: reads keep
working, and every failure says what happened and what to do.

The read-only mount and the full disk need a real filesystem of their own (``mount``, as root,
which CI is); the other user's store needs root to hand files to another user and to drop the
capability that lets root write anyway. Elsewhere those tests are skipped with the reason."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench as wb

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="mounting and chown need root (CI runs as root)")


def _sh(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def _filled_store(path: Path) -> str:
    client = wb.Workbench(path)
    with client.start_run("kept", name="before") as run:
        run.log_params({"lr": 0.1})
        for step in range(100):
            run.log_metric("loss", 1 / (step + 1), step=step)
    client.flush()
    client.close()
    return run.run_id


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    source, mounted = tmp_path / "store", tmp_path / "ro"
    run_id = _filled_store(source)
    mounted.mkdir()
    _sh("mount", "--bind", str(source), str(mounted))
    try:
        _sh("mount", "-o", "remount,bind,ro", str(mounted))
        yield mounted, run_id
    finally:
        _sh("umount", str(mounted))


@needs_root
def test_a_store_on_a_read_only_mount_is_readable(read_only_mount: tuple[Path, str]) -> None:
    mounted, run_id = read_only_mount
    store = wb.DuckDBStore(mounted)
    assert store.read_only
    client = wb.Workbench(store)
    try:
        runs = client.search_runs("kept")
        assert list(runs["run_id"]) == [run_id]
        assert client.get_run(run_id).params == {"lr": 0.1}
        assert len(client.get_metric_history(run_id, "loss")) == 100
        assert client.sql("select count(*) as n from metrics")["n"][0] == 1
        with pytest.raises(wb.ReadOnlyStoreError, match=r"read-only.*set_store"):
            client.start_run("kept")
        with pytest.raises(wb.ReadOnlyStoreError, match="open read-only"):
            store.create_experiment("new")
    finally:
        client.close()


@needs_root
def test_another_users_store_is_readable(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_id = _filled_store(store)
    _sh("chown", "-R", "nobody", str(store))
    script = textwrap.dedent(
        f"""
        import workbench as wb
        store = wb.DuckDBStore({str(store)!r})
        assert store.read_only
        client = wb.Workbench(store)
        print(list(client.search_runs("kept")["run_id"]), client.get_run({run_id!r}).status.value)
        try:
            client.start_run("kept")
        except wb.ReadOnlyStoreError as exc:
            print("refused:", exc)
        """
    )
    done = subprocess.run(  # root, but without the capabilities that let root write anything
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search,-fowner,-chown",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"['{run_id}'] finished"
    assert lines[1].startswith("refused: The store") and "read-only" in lines[1]


def test_a_program_holding_the_file_is_named(tmp_path: Path) -> None:
    wb.DuckDBStore(tmp_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(tmp_path / 'workbench.duckdb')!r})\n"
            "print('holding', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(wb.StoreBusyError) as raised:
            wb.DuckDBStore(tmp_path, lock_timeout=1.0)
        message = str(raised.value)
        assert f"pid {holder.pid}" in message
        assert "duckdb.connect" in message and "read_only=True" in message
    finally:
        holder.kill()
        holder.communicate()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    _sh("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        _sh("umount", "-l", str(disk))


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


@needs_root
def test_a_full_disk_is_reported_once_reads_go_on_and_nothing_is_lost(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = wb.Workbench(small_disk / "store")
    try:
        with client.start_run("disk", name="before") as run:
            run.log_metric("m", 1.0)
        client.flush()
        filler = _fill(small_disk)
        with caplog.at_level(logging.WARNING, logger="workbench"):
            run = client.start_run("disk", name="during")
            for step in range(20_000):
                run.log_metric("m", float(step), step=step)
            time.sleep(0)  # the flusher meets the full disk from here on
            deadline = time.monotonic() + 30
            while not any("could not write" in r.message for r in caplog.records):
                assert time.monotonic() < deadline, "the flusher never reported the full disk"
                time.sleep(0.05)
            waited = time.monotonic() + 2.0  # several flush intervals on a full disk
            while time.monotonic() < waited:
                run.log_metric("m", 0.0)  # logging goes on: kept in memory
                time.sleep(0.01)
            names = set(client.search_runs("disk")["name"])  # reads go on
        assert "before" in names
        reports = [r for r in caplog.records if "could not write" in r.message]
        assert len(reports) == 1, [r.message for r in reports]
        filler.unlink()
        run.end()
        client.flush()
        history = client.get_metric_history(run.run_id, "m")
        assert set(range(20_000)) <= set(history["step"])
        assert client.get_run(run.run_id).status.value == "finished"
    finally:
        client.close()
