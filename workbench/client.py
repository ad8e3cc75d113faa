"""``Workbench``: the handle on one store, and ``connect()`` to get it.

``Workbench`` is the tracking client (:class:`workbench.tracking.client.TrackingClient`) plus the
layers above tracking: the registry, sweeps, serving, monitoring, compare and pipelines. Every
module-level function (``workbench.start_run``, ``workbench.deploy``, ...) takes the same
``client=`` keyword; leaving it out means the client of the configured store, which is what
``connect()`` returns. There is one client per store location in a process.
"""

from __future__ import annotations

import os
from typing import cast

from workbench.store import Store
from workbench.tracking import client as _tracking_client
from workbench.tracking.client import TrackingClient, client_for

__all__ = ["Workbench", "connect"]


class Workbench(TrackingClient):
    """A client of one store: everything workbench does, on that store.

    Parameters
    ----------
    store
        A ``Store``, a store folder, ``":memory:"``, or ``None`` for the configured default.
    """


_tracking_client.client_class = Workbench


def connect(store: Store | str | os.PathLike[str] | None = None) -> Workbench:
    """The client of ``store`` (default: the configured store); one per store per process."""
    return cast(Workbench, client_for(store))
