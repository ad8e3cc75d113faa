"""Compare runs: differing params, final metrics, overlaid curves and figures.

    import workbench as wb

    c = wb.compare(wb.search_runs("churn", order_by="metrics.auc DESC", max_results=5))
    c                                   # renders in a notebook: tables and figures
    c.params()                          # params that differ, one column per run
    c.plot_metric_history(x="relative", smoothing=0.6)
    plot_parallel_coordinates(sweep)    # from workbench.compare import ...; takes runs directly

Every figure is drawn from a pure function of :mod:`workbench.compare._data` (tested on its
own). ``workbench.compare`` the function shadows this package as an attribute of
``workbench``: import names from it with ``from workbench.compare import ...``. This package
never imports a UI library; ``RunComparison.__panel__`` imports panel only when Panel asks.
Its names load on first use (pandas and plotly with them), so ``import workbench`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench import _lazy

if TYPE_CHECKING:
    from workbench.compare.comparison import (
        PLOTLYJS_MODES,
        RunComparison,
        compare,
        set_plotlyjs,
    )
    from workbench.compare.plots import (
        plot_final_metrics,
        plot_metric_history,
        plot_parallel_coordinates,
        plot_param_vs_metric,
    )

__all__ = [
    "PLOTLYJS_MODES",
    "RunComparison",
    "compare",
    "plot_final_metrics",
    "plot_metric_history",
    "plot_parallel_coordinates",
    "plot_param_vs_metric",
    "set_plotlyjs",
]

_EXPORTS = {
    "PLOTLYJS_MODES": "workbench.compare.comparison",
    "RunComparison": "workbench.compare.comparison",
    "compare": "workbench.compare.comparison",
    "set_plotlyjs": "workbench.compare.comparison",
    "plot_final_metrics": "workbench.compare.plots",
    "plot_metric_history": "workbench.compare.plots",
    "plot_parallel_coordinates": "workbench.compare.plots",
    "plot_param_vs_metric": "workbench.compare.plots",
}
__getattr__, __dir__ = _lazy.attach(globals(), _EXPORTS)
