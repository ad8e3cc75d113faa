"""IPython magics for notebooks that do not use the sidebar: ``%load_ext workbench``, then::

    %wb runs churn --filter "metrics.auc > 0.9" -n 20      # a DataFrame of runs
    %wb run RUN_ID                                          # a run card
    %wb compare RUN_ID RUN_ID ...                           # a comparison (tables, curves)
    %wb compare --experiment churn --order-by "metrics.auc DESC" -n 5
    %wb experiments | models [NAME] | card churn@champion | sweeps | sweep NAME
    %wb drift [RUN_ID]                                      # reports, or one report
    %wb store                                               # where the store is
    %%wb sql                                                # the cell is one SELECT
    select key, avg(value) from metrics group by key

Each returns the object (so it shows as the cell's output and ``_`` holds it). Python
variables expand as in any line magic: ``%wb run $run_id``. ``%wb help`` lists everything.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

import workbench as wb

__all__ = ["WorkbenchMagics", "load_ipython_extension"]


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> Any:
        raise _ArgumentError(f"{message}\n\n{self.format_usage()}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise _ArgumentError(message or self.format_help())


def _build_parser() -> _Parser:
    parser = _Parser(prog="%wb", description="workbench in a notebook", add_help=False)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    def command(name: str, text: str) -> _Parser:
        sub: _Parser = commands.add_parser(name, help=text, description=text, add_help=False)
        return sub

    runs = command("runs", "search runs: a DataFrame")
    runs.add_argument("experiment", nargs="*", help="experiment names (default: all)")
    runs.add_argument("--filter", "-f", help='e.g. "metrics.auc > 0.9 AND params.C < 1"')
    runs.add_argument("--order-by", "-o", action="append", help='e.g. "metrics.auc DESC"')
    runs.add_argument("-n", type=int, default=50, help="at most N runs (default 50)")
    run = command("run", "one run, shown as a card")
    run.add_argument("run_id")
    compare = command("compare", "compare runs: given ids, or the top of a search")
    compare.add_argument("run_ids", nargs="*")
    compare.add_argument("--experiment", "-e", action="append")
    compare.add_argument("--filter", "-f")
    compare.add_argument("--order-by", "-o", action="append")
    compare.add_argument("-n", type=int, default=5, help="runs from the search (default 5)")
    command("experiments", "experiments with their run counts")
    models = command("models", "registered models, or the versions of one")
    models.add_argument("name", nargs="?")
    card = command("card", "a model card, e.g. churn@champion or churn/2")
    card.add_argument("uri")
    command("sweeps", "sweeps")
    sweep = command("sweep", "one sweep")
    sweep.add_argument("name")
    drift = command("drift", "drift reports kept in the store, or one of them")
    drift.add_argument("run_id", nargs="?")
    sql = command("sql", "read-only SQL over the store's views (or %%wb sql with the query)")
    sql.add_argument("query", nargs="*")
    command("store", "the store this kernel uses")
    command("help", "this help")
    return parser


@magics_class
class WorkbenchMagics(Magics):  # type: ignore[misc]
    """The ``%wb`` line magic and ``%%wb`` cell magic."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self._parser = _build_parser()
        self._commands: dict[str, Callable[[argparse.Namespace, str | None], Any]] = {
            "runs": self._runs,
            "run": lambda a, _: wb.get_run(a.run_id),
            "compare": self._compare,
            "experiments": lambda a, _: wb.list_experiments(),
            "models": lambda a, _: wb.list_model_versions(a.name) if a.name else wb.list_models(),
            "card": lambda a, _: wb.model_card(a.uri),
            "sweeps": lambda a, _: wb.list_sweeps(),
            "sweep": lambda a, _: wb.load_sweep(a.name),
            "drift": self._drift,
            "sql": self._sql,
            "store": lambda a, _: wb.connect().store.location,
            "help": lambda a, _: _Help(self._parser.format_help()),
        }

    @line_cell_magic  # type: ignore[untyped-decorator]
    def wb(self, line: str, cell: str | None = None) -> Any:
        """workbench from a notebook; ``%wb help`` lists the commands."""
        try:
            args = self._parser.parse_args(shlex.split(line))
        except _ArgumentError as exc:
            return _Help(str(exc))
        if args.command is None:
            return _Help(self._parser.format_help())
        return self._commands[args.command](args, cell)

    @staticmethod
    def _runs(args: argparse.Namespace, cell: str | None) -> Any:
        return wb.search_runs(
            args.experiment or None, args.filter, args.order_by, max_results=args.n
        )

    @staticmethod
    def _compare(args: argparse.Namespace, cell: str | None) -> Any:
        from workbench.compare import compare

        if args.run_ids:
            return compare(args.run_ids)
        runs = wb.search_runs(args.experiment, args.filter, args.order_by, max_results=args.n)
        return compare(runs)

    @staticmethod
    def _drift(args: argparse.Namespace, cell: str | None) -> Any:
        if args.run_id:
            return wb.load_drift_report(args.run_id)
        return wb.search_runs(filter="tags.workbench.kind = 'drift_report'", max_results=100)

    @staticmethod
    def _sql(args: argparse.Namespace, cell: str | None) -> Any:
        query = (cell or "").strip() or " ".join(args.query)
        return wb.sql(query)


class _Help(str):
    """Text shown as is (not as a quoted string) when it is a cell's output."""

    def __repr__(self) -> str:
        return str(self)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext workbench`` (through ``workbench.load_ipython_extension``) or
    ``%load_ext workbench.jupyter.magics``."""
    ipython.register_magics(WorkbenchMagics)
