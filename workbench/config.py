"""Where the store lives and how often logged data is flushed.

Store location, first match wins:

1. ``workbench.set_store(path_or_store)`` in this process;
2. the ``WORKBENCH_STORE`` environment variable (a folder, or a ``.duckdb`` file, or ``:memory:``);
3. the nearest ``.workbench/`` folder in the working directory or its parents, up to the root of
   the enclosing git repository (so notebooks in sub-folders share the project's store);
4. a new ``.workbench/`` folder in the working directory (MLflow's convention of keeping runs next
   to where the user works).

``WORKBENCH_FLUSH_INTERVAL`` (seconds, default 0.5, at most 1) bounds how long a logged value may
sit in memory before it is written durably to disk.
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
    from workbench.store.base import Store

    global _store_override
    if store is None or isinstance(store, Store):
        _store_override = store
    elif isinstance(store, (str, os.PathLike)) and str(store).strip():
        _store_override = os.fspath(store)
    else:
        raise fail("store", "set_store", "a folder path, ':memory:' or a Store", store)


def resolve_store_location(start: Path | None = None) -> str | Store:
    """The store (or its location) that workbench uses right now, per the rules above."""
    if _store_override is not None:
        return _store_override
    env = os.environ.get("WORKBENCH_STORE", "").strip()
    if env:
        return env
    cwd = (start or Path.cwd()).resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / STORE_DIR_NAME).is_dir():
            return str(folder / STORE_DIR_NAME)
        if (folder / ".git").exists():
            break
    return str(cwd / STORE_DIR_NAME)


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
