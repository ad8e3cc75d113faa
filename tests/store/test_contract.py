"""Every store backend passes the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _postgres import PostgresServer

from workbench.store import DuckDBStore, Store
from workbench.store.postgres import PostgresStore
from workbench.testing import StoreContract
from workbench.testing.registry_contract import RegistryContract


class TestDuckDBFileStore(StoreContract, RegistryContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = DuckDBStore(tmp_path / "store")
        yield store
        store.close()


class TestDuckDBMemoryStore(StoreContract, RegistryContract):
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = DuckDBStore(":memory:")
        yield store
        store.close()


class TestDuckDBFileStoreReopened(StoreContract, RegistryContract):
    """A second handle on the same folder sees everything the first one wrote."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        DuckDBStore(tmp_path / "store").close()
        store = DuckDBStore(tmp_path / "store" / "workbench.duckdb")
        yield store
        store.close()


class TestPostgresStore(StoreContract, RegistryContract):
    """The team store, on a throw-away PostgreSQL server (a fresh database per test)."""

    @pytest.fixture
    def store(self, postgres: PostgresServer, tmp_path: Path) -> Iterator[Store]:
        store = PostgresStore(postgres.url(postgres.new_database()), local=tmp_path / "local")
        yield store
        store.close()
