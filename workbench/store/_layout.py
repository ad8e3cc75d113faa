"""The files of a store folder, and the rule that a folder holds one store.

Layout::

    store.json          which database file is this folder's store (one per folder)
    workbench.duckdb    the database (tables wb_*, documented views)
    workbench.lock      the inter-process lock (flock; released by the OS if a holder dies)
    ingest.lock         held by the one process that ingests journals in the background
    daemon.lock         held by the store daemon; standby.lock by its standby (daemon.log)
    workbench.wait*     doorbells: held (shared) by processes waiting for the database
    spool/              journals not yet ingested; spool/corrupt/ keeps damaged bytes
    heartbeats/         one file per live process owning running runs
    artifacts/sha256/   artifact files by content digest

The journals, locks, heartbeats and artifacts belong to the folder, not to a database file, so
two database files in one folder would take each other's runs. ``store.json`` names the one
database the folder serves, and opening any other database file there is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from workbench._version import __version__
from workbench.exceptions import StoreError

DB_FILE = "workbench.duckdb"
LOCK_FILE = "workbench.lock"
MARKER = "store.json"


def not_writable(root: Path) -> bool:
    """Whether this process cannot write the existing store in ``root`` (read-only mount,
    another user's files). A folder that does not exist yet is not read-only: it is created."""
    if not root.exists():
        return False
    candidates = [root, root / LOCK_FILE, root / DB_FILE, root / "spool"]
    return any(path.exists() and not os.access(path, os.W_OK) for path in candidates)


def claim_folder(root: Path, db_path: Path, *, write: bool) -> None:
    """Record ``db_path`` as the store of ``root``, or refuse if another database is."""
    marker = root / MARKER
    owner = _read_owner(marker)
    if owner is None and write:
        with contextlib.suppress(FileExistsError):
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w") as f:
                json.dump({"database": db_path.name, "created_by": __version__}, f)
        owner = _read_owner(marker)
    if owner is not None and owner != db_path.name:
        raise StoreError(
            f"The folder {root} already holds the workbench store {owner!r}, whose journals, "
            f"locks and artifacts live beside it, so {db_path.name!r} cannot be a store there "
            f"too: one folder holds one store. Put {db_path.name!r} in a folder of its own "
            f"(for example {root / db_path.stem / db_path.name})."
        )


def _read_owner(marker: Path) -> str | None:
    try:
        data = json.loads(marker.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    name = data.get("database") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None
