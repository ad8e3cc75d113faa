"""``workbench dashboard``: serve the multi-page dashboard (Runs, Compare, Sweeps, Models, ...).

The dashboard is served in this process with ``panel.serve`` rather than by starting
``panel serve`` as a child: the store, the read-only switch and the password reach the app
directly (a password on a child's command line would be visible to every user of the
machine), there is one process to stop, and Ctrl-C stops it. ``panel serve
workbench/ui/app.py`` remains possible (see docs/ui.md).

Access control: binding anything but a loopback address requires a password
(``WORKBENCH_DASHBOARD_PASSWORD`` or ``--password-file``); with one, every page asks for it
(Panel's basic auth with a login page and a signed session cookie).
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from typing import Any

import workbench as wb

DEFAULT_PORT = 5006


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``workbench dashboard`` (shared with ``python -m``)."""
    parser.add_argument(
        "--store",
        dest="dashboard_store",
        help="store folder or team store URL (default: WORKBENCH_STORE or ./.workbench)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1; others require a password)",
    )
    parser.add_argument(
        "--password-file",
        help="file whose first line is the password (else WORKBENCH_DASHBOARD_PASSWORD)",
    )
    parser.add_argument(
        "--allow-websocket-origin",
        action="append",
        dest="origins",
        metavar="HOST[:PORT]",
        help="host names browsers use to reach the dashboard (repeatable; default: this host)",
    )
    parser.add_argument(
        "--allow-writes",
        action="store_true",
        help="show actions that change the store (delete runs, move aliases); without it "
        "there are none, and a team store is opened read-only",
    )
    parser.add_argument("--show", action="store_true", help="open a browser tab")


def register(commands: Any) -> None:
    """Add ``workbench dashboard`` to the CLI's sub-commands."""
    parser = commands.add_parser(
        "dashboard",
        help="serve the dashboard (runs, compare, sweeps, models, deployments, drift)",
        description=__doc__.split("\n\n")[0],
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as s:
        s.bind((address, 0))
        port: int = s.getsockname()[1]
        return port


def default_origins(address: str, port: int) -> list[str]:
    """The websocket origins allowed when none is given: the names of this host."""
    from workbench.ui._auth import is_loopback

    if is_loopback(address):
        return [f"127.0.0.1:{port}", f"localhost:{port}"]
    names = {socket.gethostname(), socket.getfqdn()}
    if address not in ("0.0.0.0", "::"):
        names.add(address)
    return sorted(f"{name}:{port}" for name in names if name)


def run(args: argparse.Namespace) -> None:
    """Serve the dashboard until interrupted."""
    from workbench.ui._auth import resolve_auth

    auth = resolve_auth(args.address, password_file=args.password_file)  # may refuse: exit 2
    from workbench.ui.dashboard import dashboard_store

    read_only = not args.allow_writes
    wb.set_store(dashboard_store(args.dashboard_store, read_only=read_only))
    client = wb.connect()
    read_only = read_only or client.store.read_only
    import panel as pn

    from workbench.ui.app import create_app

    port = args.port or _free_port(args.address)
    origins = args.origins or default_origins(args.address, port)
    n_runs = int(client.sql("SELECT count(*) AS n FROM runs")["n"].iloc[0])
    host = f"[{args.address}]" if ":" in args.address else args.address
    print(
        f"workbench dashboard: store {client.store.location} ({n_runs:,} runs), "
        f"{'read-only' if read_only else 'read-write'}, "
        f"{'password required' if auth.enabled else 'no password (loopback only)'}\n"
        f"  http://{host}:{port}/",
        flush=True,
    )
    options: dict[str, Any] = {}
    if auth.enabled:
        from pathlib import Path

        import workbench.ui

        options.update(
            basic_auth=auth.password,
            cookie_secret=auth.cookie_secret,
            login_template=str(Path(workbench.ui.__file__).with_name("login.html")),
        )
    pn.serve(
        lambda: create_app(client, read_only=read_only),
        port=port,
        address=args.address,
        websocket_origin=origins,
        show=args.show,
        start=True,
        title="workbench",
        liveness=True,
        **options,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.cli.dashboard``: the same command outside the ``workbench`` CLI."""
    parser = argparse.ArgumentParser(prog="workbench dashboard", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run(args)
    except wb.WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
