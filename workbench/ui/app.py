"""The servable dashboard: what ``workbench dashboard`` serves, and ``panel serve`` can too.

    workbench dashboard --store ./.workbench                 # the supported way (docs/ui.md)
    panel serve workbench/ui/app.py --args --store ./.workbench [--allow-writes]

``--store`` is a folder or a team store's ``postgresql://`` URL; a team store is opened
read-only unless ``--allow-writes`` (a role with only SELECT grants is enough then).

With ``panel serve``, pass Panel's own ``--basic-auth`` and ``--cookie-secret`` when it binds
anything but 127.0.0.1; ``workbench dashboard`` enforces that for you.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import panel as pn

from workbench.ui.dashboard import Dashboard

if TYPE_CHECKING:
    from workbench.client import Workbench

__all__ = ["create_app"]


def create_app(
    client: Workbench | None = None, *, read_only: bool = True
) -> pn.template.BootstrapTemplate:
    """One session of the dashboard: a fresh ``Dashboard`` in its template."""
    pn.extension("tabulator", "plotly", notifications=False)
    return Dashboard(client, read_only=read_only).template()


def _from_args(argv: Sequence[str]) -> pn.template.BootstrapTemplate:
    parser = argparse.ArgumentParser(prog="panel serve workbench/ui/app.py --args")
    parser.add_argument("--store", default=os.environ.get("WORKBENCH_STORE"))
    parser.add_argument("--allow-writes", action="store_true")
    args, _ = parser.parse_known_args(list(argv))
    from workbench.client import connect
    from workbench.ui.dashboard import dashboard_store

    read_only = not args.allow_writes

    def open_client() -> Workbench:
        return connect(dashboard_store(args.store, read_only=read_only))

    # This script runs once per session; the store is opened once per process.
    key = f"workbench-dashboard-client:{args.store}:{read_only}"
    client: Workbench = pn.state.as_cached(key, open_client)
    return create_app(client, read_only=read_only)


if __name__.startswith("bokeh_app"):  # executed by `panel serve`
    _from_args(sys.argv[1:]).servable()
