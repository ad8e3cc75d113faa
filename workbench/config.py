"""Where the store lives and how often logged data is flushed.

Store location, first match wins:

1. ``workbench.set_store(path_or_store)`` in this process;
2. the ``WORKBENCH_STORE`` environment variable (a folder, or a ``.duckdb`` file, or ``:memory:``);
3. the nearest ``.workbench/`` folder in the working directory or its parents, up to the root of
   the enclosing git repository (so notebooks in sub-folders share the project's store);
4. a new ``.workbench/`` folder in the working directory (MLflow's convention of keeping runs next
   to where the user works).

``WORKBENCH_FLUSH_INTERVAL`` (seconds, default 0.5, at most 1) bounds how long a logged value may
sit in memory before it is written durably to disk; :func:`durability_bound` is the promise that
follows from it (docs/store.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._validation import fail

if TYPE_CHECKING:
    from workbench.store.base import Store

STORE_DIR_NAME = ".workbench"
DEFAULT_FLUSH_INTERVAL = 0.5
MAX_FLUSH_INTERVAL = 1.0

_store_override: str | Store | None = None


def set_store(store: str | os.PathLike[str] | Store | None) -> None:
    """Use this store for the rest of the process (``None`` returns to the default lookup).

    Parameters
    ----------
    store
        A folder (created if missing), a ``.duckdb`` file path, ``":memory:"``, or a ``Store``.
    """
    from workbench.store._location import local_location
    from workbench.store.base import Store

    global _store_override
    if store is None or isinstance(store, Store):
        _store_override = store
    elif isinstance(store, (str, os.PathLike)) and str(store).strip():
        _store_override = local_location(store, given_as="set_store(store)")
    else:
        raise fail("store", "set_store", "a folder path, ':memory:' or a Store", store)


def resolve_store_location(start: Path | None = None) -> str | Store:
    """The store (or its location) that workbench uses right now, per the rules above."""
    if _store_override is not None:
        return _store_override
    env = os.environ.get("WORKBENCH_STORE", "").strip()
    if env:
        from workbench.store._location import local_location

        return local_location(env, given_as="WORKBENCH_STORE")
    cwd = (start or Path.cwd()).resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / STORE_DIR_NAME).is_dir():
            return str(folder / STORE_DIR_NAME)
        if (folder / ".git").exists():
            break
    return str(cwd / STORE_DIR_NAME)


WRITE_ALLOWANCE_S = 0.5  # for the write itself and a busy scheduler, on top of the interval


def durability_bound() -> float:
    """Seconds after which a value whose log call returned survives ``kill -9`` of its
    process: the flush interval plus ``WRITE_ALLOWANCE_S`` (1 s by default). Logging calls
    write the batch themselves when the background flusher is late, so this holds at any
    logging rate (tests/store/test_stress.py checks it under kill -9)."""
    return flush_interval() + WRITE_ALLOWANCE_S


def flush_interval() -> float:
    """Seconds between background flushes, from ``WORKBENCH_FLUSH_INTERVAL`` (default 0.5)."""
    raw = os.environ.get("WORKBENCH_FLUSH_INTERVAL")
    if raw is None:
        return DEFAULT_FLUSH_INTERVAL
    try:
        value: Any = float(raw)
    except ValueError:
        value = raw
    if not isinstance(value, float) or not 0.01 <= value <= MAX_FLUSH_INTERVAL:
        raise fail(
            "WORKBENCH_FLUSH_INTERVAL",
            "workbench",
            f"seconds in [0.01, {MAX_FLUSH_INTERVAL}]",
            raw,
            "Unset it to use the default of 0.5 s.",
        )
    return value
