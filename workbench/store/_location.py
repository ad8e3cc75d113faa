"""Telling a store's path from a store's URL, in one place.

A store is named by a folder path, a path to its ``.duckdb`` file, ``":memory:"`` or a
``file://`` URL. Anything else that looks like a URL (``scheme://...``) is refused here, before
anything is created: ``set_store("postgresql://host/db")`` must not quietly make a folder named
``postgresql:`` and log into it while the user believes they are on a server.
"""

from __future__ import annotations

import os
import re
import urllib.parse

from workbench.exceptions import InvalidParameterError

FORMS = "a folder path, a path ending in .duckdb, ':memory:', or a file:// URL"
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")


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


def _redacted(parsed: urllib.parse.ParseResult) -> str:
    """The URL without a password (messages end up in logs)."""
    if parsed.password is None:
        return parsed.geturl()
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return parsed._replace(netloc=netloc).geturl()
