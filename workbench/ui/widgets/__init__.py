"""The workbench views as Panel ``Viewer``s: the same objects in notebooks and the dashboard."""

from __future__ import annotations

from workbench.ui.widgets.deployment_view import DeploymentLike, DeploymentView
from workbench.ui.widgets.drift_view import DriftView
from workbench.ui.widgets.model_view import ModelView
from workbench.ui.widgets.run_compare import RunCompare
from workbench.ui.widgets.runs_browser import RunsBrowser
from workbench.ui.widgets.sweep_view import SweepView

__all__ = [
    "DeploymentLike",
    "DeploymentView",
    "DriftView",
    "ModelView",
    "RunCompare",
    "RunsBrowser",
    "SweepView",
]
