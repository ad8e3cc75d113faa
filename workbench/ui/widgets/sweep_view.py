"""``SweepView``: a sweep's progress, best trial, figures and trial runs, updated live."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import panel as pn
import param

from workbench.exceptions import WorkbenchError
from workbench.ui._common import LiveViewer, error_text, figure_pane, get_client, message, table

if TYPE_CHECKING:
    from workbench.client import Workbench

__all__ = ["SweepView"]

_TRIAL_COLUMNS = ("trial_number", "trial_state", "name", "status", "duration_s")
_FIGURES = (
    ("plot_optimization_history", "optimization history"),
    ("plot_sweep_parallel_coordinates", "parallel coordinates"),
    ("plot_intermediate_values", "intermediate values"),
    ("plot_timeline", "timeline"),
)


class SweepView(LiveViewer):
    """Follow a sweep: trial counts, best value, figures and the table of trial runs.

    With ``live`` (the default) the view re-reads the sweep every ``refresh_s`` seconds while
    it is displayed, and redraws when trials were added or changed state.

    Parameters
    ----------
    sweep
        A :class:`workbench.sweeps.Sweep` or a sweep name (loaded with ``load_sweep``).
    client
        The workbench client used to load a sweep by name (default: the configured store).
    """

    sweep = param.Parameter(default=None, doc="The workbench Sweep shown.")
    live = param.Boolean(default=True, doc="Re-read the sweep while it is displayed.")
    refresh_s = param.Number(default=2.0, bounds=(0.2, None), doc="Live refresh period.")

    def __init__(
        self, sweep: Any = None, *, client: Workbench | None = None, **params: Any
    ) -> None:
        self._client = client
        self._error: str | None = None
        if isinstance(sweep, str):
            sweep = self._load(sweep)
        super().__init__(sweep=sweep, **params)
        self._signature: Any = None
        self._layout = pn.Column(sizing_mode="stretch_width", css_classes=["wb-sweep-view"])
        self.refresh(force=True)

    def _load(self, name: str) -> Any:
        try:
            from workbench.sweeps import load_sweep

            return load_sweep(name, client=get_client(self._client))
        except (WorkbenchError, ImportError) as exc:
            self._error = error_text(exc)
            return None

    def _state(self) -> Any:
        trials = self.sweep.study.get_trials(deepcopy=False)
        return tuple((t.number, t.state, len(t.intermediate_values)) for t in trials)

    def refresh(self, *, force: bool = False) -> bool:
        """Re-read the sweep; redraw if it changed. Returns True when it redrew."""
        if self.sweep is None:
            text = self._error or "No sweep selected."
            self._layout.objects = [message(f"**No sweep to show.** {text}", kind="light")]
            return False
        try:
            signature = self._state()
        except Exception as exc:  # storage unreachable: keep the last view, say why
            self._layout.objects = [
                message(f"Cannot read the sweep: {error_text(exc)}", kind="warning")
            ]
            return False
        if not force and signature == self._signature:
            return False
        self._signature = signature
        self._layout.objects = self._render()
        return True

    def _render(self) -> list[Any]:
        from workbench.sweeps import plots

        sweep = self.sweep
        counts = sweep.counts()
        parts = ", ".join(f"{n} {k}" for k, n in counts.items() if n and k != "total")
        best = ""
        if counts.get("complete") and not sweep.is_multi_objective:
            trial = sweep.best_trial
            best = f" \u00b7 best **{trial.value:.6g}** (trial {trial.number}: {trial.params})"
        header = pn.pane.Markdown(
            f"## Sweep {sweep.name}\n{counts['total']} trials ({parts or 'none yet'}) \u00b7 "
            f"{', '.join(sweep.directions)} {', '.join(sweep.metric_names)}{best}",
            sizing_mode="stretch_width",
        )
        figures = [
            figure_pane(partial(getattr(plots, name), sweep), title) for name, title in _FIGURES
        ]
        runs = sweep.runs()
        columns = [c for c in _TRIAL_COLUMNS if c in runs] + sorted(
            c for c in runs.columns if c.startswith(("params.", "metrics."))
        )
        trials = (
            table(runs[columns], height=320, pagination="local", page_size=20)
            if not runs.empty
            else pn.pane.Markdown("_No trial runs yet._")
        )
        return [
            header,
            pn.GridBox(*figures, ncols=2, sizing_mode="stretch_width"),
            "### Trials",
            trials,
        ]

    @param.depends("sweep", watch=True)
    def _on_sweep(self) -> None:
        self.refresh(force=True)

    def __panel__(self) -> pn.Column:
        self.start_live()
        return self._layout
