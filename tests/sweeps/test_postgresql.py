"""A sweep on a real PostgreSQL server (Optuna's RDB storage), as machines would share it.

Starts a throw-away cluster on a free loopback port (as the ``postgres`` OS user when the tests
run as root, which initdb requires) and runs two worker processes on one sweep through the
``postgresql+psycopg2://`` URL. Skipped, saying why, when PostgreSQL is not installed
(``scripts/apt-packages.txt`` lists it; ``scripts/test`` installs it).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sweep_checks import assert_tracked_once
from _sweep_objectives import busy

import workbench as wb
from workbench.sweeps import list_sweeps, load_sweep, sweep

pytestmark = pytest.mark.slow


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql")
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    # Not tmp_path: pytest's temporary folders are private to root (0700), and the server
    # runs as the postgres user. A folder directly under the system temp dir is reachable.
    folder = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    data = folder / "data"
    if as_postgres:
        shutil.chown(folder, "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 660}  # pg_ctl -t 600, below
    subprocess.run(
        [
            *as_postgres,
            initdb,
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        **run,
    )  # type: ignore[call-overload]
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_postgres,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",  # until the server accepts connections, however busy the machine
            "-t",
            "600",
            "start",
        ],
        **run,
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_on_postgresql(store_dir: Path, postgres_url: str) -> None:
    s = sweep(busy, n_trials=40, name="pg", n_workers=2, storage=postgres_url, progress=False)

    assert s.counts()["complete"] == 40
    assert_tracked_once(s)
    owners = {t.user_attrs["workbench.owner"] for t in s.study.trials}
    assert len(owners) == 2
    assert s.storage_label == postgres_url  # no password in this URL to hide

    # Another process (machine) continues it through the URL; the store lists it.
    more = sweep(busy, n_trials=45, name="pg", storage=postgres_url, progress=False)
    assert more.counts()["complete"] == 45 and more.parent_run_id == s.parent_run_id
    assert load_sweep("pg", storage=postgres_url).counts()["total"] == 45
    listed = list_sweeps().set_index("name").loc["pg"]
    assert listed["storage"] == postgres_url and listed["status"] == "finished"
    with pytest.raises(wb.NotFoundError, match="No sweep named 'nope'"):
        load_sweep("nope", storage=postgres_url)
