"""Access control of the served dashboard: who must log in, and refusing to serve openly."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import dashboard as cli
from workbench.exceptions import InvalidParameterError
from workbench.ui._auth import PASSWORD_ENV, is_loopback, resolve_auth


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("dashboard.example.org", False),
    ],
)
def test_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_loopback_without_password_is_open_and_others_are_refused() -> None:
    assert not resolve_auth("127.0.0.1", environ={}).enabled
    with pytest.raises(InvalidParameterError, match=f"without a password.*{PASSWORD_ENV}"):
        resolve_auth("0.0.0.0", environ={})


def test_password_from_environment_turns_auth_on_anywhere() -> None:
    auth = resolve_auth("0.0.0.0", environ={PASSWORD_ENV: "correct horse"})
    assert auth.enabled and auth.password == "correct horse" and auth.cookie_secret
    assert "correct horse" not in repr(auth)
    assert resolve_auth("127.0.0.1", environ={PASSWORD_ENV: "correct horse"}).enabled
    fixed = resolve_auth(
        "0.0.0.0",
        environ={PASSWORD_ENV: "correct horse", "WORKBENCH_DASHBOARD_COOKIE_SECRET": "s" * 40},
    )
    assert fixed.cookie_secret == "s" * 40


def test_password_file(tmp_path: Path) -> None:
    file = tmp_path / "password"
    file.write_text("from a file\nignored\n")
    file.chmod(0o600)
    auth = resolve_auth("0.0.0.0", password_file=file, environ={PASSWORD_ENV: "other one"})
    assert auth.password == "from a file" and auth.source == "password file"
    file.chmod(0o644)
    with pytest.raises(InvalidParameterError, match="chmod 600"):
        resolve_auth("0.0.0.0", password_file=file, environ={})
    with pytest.raises(InvalidParameterError, match="no file"):
        resolve_auth("0.0.0.0", password_file=tmp_path / "missing", environ={})


def test_weak_or_ambiguous_passwords_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="at least 8"):
        resolve_auth("0.0.0.0", environ={PASSWORD_ENV: "short"})
    existing = tmp_path / "users.json"
    existing.write_text("{}")
    with pytest.raises(InvalidParameterError, match="path of an existing file"):
        resolve_auth("0.0.0.0", environ={PASSWORD_ENV: str(existing)})


def test_cli_refuses_a_public_address_without_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "workbench.cli.dashboard", "--store", str(tmp_path / "s")),
            *("--address", "0.0.0.0", "--port", "0"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Refusing to serve the dashboard on '0.0.0.0' without a password" in result.stderr
    assert not (tmp_path / "s").exists()  # refused before touching the store


def test_cli_registers_the_dashboard_command() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    cli.register(commands)
    args = parser.parse_args(
        ["dashboard", "--store", "s", "--port", "8080", "--allow-websocket-origin", "h:8080"]
    )
    assert args.handler is cli.run and args.dashboard_store == "s" and args.port == 8080
    assert args.origins == ["h:8080"] and not args.allow_writes and args.address == "127.0.0.1"


def test_default_websocket_origins() -> None:
    assert cli.default_origins("127.0.0.1", 5006) == ["127.0.0.1:5006", "localhost:5006"]
    public = cli.default_origins("0.0.0.0", 5006)
    assert public and all(o.endswith(":5006") for o in public) and "0.0.0.0:5006" not in public
