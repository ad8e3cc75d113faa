"""The team store's database on PostgreSQL: connecting to it, and its schema.

The schema is the local store's (``_schema``): the same ``wb_*`` tables, the same documented
views and the same forward-only migrations, written once and translated here to PostgreSQL's
types (``DOUBLE`` is ``DOUBLE PRECISION``; ``epoch(t)`` is ``extract(epoch FROM t)``). ``JSON``
stays ``JSON`` (not ``JSONB``) so that stored documents come back byte for byte, as from DuckDB.

Several processes on several machines may open a fresh database at once: the schema is created
or migrated inside one transaction holding a transaction-level advisory lock, so exactly one of
them does it and the others find it done. Passwords never appear in messages (``redact_url``);
give them to libpq instead (``PGPASSWORD``, ``~/.pgpass`` or ``PGPASSFILE``).

This is the first layer of the team store (docs/team-store.md); the store itself is built on it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from workbench._version import __version__
from workbench.config import is_team_url, redact_url
from workbench.exceptions import (
    InvalidParameterError,
    NotAWorkbenchStoreError,
    StoreError,
    StoreVersionError,
)
from workbench.store._schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import psycopg

# pg_advisory_xact_lock key for creating or migrating the schema ("wb-schema" as an int64).
SCHEMA_LOCK = int.from_bytes(b"wb-schema", "big") & (1 << 63) - 1
CONNECT_TIMEOUT_S = 10

_TRANSLATIONS = (
    (re.compile(r"\bDOUBLE\b(?! PRECISION)"), "DOUBLE PRECISION"),
    (re.compile(r"\bepoch\(([^()]*)\)"), r"extract(epoch FROM \1)"),
    # The models view groups by every column of wb_models, one of them JSON, which has no
    # equality in PostgreSQL; there, grouping by the primary key is enough (and the same).
    (re.compile(r"GROUP BY m\.name, m\.description, m\.created_at, m\.tags"), "GROUP BY m.name"),
)


# Functions the local store's queries need that PostgreSQL lacks (DuckDB's TRY_CAST, which
# gives NULL where a cast fails). Created with the schema; CREATE OR REPLACE keeps them current.
SUPPORT = (
    *(
        f"""CREATE OR REPLACE FUNCTION wb_try_{name}(v TEXT) RETURNS {sql_type}
            LANGUAGE plpgsql IMMUTABLE AS $$
            BEGIN RETURN v::{sql_type}; EXCEPTION WHEN others THEN RETURN NULL; END $$"""
        for name, sql_type in (("double", "DOUBLE PRECISION"), ("bigint", "BIGINT"))
    ),
    # Liveness across machines (_pg_live): when each logging process was last heard of, by
    # the server's clock (machines' clocks may disagree). A table of the team store only
    # (TEAM_TABLES): a local store knows its processes by pid.
    """CREATE TABLE IF NOT EXISTS wb_heartbeats (
        proc_id VARCHAR PRIMARY KEY, host VARCHAR NOT NULL, pid BIGINT NOT NULL,
        last_seen TIMESTAMP NOT NULL)""",
)


#: Tables the team store has beside the local store's (see SUPPORT).
TEAM_TABLES = ("wb_heartbeats",)


def postgres_statement(statement: str) -> str:
    """A statement of the local store (its schema, or a query) in PostgreSQL's dialect."""
    for pattern, replacement in _TRANSLATIONS:
        statement = pattern.sub(replacement, statement)
    return statement


def connect(url: str, *, timeout: float = CONNECT_TIMEOUT_S) -> psycopg.Connection[Any]:
    """A connection to the database ``url`` names, or a ``StoreError`` that says what to do."""
    if not isinstance(url, str) or not is_team_url(url):
        raise InvalidParameterError(
            f"{redact_url(str(url))!r} is not a PostgreSQL URL. Use "
            "postgresql://USER@HOST:PORT/DATABASE (the password in PGPASSWORD or ~/.pgpass)."
        )
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "A team store on PostgreSQL needs psycopg: pip install 'workbench[team]'."
        ) from None
    try:
        return psycopg.connect(url, connect_timeout=max(1, round(timeout)), autocommit=False)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"Could not connect to the team store {redact_url(url)}: {reason}. Check that the "
            "server runs and accepts connections from this machine, the database exists and "
            "the user may log in (a password goes in PGPASSWORD or ~/.pgpass, never in a "
            "command line)."
        ) from None


def ensure_schema(con: psycopg.Connection[Any], location: str, *, read_only: bool = False) -> int:
    """Create the schema in an empty database, migrate an older one forward, refuse anything
    else (a newer workbench's store, a foreign database). Returns the schema version.

    Safe against other processes doing the same at the same time (advisory lock)."""
    with con.transaction():
        if not read_only:
            con.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        version = _version(con, location)
        if version == SCHEMA_VERSION:
            return version
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"The team store {location} has schema version {version}, written by a newer "
                f"workbench; this workbench {__version__} reads up to version {SCHEMA_VERSION}. "
                "Upgrade with `pip install -U workbench`."
            )
        if read_only:
            raise StoreVersionError(
                f"The team store {location} has schema version {version} and this workbench "
                f"needs version {SCHEMA_VERSION}; upgrading writes to it, and this connection is "
                "read-only. Open it once with a role that may create tables."
            )
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                con.execute(postgres_statement(statement))  # type: ignore[arg-type]
        for statement in SUPPORT:
            con.execute(statement)  # type: ignore[arg-type]
        con.execute(
            "INSERT INTO wb_meta VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
    return SCHEMA_VERSION


def _version(con: psycopg.Connection[Any], location: str) -> int:
    """The schema version of the database (0: empty)."""
    # The catalog, not information_schema: that lists only the tables this role may use, so a
    # store seen by a role without grants would look empty (and be "created" again).
    tables = {
        row[0]
        for row in con.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v')"
        ).fetchall()
    }
    if not tables:
        return 0
    if "wb_meta" not in tables:
        raise NotAWorkbenchStoreError(
            f"{location} holds a PostgreSQL database that is not a workbench store "
            f"(tables: {sorted(tables)[:5]}). Create an empty database for the team store."
        )
    import psycopg

    try:
        row = con.execute("SELECT value FROM wb_meta WHERE key = 'schema_version'").fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        reason = str(exc).strip().splitlines()[0]
        raise StoreError(
            f"The database role of this connection may not read the team store {location} "
            f"({reason}): it lacks the grants of a reader. docs/team-store.md lists them "
            "(GRANT SELECT ON ALL TABLES IN SCHEMA public TO the role, and more)."
        ) from None
    return int(row[0]) if row else 0
