"""Shared fixtures: every test that logs gets its own store folder."""

from __future__ import annotations

from collections.abc import Iterator
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
