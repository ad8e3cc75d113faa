"""``python -m workbench.serving``: run a model server process (what ``deploy()`` starts).

    python -m workbench.serving MODEL [--port N] [--host 127.0.0.1] [--workers N] ...
    python -m workbench.serving --config JSON          # a ServingConfig, as deploy() passes it

Flags are those of ``workbench serve`` (see ``--help``). The process serves until SIGTERM or
SIGINT; exit code 3 means the models could not be loaded (the log says why).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from workbench.serving._cli_args import add_serving_arguments, config_from_args
    from workbench.serving._config import ServingConfig, server_environment
    from workbench.serving._process import serve, serve_worker

    parser = argparse.ArgumentParser(
        prog="python -m workbench.serving", description="Serve a registered model over HTTP."
    )
    parser.add_argument("--config", help="a ServingConfig as JSON (instead of the flags)")
    parser.add_argument("--worker-fd", type=int, help=argparse.SUPPRESS)
    add_serving_arguments(parser, model_required=False)
    args = parser.parse_args(argv)
    if args.config:
        config = ServingConfig.from_json(args.config)
    elif args.model:
        config = config_from_args(args, caller="python -m workbench.serving")
        # The config names a team store without its password; this process and its workers
        # open the store by that name, so the password goes where libpq reads it.
        from workbench.tracking.client import client_for

        os.environ.update(server_environment(client_for().store))
    else:
        parser.error("give a MODEL (or --config JSON)")
    if args.worker_fd is not None:
        return serve_worker(config, args.worker_fd)
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
