"""Panel widgets and the dashboard; import it explicitly (the core never imports Panel).

    import workbench.ui as wbui

    wbui.extension()                                  # once per notebook (docs/ui.md)
    wbui.RunsBrowser(experiment="churn")              # paged, filterable runs table
    wbui.RunCompare(runs=[id1, id2])                  # or: workbench.compare([id1, id2])
    wbui.SweepView("lr-search")                       # live while the sweep runs
    wbui.ModelView("churn@champion")
    wbui.DriftView(report)
    wbui.Dashboard()                                  # every page; `workbench dashboard` serves it

Needs ``pip install workbench[ui]`` (panel).
"""

from __future__ import annotations

try:
    import panel  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"workbench.ui requires panel ({exc}). Install it with `pip install workbench[ui]`."
    ) from None

from workbench.ui._common import extension
from workbench.ui.dashboard import Dashboard
from workbench.ui.widgets import (
    DeploymentLike,
    DeploymentView,
    DriftView,
    ModelView,
    RunCompare,
    RunsBrowser,
    SweepView,
)

__all__ = [
    "Dashboard",
    "DeploymentLike",
    "DeploymentView",
    "DriftView",
    "ModelView",
    "RunCompare",
    "RunsBrowser",
    "SweepView",
    "extension",
]
