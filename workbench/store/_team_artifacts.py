"""Where a team store's artifact blobs live, and the store setting that tells every machine.

The location, first match wins:

1. ``PostgresStore(url, artifacts=LOCATION)`` in this process;
2. ``WORKBENCH_ARTIFACTS`` on this machine;
3. the store's own setting, the row ``artifacts`` of ``wb_meta`` (so every machine of the team
   finds the location without configuring it): written by :func:`set_artifacts_location`, or by
   the first ``PostgresStore(url, artifacts=...)`` when the store has none;
4. this machine's folder of the store (``<local>/artifacts``), as before shared locations
   existed: other machines cannot read those blobs, which a warning says once per process.

With 1-3, ``<local>/artifacts`` is this machine's staging area and cache
(:class:`~workbench.store.artifacts.ArtifactStore`). An argument or ``WORKBENCH_ARTIFACTS`` that
differs from the store's setting is used as given (the same share may be mounted at another
path on this machine) and noted in the log; it must reach the same blobs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import artifacts_from_env, artifacts_location, redact_url
from workbench.store import _pg
from workbench.store.artifacts import ArtifactStore

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger("workbench.store")

SETTING = "artifacts"  # the key of the location in wb_meta
_warned: set[str] = set()  # stores warned about machine-local artifacts (once per process)


def open_artifacts(
    con: psycopg.Connection[Any],
    cache: Path,
    *,
    explicit: str | os.PathLike[str] | None,
    location: str,
    read_only: bool,
) -> ArtifactStore:
    """The artifact store of the team store at ``location`` (its URL, redacted) whose
    connection is ``con``; ``cache`` is this machine's folder for its artifacts."""
    setting = stored_location(con)
    if explicit is not None:
        chosen = artifacts_location(explicit, given_as="PostgresStore(artifacts=...)")
        if setting is None and not read_only:
            setting = _record(con, chosen, replace=False)
        _note_override(location, chosen, setting, "the artifacts= argument")
        return ArtifactStore(cache, remote=chosen)
    env = artifacts_from_env()
    if env is not None:
        _note_override(location, env, setting, "WORKBENCH_ARTIFACTS")
        return ArtifactStore(cache, remote=env)
    if setting is not None:
        return ArtifactStore(cache, remote=setting)
    if location not in _warned:
        _warned.add(location)
        logger.warning(
            "The team store %s keeps artifacts in this machine's folder %s: other machines "
            "cannot read them. Name a shared location every machine reaches (s3://BUCKET/PREFIX "
            "or a shared folder) once for the store with "
            "workbench.store.postgres.set_artifacts_location(url, location), or on each machine "
            "with WORKBENCH_ARTIFACTS.",
            location,
            cache,
        )
    return ArtifactStore(cache)


def stored_location(con: psycopg.Connection[Any]) -> str | None:
    """The artifact location recorded in the store (``wb_meta``), if any."""
    with con.transaction():
        row = con.execute("SELECT value FROM wb_meta WHERE key = %s", (SETTING,)).fetchone()
    return None if row is None else str(row[0])


def _record(con: psycopg.Connection[Any], location: str, *, replace: bool) -> str:
    """Record ``location`` in the store (``replace``: over what is there); returns the
    location recorded afterwards (another machine's, if it recorded one first)."""
    with con.transaction():
        con.execute(
            "INSERT INTO wb_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
            "excluded.value"
            if replace
            else "INSERT INTO wb_meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
            (SETTING, location),
        )
    recorded = stored_location(con)
    assert recorded is not None
    return recorded


def _note_override(store: str, chosen: str, setting: str | None, source: str) -> None:
    if setting is not None and setting != chosen:
        logger.info(
            "The team store %s records its artifacts at %s; this process uses %s (from %s), "
            "which must reach the same blobs.",
            store,
            redact_url(setting),
            redact_url(chosen),
            source,
        )


def set_artifacts_location(url: str, location: str | os.PathLike[str] | None) -> str | None:
    """Record in the team store at ``url`` where its artifact blobs live, for every machine
    (``None`` removes the setting: each machine keeps its own). Returns the location recorded.

    Processes already open keep the location they started with. Blobs logged before stay where
    they are: a machine that logged to its own folder still has them there.

    Parameters
    ----------
    url
        The team store, ``postgresql://USER@HOST:PORT/DATABASE``.
    location
        An absolute folder path every machine reaches, or a URL such as ``s3://BUCKET/PREFIX``
        (credentials and endpoint come from each machine's own configuration: for S3, the AWS
        variables and files, e.g. ``AWS_ENDPOINT_URL_S3`` for MinIO).
    """
    chosen = (
        None
        if location is None
        else artifacts_location(location, given_as="set_artifacts_location(location)")
    )
    con = _pg.connect(url)
    try:
        _pg.ensure_schema(con, redact_url(url))
        if chosen is None:
            with con.transaction():
                con.execute("DELETE FROM wb_meta WHERE key = %s", (SETTING,))
            return None
        return _record(con, chosen, replace=True)
    finally:
        con.close()
