"""Who is writing: ``user@host``, recorded with every run, experiment, model version, alias
change and deployment (on a team store several people and machines write to one database)."""

from __future__ import annotations

import functools
import getpass
import os
import socket


@functools.cache
def who() -> str:
    """The operating-system user and the machine of this process, as ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = os.environ.get("USER") or "unknown"
    return f"{user}@{socket.gethostname()}"
