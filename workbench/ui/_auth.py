"""Who may open a served dashboard: Panel's basic auth, required off the loopback interface.

The password comes from ``--password-file`` (first line of the file) or the
``WORKBENCH_DASHBOARD_PASSWORD`` environment variable, never from the command line (other users
of the machine can read a process's arguments). Binding to anything but a loopback address
without a password is refused. Sessions are signed cookies (``WORKBENCH_DASHBOARD_COOKIE_SECRET``,
or a random secret per server start: everybody logs in again after a restart).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workbench.exceptions import InvalidParameterError

__all__ = [
    "COOKIE_SECRET_ENV",
    "MIN_PASSWORD_LENGTH",
    "PASSWORD_ENV",
    "AuthConfig",
    "is_loopback",
    "resolve_auth",
]

PASSWORD_ENV = "WORKBENCH_DASHBOARD_PASSWORD"
COOKIE_SECRET_ENV = "WORKBENCH_DASHBOARD_COOKIE_SECRET"
MIN_PASSWORD_LENGTH = 8
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True)
class AuthConfig:
    """The access control of one server: a password (None: open) and the cookie secret."""

    password: str | None = None
    cookie_secret: str | None = None
    source: str = "none"

    @property
    def enabled(self) -> bool:
        return self.password is not None

    def __repr__(self) -> str:  # never print the secrets
        return f"AuthConfig(enabled={self.enabled}, source={self.source!r})"


def is_loopback(address: str) -> bool:
    """Whether ``address`` only accepts connections from this machine (127.0.0.0/8, ::1)."""
    text = address.strip().strip("[]").lower()
    if text in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public interface


def _read_password_file(path: str | os.PathLike[str]) -> str:
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidParameterError(f"--password-file: no file {str(file)!r}.")
    lines = file.read_text(encoding="utf-8").splitlines()
    password = lines[0].strip() if lines else ""
    if not password:
        raise InvalidParameterError(f"--password-file: {str(file)!r} is empty.")
    if os.name == "posix" and file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidParameterError(
            f"--password-file: {str(file)!r} can be read by other users; "
            f"run `chmod 600 {file}` first."
        )
    return password


def resolve_auth(
    address: str,
    *,
    password_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AuthConfig:
    """The access control for serving on ``address``; raises if it would be open to others.

    Raises
    ------
    InvalidParameterError
        Binding a non-loopback address without a password, an empty or too short password, a
        password file readable by other users.
    """
    env = os.environ if environ is None else environ
    if password_file is not None:
        password, source = _read_password_file(password_file), "password file"
    elif env.get(PASSWORD_ENV, "").strip():
        password, source = env[PASSWORD_ENV].strip(), PASSWORD_ENV
    else:
        password, source = None, "none"
    if password is None:
        if not is_loopback(address):
            raise InvalidParameterError(
                f"Refusing to serve the dashboard on {address!r} without a password: anyone who "
                f"can reach this machine could read the store. Set {PASSWORD_ENV} (or pass "
                "--password-file with a file only you can read), or bind --address 127.0.0.1 "
                "and reach it through an SSH tunnel."
            )
        return AuthConfig()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameterError(
            f"The dashboard password must have at least {MIN_PASSWORD_LENGTH} characters; "
            f"the one from {source} has {len(password)}."
        )
    if os.path.exists(password):  # Panel would read such a value as a users file
        raise InvalidParameterError(
            f"The dashboard password from {source} is the path of an existing file; put the "
            "password itself there (or pass the file with --password-file)."
        )
    cookie_secret = env.get(COOKIE_SECRET_ENV, "").strip() or secrets.token_urlsafe(32)
    return AuthConfig(password=password, cookie_secret=cookie_secret, source=source)
