"""CLI commands for the model registry: ``workbench models list|show|alias|rollback|...``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench import registry
from workbench.cli._common import add_format, print_frame
from workbench.exceptions import InvalidParameterError


def _list(args: argparse.Namespace) -> None:
    print_frame(registry.list_models(), args.format)


def _versions(args: argparse.Namespace) -> None:
    print_frame(registry.list_model_versions(args.name), args.format)


def _show(args: argparse.Namespace) -> None:
    card = registry.model_card(args.uri)
    if args.format == "json":
        print(json.dumps(card.to_dict(), indent=2, default=str))
    elif args.format == "markdown":
        print(card.to_markdown(), end="")
    else:
        _print_card(card)


def _print_card(card: registry.ModelCard) -> None:
    print(card.title)
    for section in card.sections():
        print(f"\n  {section.title}")
        for key, value in section.items:
            print(f"    {key}: {value}")
        if section.columns:
            widths = [
                max(len(str(c)), *(len(str(r[i])) for r in section.rows))
                for i, c in enumerate(section.columns)
            ]
            print(
                "    "
                + "  ".join(str(c).ljust(w) for c, w in zip(section.columns, widths, strict=True))
            )
            for row in section.rows:
                print("    " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
        if section.note and not section.items:
            print(f"    ({section.note})")


def _card(args: argparse.Namespace) -> None:
    path = registry.model_card(args.uri).save(args.output)
    print(f"wrote {path}")


def _alias(args: argparse.Namespace) -> None:
    if args.delete:
        if args.version is not None:
            raise InvalidParameterError("Give either a VERSION or --delete, not both.")
        registry.delete_alias(args.name, args.alias, reason=args.reason)
        print(f"deleted alias {args.name}@{args.alias}")
        return
    if args.version is None:
        raise InvalidParameterError(
            "Give the VERSION the alias should point at (models alias NAME ALIAS 3), or --delete."
        )
    version = registry.set_alias(args.name, args.alias, args.version, reason=args.reason)
    print(f"{args.name}@{args.alias} -> version {version.version}")


def _rollback(args: argparse.Namespace) -> None:
    version = registry.rollback(args.name, args.alias, reason=args.reason)
    print(f"{args.name}@{args.alias} rolled back to version {version.version}")


def _history(args: argparse.Namespace) -> None:
    print_frame(registry.alias_history(args.name, args.alias), args.format)


def register(commands: Any) -> None:
    """Add the ``models`` command to the top-level sub-parsers."""
    models = commands.add_parser("models", help="registered models, versions and aliases")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    listing = sub.add_parser("list", help="registered models")
    add_format(listing)
    listing.set_defaults(handler=_list)

    versions = sub.add_parser("versions", help="versions of one model, with training metrics")
    versions.add_argument("name")
    add_format(versions)
    versions.set_defaults(handler=_versions)

    show = sub.add_parser("show", help="a model version's card: lineage, signature, aliases")
    show.add_argument("uri", help="name (latest), name/3, name@champion or models:/...")
    show.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    show.set_defaults(handler=_show)

    card = sub.add_parser("card", help="export a model card to .html, .md or .json")
    card.add_argument("uri")
    card.add_argument("--output", "-o", required=True, help="e.g. card.html")
    card.set_defaults(handler=_card)

    alias = sub.add_parser(
        "alias", help="point an alias at a version (NAME ALIAS VERSION), or --delete it"
    )
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", nargs="?", type=int)
    alias.add_argument("--delete", action="store_true", help="remove the alias")
    alias.add_argument("--reason", help="why (kept in the alias history)")
    alias.set_defaults(handler=_alias)

    rollback = sub.add_parser("rollback", help="move an alias back to its previous version")
    rollback.add_argument("name")
    rollback.add_argument("alias")
    rollback.add_argument("--reason", help="why (kept in the alias history)")
    rollback.set_defaults(handler=_rollback)

    history = sub.add_parser("history", help="who moved which alias when, and why")
    history.add_argument("name")
    history.add_argument("alias", nargs="?")
    add_format(history)
    history.set_defaults(handler=_history)
