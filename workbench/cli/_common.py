"""Helpers shared by the CLI command modules: output formats."""

from __future__ import annotations

import argparse

import pandas as pd


def print_frame(df: pd.DataFrame, fmt: str) -> None:
    if fmt == "json":
        print(df.to_json(orient="records", date_format="iso", indent=2))
    elif fmt == "csv":
        print(df.to_csv(index=False), end="")
    elif df.empty:
        print("(no rows)")
    else:
        with pd.option_context(
            "display.max_rows",
            500,
            "display.max_columns",
            50,
            "display.width",
            200,
            "display.max_colwidth",
            40,
        ):
            print(df.to_string(index=False))


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
