"""Shared fixtures: every test that logs gets its own store folder."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

import workbench


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh store folder, made the configured store for the test."""
    path = tmp_path / "store"
    workbench.set_store(path)
    yield path
    workbench.set_store(None)


@pytest.fixture(autouse=True)
def _no_ambient_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch a store outside the test's temporary folder."""
    monkeypatch.delenv("WORKBENCH_STORE", raising=False)
    monkeypatch.chdir(tmp_path)


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
def _stress(request: pytest.FixtureRequest) -> Iterator[None]:
    """``WORKBENCH_STRESS=1``: tests marked ``slow`` run with one spinning process per core
    besides them (the busy CI machine the promises must hold on)."""
    level = os.environ.get("WORKBENCH_STRESS", "").strip()
    if not level.isdigit() or not int(level) or request.node.get_closest_marker("slow") is None:
        yield
        return
    with _spinning(int(level) * (os.cpu_count() or 1)):
        yield
