"""Storage: the ``Store`` interface, the default DuckDB backend, and ``get_store``.

A backend implements :class:`Store` (``workbench.store.base``) over the public entities of
:mod:`workbench.entities` and :class:`Batch` (``workbench.store.batch``); docs/store.md has the
guide, :mod:`workbench.testing` the conformance suites.
"""

from __future__ import annotations

import os

from workbench._validation import fail
from workbench.store._location import local_location
from workbench.store.artifacts import ArtifactStore
from workbench.store.base import DamageRecord, ProcessInfo, RunSearch, Store, StoreHealth
from workbench.store.batch import Batch
from workbench.store.duckdb import DuckDBStore

__all__ = [
    "ArtifactStore",
    "Batch",
    "DamageRecord",
    "DuckDBStore",
    "ProcessInfo",
    "RunSearch",
    "Store",
    "StoreHealth",
    "get_store",
    "local_location",
]


def get_store(store: str | os.PathLike[str] | Store | None = None) -> Store:
    """Normalise what a user passed into a ``Store`` (``None``: the configured default).

    Parameters
    ----------
    store
        A ``Store`` (returned as is), a folder or ``.duckdb`` path, ``":memory:"``, or ``None``
        for the location resolved by :func:`workbench.config.resolve_store_location`.
    """
    from workbench.config import resolve_store_location

    if store is None:
        store = resolve_store_location()
    if isinstance(store, Store):
        return store
    if isinstance(store, (str, os.PathLike)) and str(store).strip():
        return DuckDBStore(local_location(store, given_as="store"))
    raise fail("store", "get_store", "a folder path, ':memory:' or a Store", store)
