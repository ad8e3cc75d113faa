"""A throw-away PostgreSQL server for the tests: the real engine, on a free loopback port.

Started once per test session (``postgres`` fixture in ``tests/conftest.py``) as the
``postgres`` OS user when the tests run as root (initdb refuses root), in a folder under the
system temp dir (pytest's are private to root), with ``fsync=off`` (a test server need not
survive a power cut). Each test that needs isolation takes a database of its own
(:meth:`PostgresServer.new_database`). ``scripts/apt-packages.txt`` lists the Debian package;
``scripts/test`` installs it.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailable(Exception):
    """PostgreSQL is not installed here (the reason says what to install)."""


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One server cluster: ``start()``, ``url(database)``, ``new_database()``, ``stop()``."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if self.initdb is None or self.pg_ctl is None:
            raise PostgresUnavailable("PostgreSQL is not installed: apt-get install postgresql")
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root without runuser")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._names = itertools.count(1)

    def _run(self, *args: str, timeout: float = 660) -> None:
        subprocess.run([*self.as_postgres, *args], check=True, capture_output=True, timeout=timeout)

    def start(self) -> PostgresServer:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        assert self.initdb is not None and self.pg_ctl is not None
        self._run(
            self.initdb,
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self._run(*self._start_command())
        return self

    def _start_command(self) -> list[str]:
        """The ``pg_ctl start`` command: waits (``-w``) until the server takes connections."""
        assert self.pg_ctl is not None
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        return [
            self.pg_ctl,
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "log"),
            "-w",
            "-t",
            "600",
            "start",
        ]

    def url(self, database: str = "postgres", *, driver: str = "") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its name."""
        import psycopg

        name = f"wb_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return name

    def halt(self) -> None:
        """Stop the server at once, as a crash or an outage would (``resume`` brings it back)."""
        assert self.pg_ctl is not None
        subprocess.run(
            [*self.as_postgres, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )

    def resume(self) -> None:
        """Start the halted server again (it recovers from its write-ahead log)."""
        self._run(*self._start_command())

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A started server, stopped and removed afterwards; the test is skipped, saying why,
    where PostgreSQL is not installed."""
    import pytest

    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    server.start()
    try:
        yield server
    finally:
        server.stop()
