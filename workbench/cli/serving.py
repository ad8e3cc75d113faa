"""CLI commands: ``workbench serve MODEL`` and ``workbench deployments list|stop|status``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from workbench import serving
from workbench.cli._common import add_format, print_frame
from workbench.serving._cli_args import add_serving_arguments, deploy_kwargs


def _serve(args: argparse.Namespace) -> None:
    kwargs = deploy_kwargs(args)
    deployment = serving.deploy(
        args.model,
        **kwargs,
        startup_timeout=args.startup_timeout,
        _inherit_output=True,
    )
    print(
        f"Serving {args.model} at {deployment.url} (deployment {deployment.deployment_id}). "
        "Press Ctrl-C to stop.",
        flush=True,
    )
    print(
        f"  curl -X POST {deployment.url}/invocations -H 'Content-Type: application/json' "
        '-d \'{"dataframe_split": {"columns": [...], "data": [[...]]}}\'',
        flush=True,
    )

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        code = deployment.wait()
    except KeyboardInterrupt:  # the server got the same Ctrl-C from the terminal
        deployment.stop()
        code = 0
    print(f"Stopped deployment {deployment.deployment_id}.", file=sys.stderr)
    if code:
        sys.exit(code)


def _list(args: argparse.Namespace) -> None:
    frame = serving.list_deployments()
    if not args.all and not frame.empty:
        frame = frame[frame["status"] == "running"]
    print_frame(frame, args.format)


def _stop(args: argparse.Namespace) -> None:
    for deployment_id in args.ids:
        serving.stop_deployment(deployment_id, timeout=args.timeout)
        print(f"stopped {deployment_id}")


def _status(args: argparse.Namespace) -> None:
    status = serving.get_deployment(args.id).status()
    print(json.dumps(status.to_dict(), indent=2, default=str))


def register(commands: Any) -> None:
    """Add ``serve`` and ``deployments`` to the ``workbench`` command."""
    serve = commands.add_parser(
        "serve",
        help="serve a registered model over HTTP (foreground; Ctrl-C stops)",
        description="Serve a registered model over HTTP, MLflow-compatible: POST /invocations "
        "with dataframe_split, dataframe_records, instances, inputs or CSV. No authentication: "
        "loopback only unless --allow-remote.",
    )
    add_serving_arguments(serve)
    serve.add_argument("--startup-timeout", type=float, default=120.0)
    serve.set_defaults(handler=_serve)

    deployments = commands.add_parser("deployments", help="list, inspect and stop model servers")
    sub = deployments.add_subparsers(dest="deployments_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="deployments in the store (running ones by default)")
    listing.add_argument("--all", action="store_true", help="also stopped, failed and dead ones")
    add_format(listing)
    listing.set_defaults(handler=_list)
    stop = sub.add_parser("stop", help="stop deployments by id")
    stop.add_argument("ids", nargs="+", metavar="ID")
    stop.add_argument("--timeout", type=float, default=15.0)
    stop.set_defaults(handler=_stop)
    status = sub.add_parser("status", help="state, health and served versions of a deployment")
    status.add_argument("id", metavar="ID")
    status.set_defaults(handler=_status)
