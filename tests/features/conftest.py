"""The feature store tests' client: a fresh store in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench as wb
from workbench.client import Workbench


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Workbench]:
    client = wb.connect(tmp_path / "store")
    yield client
    client.close()
