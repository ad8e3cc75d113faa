"""Shared fixtures: every test that logs gets its own store folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from _postgres import PostgresServer, running_server

import workbench
from workbench.store import _pg
from workbench.store.postgres import PostgresStore


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL server for the session (skips if PostgreSQL is missing)."""
    with running_server() as server:
        yield server


@pytest.fixture
def team_store(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PostgresStore]:
    """A team store on a fresh database of the session's server, with this machine's journals
    (``XDG_CACHE_HOME``) in the test's folder; ``WORKBENCH_STORE`` names it, so child processes
    and ``workbench.start_run`` use it too."""
    url = postgres.url(postgres.new_database())
    monkeypatch.setenv("WORKBENCH_STORE", url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = PostgresStore(url)
    yield store
    store.close()


@pytest.fixture
def team_con(team_store: PostgresStore) -> Iterator[psycopg.Connection[Any]]:
    """A connection of its own to the team store's database (what another machine sees)."""
    with _pg.connect(team_store._url) as con:
        yield con


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh store folder, made the configured store for the test."""
    path = tmp_path / "store"
    workbench.set_store(path)
    yield path
    workbench.set_store(None)


@pytest.fixture(autouse=True)
def _no_ambient_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Never touch a store outside the test's temporary folder, nor one an earlier test set."""
    monkeypatch.delenv("WORKBENCH_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    workbench.set_store(None)
    yield
    workbench.set_store(None)


@pytest.fixture(autouse=True)
def _close_what_the_test_opened() -> Iterator[None]:
    """Close the clients and stores a test opened and left open: each keeps background threads
    (flusher, ingester, read host) that would otherwise run on, slowing every later test."""
    from workbench.store import duckdb as duckdb_module
    from workbench.tracking import _recorder
    from workbench.tracking import client as client_module

    clients = set(client_module._clients.values())
    recorders = set(_recorder._recorders)
    stores = set(duckdb_module._open_stores)
    yield
    for client in set(client_module._clients.values()) - clients:
        client.close()
    for recorder in set(_recorder._recorders) - recorders:
        recorder.close()
    for store in set(duckdb_module._open_stores) - stores:
        store.close()


_SPIN = "while True:\n    sum(range(10_000))\n"


@contextlib.contextmanager
def _spinning(n: int) -> Iterator[None]:
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(n)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@pytest.fixture
def busy_cpus() -> Callable[[int], AbstractContextManager[None]]:
    """``with busy_cpus(n):`` keeps ``n`` extra processes spinning on the CPU meanwhile."""
    return _spinning


@pytest.fixture(autouse=True)
def _sigint_left_alone() -> Iterator[None]:
    """A test that leaves Ctrl-C handled otherwise (ignored, or a handler of its own) errors,
    naming itself; the handler is put back so that later tests of interrupts are not fooled
    (in one full run, sweeps' interrupt tests and a served model's Ctrl-C failed that way)."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before:
        signal.signal(signal.SIGINT, before)
        pytest.fail(f"the test left SIGINT handled by {after!r} (it was {before!r})")


@pytest.fixture(autouse=True)
def _stress(request: pytest.FixtureRequest) -> Iterator[None]:
    """``WORKBENCH_STRESS=1``: tests marked ``slow`` run with one spinning process per core
    besides them (the busy CI machine the promises must hold on)."""
    level = os.environ.get("WORKBENCH_STRESS", "").strip()
    if not level.isdigit() or not int(level) or request.node.get_closest_marker("slow") is None:
        yield
        return
    with _spinning(int(level) * (os.cpu_count() or 1)):
        yield
