"""CLI commands for the store itself: ``doctor``, ``store copy SRC DST`` and ``store init URL``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

import workbench as wb
from workbench.store import copy_store, init_team_store
from workbench.sweeps import copy_studies


def _doctor(args: argparse.Namespace) -> int:
    if args.sync:
        wb.flush()
        wb.connect().store.sync()
    health = wb.doctor()
    if args.format == "json":
        print(json.dumps(dataclasses.asdict(health), indent=2, default=str))
    else:
        print(health)
    return 1 if args.strict and health.damage else 0


def _copy(args: argparse.Namespace) -> int:
    report = copy_store(
        args.source, args.destination, progress=not args.no_progress, studies=copy_studies
    )
    if args.format == "json":
        payload = {**dataclasses.asdict(report), "new_rows": report.new_rows}
        print(json.dumps({**payload, "verified": report.verified}, indent=2))
    else:
        print(report)
    return 0 if report.verified else 1


def _init(args: argparse.Namespace) -> None:
    print(init_team_store(args.url))
    if args.artifacts is not None:
        from workbench.store.postgres import set_artifacts_location

        set_artifacts_location(args.url, args.artifacts)
        print(f"Artifacts of this store live in {args.artifacts} (for every machine).")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "doctor",
        help="health of the store: journals waiting, damaged journal bytes found and skipped",
        description="Report the store's journals waiting to be ingested and every range of "
        "damaged journal bytes that was found, skipped and kept in spool/corrupt/.",
    )
    parser.add_argument("--sync", action="store_true", help="ingest every journal first")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any damage was found")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=_doctor)

    store = commands.add_parser("store", help="copy a store, set up a team store")
    sub = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    copy = sub.add_parser(
        "copy",
        help="copy a store into another (local <-> team store), keeping ids; resumable",
        description="Copy runs, metric histories, artifact files, datasets, the registry with "
        "its alias history, deployments and request logs, and sweeps from SRC into DST, with "
        "the same ids. Run it again to finish an interrupted copy: nothing is copied twice. "
        "Exits 1 if the counts at the end do not verify.",
    )
    copy.add_argument("source", metavar="SRC", help="store folder or postgresql:// URL")
    copy.add_argument("destination", metavar="DST", help="store folder or postgresql:// URL")
    copy.add_argument("--no-progress", action="store_true", help="no progress bars")
    copy.add_argument("--format", choices=("text", "json"), default="text")
    copy.set_defaults(handler=_copy)
    init = sub.add_parser(
        "init",
        help="create or migrate a team store's schema in a PostgreSQL database",
        description="Create the workbench tables and views in an empty PostgreSQL database, "
        "or migrate an older team store; safe to run again, and from several machines.",
    )
    init.add_argument("url", metavar="URL", help="postgresql://USER@HOST:PORT/DATABASE")
    init.add_argument(
        "--artifacts",
        metavar="LOCATION",
        help="where every machine keeps the store's artifact files: s3://BUCKET/PREFIX or a "
        "shared folder (recorded in the store)",
    )
    init.set_defaults(handler=_init)
