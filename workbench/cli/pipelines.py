"""``workbench run-notebook``: execute a notebook with papermill and record it as a run.

Exit codes: 0 the notebook ran; 1 a cell failed or a quality gate inside it failed (the
explanation is printed); 2 a usage error (no such notebook, bad parameter).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.pipelines import NotebookFailedError, run_notebook


def parse_value(text: str) -> Any:
    """A ``-p`` value as papermill's CLI reads it: bool, None, int, float, else the string."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text in ("None", "none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def register(commands: Any) -> None:
    """Add ``workbench run-notebook`` to the CLI's sub-commands."""
    parser = commands.add_parser(
        "run-notebook",
        help="execute a notebook with papermill and record it as a run (exit 1 on failure)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("notebook", help="the .ipynb file")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable); numbers, True/False and None are converted",
    )
    parser.add_argument(
        "-r",
        "--raw-parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter to the string VALUE, unconverted (repeatable)",
    )
    parser.add_argument("--output", "-o", help="write the executed notebook here too")
    parser.add_argument("--experiment", default="pipelines", help="experiment of the run")
    parser.add_argument("--kernel", help="kernel name (default: the notebook's)")
    parser.add_argument("--cwd", help="kernel working directory (default: the notebook's folder)")
    parser.add_argument("--timeout", type=float, help="seconds one cell may run")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    parameters = {name: parse_value(value) for name, value in args.parameter}
    parameters.update({name: value for name, value in args.raw_parameter})
    try:
        result = run_notebook(
            args.notebook,
            parameters,
            output=args.output,
            experiment=args.experiment,
            kernel_name=args.kernel,
            cwd=args.cwd,
            timeout=args.timeout,
        )
    except NotebookFailedError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
    print(
        f"ok: {result.notebook.name} in {result.duration_s:.1f} s; run {result.run_id} "
        f"({len(result.runs)} run(s) logged{': ' + metrics if metrics else ''})\n"
        f"  executed notebook: {result.output}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.cli.pipelines``: the command outside the ``workbench`` CLI (until it
    is registered there)."""
    import workbench as wb

    parser = argparse.ArgumentParser(prog="workbench")
    parser.add_argument("--store", help="store folder (default: WORKBENCH_STORE or ./.workbench)")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    if args.store:
        wb.set_store(args.store)
    try:
        code: int = args.handler(args)
    except wb.WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
