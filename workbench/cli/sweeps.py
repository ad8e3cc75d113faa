"""CLI commands for sweeps: ``sweeps list``, ``sweeps show NAME`` and ``sweep worker NAME``.

``workbench sweep worker NAME --objective module:function`` joins (or starts) sweep NAME from
another terminal, job or machine: start as many as you like; they share the trials through the
sweep's Optuna storage and every trial is tracked as a run of the sweep.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import workbench as wb
from workbench import _options as o
from workbench.cli._common import add_format, print_frame
from workbench.sweeps import list_sweeps, load_sweep, sweep
from workbench.sweeps._options import SweepOptions

_TRIAL_COLUMNS = ["number", "run_id", "state", "duration"]


def load_objective(spec: str) -> Callable[..., Any]:
    """``module:function`` or ``path/to/file.py:function`` -> the function."""
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute:
        raise wb.InvalidParameterError(
            f"--objective must look like 'module:function' or 'file.py:function'. Got {spec!r}."
        )
    if target.endswith(".py"):
        path = Path(target).expanduser().absolute()
        if not path.is_file():
            raise wb.InvalidParameterError(f"--objective: no file {str(path)!r}.")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise wb.InvalidParameterError(f"--objective: cannot import {str(path)!r}.")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        module_spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path:  # like `python -m`: modules next to you are importable
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise wb.InvalidParameterError(
                f"--objective: cannot import module {target!r} ({exc}). Run from the folder "
                "that holds it, or give a file path: path/to/file.py:function."
            ) from None
    objective = getattr(module, attribute, None)
    if not callable(objective):
        raise wb.InvalidParameterError(f"--objective: {target!r} has no function {attribute!r}.")
    return objective  # type: ignore[no-any-return]


def _list(args: argparse.Namespace) -> None:
    print_frame(list_sweeps(), args.format)


def _show(args: argparse.Namespace) -> None:
    s = load_sweep(args.name, storage=args.storage)
    df = s.trials_dataframe()
    if not df.empty:
        value_columns = [c for c in df.columns if c == "value" or c.startswith("values_")]
        params = [c for c in df.columns if c.startswith("params_")]
        df = df[[*_TRIAL_COLUMNS, *value_columns, *params]]
        if len(s.directions) == 1 and value_columns:
            df = df.sort_values(
                value_columns[0], ascending=s.directions[0] == "minimize", na_position="last"
            )
        df = df.head(args.top)
        df["state"] = df["state"].str.lower()
        df["duration"] = df["duration"].dt.total_seconds().round(3)
    if args.format != "table":
        if args.format == "json":
            payload = {
                "name": s.name,
                "experiment": s.experiment,
                "directions": s.directions,
                "metric_names": s.metric_names,
                "storage": s.storage_label,
                "counts": s.counts(),
                "parent_run_id": s.parent_run_id,
                "trials": json.loads(df.to_json(orient="records", date_format="iso")),
            }
            print(json.dumps(payload, indent=2, default=str))
        else:
            print_frame(df, args.format)
        return
    print(repr(s))
    print(f"  experiment: {s.experiment}")
    pairs = zip(s.metric_names, s.directions, strict=True)
    print(f"  directions: {', '.join(f'{n} ({d})' for n, d in pairs)}")
    print(f"  storage:    {s.storage_label}")
    if s.parent_run_id:
        print(f"  parent run: {s.parent_run_id}")
    print(f"  top {args.top} trials:")
    print_frame(df, "table")


def _worker(args: argparse.Namespace) -> None:
    objective = load_objective(args.objective)
    result = sweep(objective, **o.cli_kwargs(args, SweepOptions))
    print(repr(result))


def register(commands: Any) -> None:
    """Add ``sweeps list|show`` and ``sweep worker`` to the top-level sub-parsers."""
    sweeps = commands.add_parser("sweeps", help="list sweeps and show one")
    actions = sweeps.add_subparsers(dest="sweeps_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the sweeps of the store, with trial counts")
    add_format(listing)
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="one sweep: summary and its best trials")
    show.add_argument("name")
    show.add_argument("--storage", help="Optuna storage URL if not the store's journal")
    show.add_argument("--top", type=int, default=10, help="how many trials to list")
    add_format(show)
    show.set_defaults(handler=_show)

    sweep_parser = commands.add_parser("sweep", help="run sweep worker processes")
    sweep_actions = sweep_parser.add_subparsers(
        dest="sweep_command", required=True, metavar="ACTION"
    )
    worker = sweep_actions.add_parser(
        "worker",
        help="join (or start) sweep NAME and run trials until it has --n-trials in total",
    )
    worker.add_argument(
        "--objective", required=True, help="module:function or path/to/file.py:function"
    )
    o.add_arguments(worker, SweepOptions, overrides={"progress": {"default": "log"}})
    worker.set_defaults(handler=_worker)
