"""Storage: the ``Store`` interface, the default DuckDB backend, and ``get_store``.

A backend implements :class:`Store` (``workbench.store.base``) over the public entities of
:mod:`workbench.entities` and :class:`Batch` (``workbench.store.batch``); docs/store.md has the
guide, :mod:`workbench.testing` the conformance suites.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench._validation import fail
from workbench.config import default_store_location, is_team_url, local_location, store_location
from workbench.store._copy import (
    CopyReport,
    InitReport,
    StudyCopy,
    TableCopy,
    copy_store,
    init_team_store,
)
from workbench.store.artifacts import ArtifactStore
from workbench.store.base import DamageRecord, ProcessInfo, RunSearch, Store, StoreHealth
from workbench.store.batch import Batch
from workbench.store.duckdb import DuckDBStore

__all__ = [
    "ArtifactStore",
    "Batch",
    "CopyReport",
    "DamageRecord",
    "DuckDBStore",
    "InitReport",
    "ProcessInfo",
    "RunSearch",
    "Store",
    "StoreHealth",
    "StudyCopy",
    "TableCopy",
    "copy_store",
    "get_store",
    "init_team_store",
    "local_location",
    "resolve_store_location",
    "set_store",
    "store_location",
]

_store_override: str | Store | None = None


def set_store(store: str | os.PathLike[str] | Store | None) -> None:
    """Use this store for the rest of the process (``None`` returns to the default lookup).

    Parameters
    ----------
    store
        A folder (created if missing), a ``.duckdb`` file path, ``":memory:"``, a team store's
        ``postgresql://USER@HOST:PORT/DATABASE`` URL, or a ``Store``.
    """
    global _store_override
    if store is None or isinstance(store, Store):
        _store_override = store
    elif isinstance(store, (str, os.PathLike)) and str(store).strip():
        _store_override = store_location(store, given_as="set_store(store)")
    else:
        raise fail("store", "set_store", "a folder path, ':memory:', a URL or a Store", store)


def resolve_store_location(start: Path | None = None) -> str | Store:
    """The store (or its location) that workbench uses right now: what :func:`set_store` set,
    else :func:`workbench.config.default_store_location` (``WORKBENCH_STORE``, the nearest
    ``.workbench/`` folder)."""
    if _store_override is not None:
        return _store_override
    return default_store_location(start)


def get_store(store: str | os.PathLike[str] | Store | None = None) -> Store:
    """Normalise what a user passed into a ``Store`` (``None``: the configured default).

    Parameters
    ----------
    store
        A ``Store`` (returned as is), a folder or ``.duckdb`` path, ``":memory:"``, a team
        store's ``postgresql://`` URL, or ``None`` for the location resolved by
        :func:`resolve_store_location`.
    """
    if store is None:
        store = resolve_store_location()
    if isinstance(store, Store):
        return store
    if isinstance(store, (str, os.PathLike)) and str(store).strip():
        location = store_location(store, given_as="store")
        if is_team_url(location):
            from workbench.store.postgres import PostgresStore  # needs psycopg: import on use

            return PostgresStore(location)
        return DuckDBStore(location)
    raise fail("store", "get_store", "a folder path, ':memory:', a URL or a Store", store)
