"""Settings from the environment: where the store lives and how often logged data is flushed.

Store location, first match wins (:func:`workbench.store.resolve_store_location`):

1. ``workbench.set_store(path_or_store)`` in this process;
2. the ``WORKBENCH_STORE`` environment variable (a folder, a ``.duckdb`` file, ``:memory:``, or
   a team store's ``postgresql://`` URL);
3. the nearest ``.workbench/`` folder in the working directory or its parents, up to the root of
   the enclosing git repository (so notebooks in sub-folders share the project's store);
4. a new ``.workbench/`` folder in the working directory (MLflow's convention of keeping runs next
   to where the user works).

This module holds rules 2-4 (:func:`default_store_location`) and :func:`store_location`, which
tells a store's path from a URL; the process-wide choice of rule 1 lives with the stores, in
:mod:`workbench.store`. It sits at the bottom of the package and imports no store.

``WORKBENCH_FLUSH_INTERVAL`` (seconds, default 0.5, at most 1) bounds how long a logged value may
sit in memory before it is written durably to disk; :func:`durability_bound` is the promise that
follows from it (docs/store.md).

``WORKBENCH_ARTIFACTS`` names where a team store keeps its artifact blobs on this machine's
behalf: a folder every machine mounts, or a URL such as ``s3://bucket/prefix``
(:func:`artifacts_location`). It overrides the location recorded in the store; see
:mod:`workbench.store._team_artifacts` for the whole order.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from workbench._validation import fail
from workbench.exceptions import InvalidParameterError

STORE_DIR_NAME = ".workbench"
DEFAULT_FLUSH_INTERVAL = 0.5
MAX_FLUSH_INTERVAL = 1.0


def default_store_location(start: Path | None = None) -> str:
    """The store location when no ``set_store`` is in force: rules 2-4 above."""
    env = os.environ.get("WORKBENCH_STORE", "").strip()
    if env:
        return store_location(env, given_as="WORKBENCH_STORE")
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


# -- telling a store's path from a store's URL ----------------------------------------------------
# A store is named by a folder path, a path to its ``.duckdb`` file, ``":memory:"``, a ``file://``
# URL, or a ``postgresql://`` URL (the team store). Anything else that looks like a URL
# (``scheme://...``) is refused here, before anything is created: ``set_store("s3://bucket/x")``
# must not quietly make a folder named ``s3:`` and log into it while the user believes they
# are on a server.

FORMS = (
    "a folder path, a path ending in .duckdb, ':memory:', a file:// URL, or "
    "postgresql://USER@HOST:PORT/DATABASE for a team store"
)
TEAM_SCHEMES = ("postgresql", "postgres")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")


def is_team_url(value: str | os.PathLike[str]) -> bool:
    """Whether ``value`` names a team store (``postgresql://`` or ``postgres://``)."""
    match = _URL.match(os.fspath(value).strip())
    return match is not None and match["scheme"].lower() in TEAM_SCHEMES


def store_location(value: str | os.PathLike[str], *, given_as: str) -> str:
    """The store that ``value`` names: a local location (see :func:`local_location`) or a
    team store's ``postgresql://`` URL (returned as given; the password, if any, is only
    ever shown redacted)."""
    text = os.fspath(value).strip()
    if is_team_url(text):
        parsed = urllib.parse.urlparse(text)
        if not parsed.path.strip("/"):
            raise InvalidParameterError(
                f"{given_as} is {_redacted(parsed)!r}: a PostgreSQL URL needs the database, "
                "as in postgresql://USER@HOST:5432/DATABASE (the password in PGPASSWORD or "
                "~/.pgpass). Nothing was created or written."
            )
        return text
    return local_location(text, given_as=given_as)


def local_location(value: str | os.PathLike[str], *, given_as: str) -> str:
    """The local location (a path, or ``":memory:"``) that ``value`` names.

    ``given_as`` names where the value came from, for the message (``set_store(store)``,
    ``WORKBENCH_STORE``, ``--store``). Raises ``InvalidParameterError`` for any other URL.
    """
    text = os.fspath(value).strip()
    match = _URL.match(text)
    if match is None:
        return text
    scheme = match["scheme"].lower()
    parsed = urllib.parse.urlparse(text)
    if scheme == "file" and parsed.netloc in ("", "localhost") and parsed.path:
        return urllib.parse.unquote(parsed.path)
    raise InvalidParameterError(
        f"{given_as} is {_redacted(parsed)!r}: a {scheme}:// URL, which this workbench cannot "
        f"open as a store. It takes {FORMS}. Nothing was created or written."
    )


def redact_url(url: str) -> str:
    """``url`` without its password, if it has one (messages end up in logs)."""
    return _redacted(urllib.parse.urlparse(url))


def _redacted(parsed: urllib.parse.ParseResult) -> str:
    """The URL without a password, in ``user:password@`` or ``?password=`` (messages end up in
    logs)."""
    query = [
        (key, "***" if key == "password" else value)
        for key, value in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    ]
    if any(key == "password" for key, _ in query):
        parsed = parsed._replace(query=urllib.parse.urlencode(query, safe="*"))
    if parsed.password is None:
        return parsed.geturl()
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return parsed._replace(netloc=netloc).geturl()


def without_password(url: str) -> str:
    """``url`` with no password in it (neither ``user:password@`` nor ``?password=``): what
    another process is given to open a team store, its password going where libpq reads it."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = [
        (key, value)
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if key != "password"
    ]
    return urllib.parse.urlunsplit(
        parts._replace(netloc=netloc, query=urllib.parse.urlencode(query))
    )


# -- where a team store's artifacts live ----------------------------------------------------------
ARTIFACTS_ENV = "WORKBENCH_ARTIFACTS"
ARTIFACT_FORMS = (
    "an absolute folder path every machine reaches (a shared file system), a file:// URL, or an "
    "object storage URL such as s3://BUCKET/PREFIX"
)


def artifacts_location(value: str | os.PathLike[str], *, given_as: str) -> str:
    """The artifact location ``value`` names: a folder as an absolute path (``file://`` URLs
    and ``~`` resolved), or a URL of another protocol (``s3://bucket/prefix``; any protocol
    fsspec knows), given without a trailing slash. Raises ``InvalidParameterError`` for an
    empty value, a store URL, a URL without a bucket or host, or one carrying a password."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        raise InvalidParameterError(f"{given_as} is {value!r}: it takes {ARTIFACT_FORMS}.")
    text = os.fspath(value).strip()
    match = _URL.match(text)
    if match is None:
        return str(Path(text).expanduser().absolute())
    scheme = match["scheme"].lower()
    parsed = urllib.parse.urlparse(text)
    if scheme == "file" and parsed.netloc in ("", "localhost") and parsed.path:
        return str(Path(urllib.parse.unquote(parsed.path)).absolute())
    if scheme in TEAM_SCHEMES or scheme == "file":
        raise InvalidParameterError(
            f"{given_as} is {_redacted(parsed)!r}, which is not a place for artifact files. It "
            f"takes {ARTIFACT_FORMS}."
        )
    if not parsed.netloc:
        raise InvalidParameterError(
            f"{given_as} is {_redacted(parsed)!r}: a {scheme}:// URL needs a bucket or host, "
            f"as in {scheme}://BUCKET/PREFIX."
        )
    if parsed.password is not None:
        raise InvalidParameterError(
            f"{given_as} is {_redacted(parsed)!r}, a URL with a password. The location is "
            "recorded in the store and shown in messages; give credentials to the storage "
            "library instead (for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile "
            "in ~/.aws/credentials, or the machine's role)."
        )
    return text.rstrip("/")


def artifacts_from_env() -> str | None:
    """The artifact location ``WORKBENCH_ARTIFACTS`` names on this machine, if it is set."""
    raw = os.environ.get(ARTIFACTS_ENV, "").strip()
    return artifacts_location(raw, given_as=ARTIFACTS_ENV) if raw else None
