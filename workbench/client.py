"""``Workbench``: the handle on one store, and ``connect()`` to get it.

``Workbench`` is the tracking client (:class:`workbench.tracking.client.TrackingClient`) plus the
layers above tracking: the registry, sweeps, serving, monitoring, compare and pipelines. Every
module-level function that touches a store (``workbench.start_run``, ``workbench.deploy``, ...)
takes the same ``client=`` keyword; leaving it out means the client of the configured store,
which is what ``connect()`` returns. There is one client per store location in a process.

The layer methods of ``Workbench`` are those same functions with ``client`` bound::

    team = workbench.connect("/shared/team-store")
    team.deploy("churn@champion")          # == workbench.deploy("churn@champion", client=team)

Each layer is imported the first time one of its methods is used, so ``import workbench``
stays light.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from typing import Any, cast, overload

from workbench.store import Store
from workbench.tracking import client as _tracking_client
from workbench.tracking.client import TrackingClient, client_for

__all__ = ["Workbench", "connect"]


class _OnClient:
    """A layer's module-level function as a ``Workbench`` method, with ``client=`` bound.

    The function is named by module and attribute and imported on first use: the layers sit
    above this module's imports only at call time, so importing ``workbench.client`` loads none
    of optuna, scipy, scikit-learn, plotly or starlette.
    """

    def __init__(self, module: str) -> None:
        self.module = module
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def function(self) -> Callable[..., Any]:
        return cast("Callable[..., Any]", getattr(importlib.import_module(self.module), self.name))

    @overload
    def __get__(self, client: None, owner: type) -> _OnClient: ...
    @overload
    def __get__(self, client: Workbench, owner: type) -> Callable[..., Any]: ...
    def __get__(self, client: Workbench | None, owner: type) -> _OnClient | Callable[..., Any]:
        if client is None:
            return self
        function = self.function()
        bound = functools.partial(function, client=client)
        return functools.update_wrapper(bound, function)

    def __repr__(self) -> str:
        return f"<workbench method {self.name} = {self.module}.{self.name}(..., client=...)>"


class Workbench(TrackingClient):
    """A client of one store: everything workbench does, on that store.

    Tracking methods (``start_run``, ``search_runs``, ``sql`` ...) are inherited from
    :class:`~workbench.tracking.client.TrackingClient`; the methods below are the module-level
    functions of the same name with ``client`` bound to this store.

    Parameters
    ----------
    store
        A ``Store``, a store folder, ``":memory:"``, or ``None`` for the configured default.
    """

    # -- registry ---------------------------------------------------------------------------
    register_model = _OnClient("workbench.registry")
    get_model_version = _OnClient("workbench.registry")
    load_model = _OnClient("workbench.registry")
    list_models = _OnClient("workbench.registry")
    list_model_versions = _OnClient("workbench.registry")
    set_alias = _OnClient("workbench.registry")
    delete_alias = _OnClient("workbench.registry")
    rollback = _OnClient("workbench.registry")
    alias_history = _OnClient("workbench.registry")
    delete_model_version = _OnClient("workbench.registry")
    update_model = _OnClient("workbench.registry")
    model_card = _OnClient("workbench.registry")
    # -- sweeps -----------------------------------------------------------------------------
    sweep = _OnClient("workbench.sweeps")
    load_sweep = _OnClient("workbench.sweeps")
    list_sweeps = _OnClient("workbench.sweeps")
    # -- serving ----------------------------------------------------------------------------
    deploy = _OnClient("workbench.serving")
    get_deployment = _OnClient("workbench.serving")
    list_deployments = _OnClient("workbench.serving")
    stop_deployment = _OnClient("workbench.serving")
    read_request_log = _OnClient("workbench.serving")
    batch_predict = _OnClient("workbench.serving")
    # -- monitoring -------------------------------------------------------------------------
    drift_report = _OnClient("workbench.monitoring")
    load_drift_report = _OnClient("workbench.monitoring")
    drift_over_time = _OnClient("workbench.monitoring")
    evaluate = _OnClient("workbench.monitoring")
    check_gate = _OnClient("workbench.monitoring")
    monitor = _OnClient("workbench.monitoring")
    # -- compare ----------------------------------------------------------------------------
    compare = _OnClient("workbench.compare")
    plot_metric_history = _OnClient("workbench.compare")
    plot_parallel_coordinates = _OnClient("workbench.compare")
    plot_param_vs_metric = _OnClient("workbench.compare")
    plot_final_metrics = _OnClient("workbench.compare")
    # -- pipelines --------------------------------------------------------------------------
    run_notebook = _OnClient("workbench.pipelines")

    @classmethod
    def layer_methods(cls) -> dict[str, str]:
        """Method name → the module whose function it binds (used by the docs and tests)."""
        return {
            name: attr.module for name, attr in vars(cls).items() if isinstance(attr, _OnClient)
        }


_tracking_client.client_class = Workbench


def connect(store: Store | str | os.PathLike[str] | None = None) -> Workbench:
    """The client of ``store`` (default: the configured store); one per store per process."""
    client = client_for(store)
    if not isinstance(client, Workbench):
        # Built by a layer imported on its own (``from workbench.tracking.fluent import ...``)
        # before this module registered Workbench; it has no state of its own, only methods.
        client.__class__ = Workbench
    return cast(Workbench, client)
