"""CLI commands for tracking: ``runs``, ``sql``, ``experiments``."""

from __future__ import annotations

import argparse
import json
from typing import Any

import workbench as wb
from workbench.cli._common import add_format, print_frame

_SUMMARY_COLUMNS = ["run_id", "name", "experiment", "status", "start_time", "duration_s"]


def _runs_list(args: argparse.Namespace) -> None:
    df = wb.search_runs(
        args.experiment,
        filter=args.filter,
        order_by=args.order_by or None,
        max_results=args.max_results,
        include_deleted=args.include_deleted,
    )
    if not args.all_columns and not df.empty:
        metric_columns = [c for c in df.columns if c.startswith("metrics.")][:4]
        df = df[[*_SUMMARY_COLUMNS, *metric_columns]]
    print_frame(df, args.format)


def _runs_show(args: argparse.Namespace) -> None:
    run = wb.get_run(args.run_id)
    if args.format == "json":
        payload = {
            "run_id": run.run_id,
            "name": run.name,
            "experiment": run.experiment,
            "status": run.status.value,
            "start_time": run.start_time.isoformat(),
            "end_time": run.end_time.isoformat() if run.end_time else None,
            "parent_id": run.parent_id,
            "error": run.error,
            "params": dict(run.params),
            "metrics": dict(run.metrics),
            "tags": dict(run.tags),
            "context": dict(run.context),
            "inputs": [
                {"name": i.dataset.name, "digest": i.dataset.digest, "context": i.context}
                for i in run.inputs
            ],
            "artifacts": [a.path for a in run.artifacts],
            "children": list(run.children),
        }
        print(json.dumps(payload, indent=2, default=str))
        return
    duration = f"{run.duration.total_seconds():.2f} s" if run.duration else "-"
    print(
        f"{run.name}  ({run.run_id})\n  experiment: {run.experiment}\n  status:     "
        f"{run.status.value}"
        + (f" - {run.error}" if run.error else "")
        + f"\n  started:    {run.start_time:%Y-%m-%d %H:%M:%S} UTC, duration {duration}"
    )
    if run.parent_id:
        print(f"  parent:     {run.parent_id}")
    git = run.context.get("git") or {}
    if git:
        print(
            f"  code:       {git.get('commit', '')[:12]}" + (" (dirty)" if git.get("dirty") else "")
        )
    for title, values in (("params", run.params), ("metrics", run.metrics), ("tags", run.tags)):
        if values:
            print(f"  {title}:")
            for key, value in sorted(values.items()):
                print(f"    {key} = {value}")
    for item in run.inputs:
        print(
            f"  input:      {item.dataset.name} ({item.context}, {item.dataset.n_rows} rows, "
            f"{item.dataset.digest[:12]})"
        )
    for artifact in run.artifacts:
        print(f"  artifact:   {artifact.path} ({artifact.size} B)")


def _run_state(args: argparse.Namespace) -> None:
    (wb.delete_run if args.action == "delete" else wb.restore_run)(args.run_id)
    print(f"{args.action}d run {args.run_id}")


def _sql(args: argparse.Namespace) -> None:
    print_frame(wb.sql(args.query), args.format)


def _experiments_list(args: argparse.Namespace) -> None:
    print_frame(wb.list_experiments(include_deleted=args.include_deleted), args.format)


def _experiments_change(args: argparse.Namespace) -> None:
    if args.action == "create":
        wb.create_experiment(args.name, args.description)
    elif args.action == "rename":
        wb.rename_experiment(args.name, args.new_name)
    elif args.action == "delete":
        wb.delete_experiment(args.name)
    else:
        wb.restore_experiment(args.name)
    print(f"{args.action}d experiment {args.name}")


def register(commands: Any) -> None:
    """Add the tracking commands to the top-level sub-parsers."""
    runs = commands.add_parser("runs", help="list, show, delete or restore runs")
    runs_commands = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    listing = runs_commands.add_parser("list", help="search runs")
    listing.add_argument("--experiment", "-e", action="append", help="experiment name (repeat)")
    listing.add_argument("--filter", "-f", help='e.g. "metrics.auc > 0.9 AND params.C < 1"')
    listing.add_argument("--order-by", "-o", action="append", help="e.g. 'metrics.auc DESC'")
    listing.add_argument("--max-results", "-n", type=int, default=50)
    listing.add_argument("--include-deleted", action="store_true")
    listing.add_argument(
        "--all-columns", "-a", action="store_true", help="show every params/metrics/tags column"
    )
    add_format(listing)
    listing.set_defaults(handler=_runs_list)
    show = runs_commands.add_parser("show", help="one run in detail")
    show.add_argument("run_id")
    add_format(show)
    show.set_defaults(handler=_runs_show)
    for action in ("delete", "restore"):
        sub = runs_commands.add_parser(action, help=f"{action} a run (soft)")
        sub.add_argument("run_id")
        sub.set_defaults(handler=_run_state, action=action)

    sql = commands.add_parser("sql", help="read-only SQL over the store's views")
    sql.add_argument("query", help='e.g. "select key, avg(value) from metrics group by key"')
    add_format(sql)
    sql.set_defaults(handler=_sql)

    experiments = commands.add_parser("experiments", help="list and manage experiments")
    exp_commands = experiments.add_subparsers(dest="exp_command", required=True, metavar="ACTION")
    exp_list = exp_commands.add_parser("list", help="experiments with run counts")
    exp_list.add_argument("--include-deleted", action="store_true")
    add_format(exp_list)
    exp_list.set_defaults(handler=_experiments_list)
    for action in ("create", "rename", "delete", "restore"):
        sub = exp_commands.add_parser(action, help=f"{action} an experiment")
        sub.add_argument("name")
        if action == "rename":
            sub.add_argument("new_name")
        if action == "create":
            sub.add_argument("--description")
        sub.set_defaults(handler=_experiments_change, action=action)
