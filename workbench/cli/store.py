"""CLI commands for the store itself: ``doctor``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

import workbench as wb


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
