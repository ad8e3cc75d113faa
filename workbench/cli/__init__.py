"""The ``workbench`` command: runs, experiments, SQL and more, from a terminal or a CI job.

Every command calls the public Python API and only formats its result. Each area registers its
sub-commands from its own module. Errors from workbench print as ``error: <message>`` with exit
code 2; a failed quality gate exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

import workbench as wb
from workbench.cli import (
    dashboard,
    demo,
    loop,
    models,
    monitoring,
    pipelines,
    serving,
    store,
    sweeps,
    tracking,
)
from workbench.store import store_location

COMMAND_MODULES = [
    tracking,
    models,
    sweeps,
    monitoring,
    loop,
    serving,
    pipelines,
    dashboard,
    store,
    demo,
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="workbench", description="The ML lifecycle in your notebook, from the terminal."
    )
    parser.add_argument("--store", help="store folder (default: WORKBENCH_STORE or ./.workbench)")
    parser.add_argument("--version", action="version", version=f"workbench {wb.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workbench`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], Any] = args.handler
    try:
        if args.store:
            wb.set_store(store_location(args.store, given_as="--store"))
        code = handler(args)
    except wb.WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `workbench runs list | head`
        return 0
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
