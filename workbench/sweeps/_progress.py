"""Sweep progress: a live bar in notebooks and terminals, a plain line in logs.

``mode`` is ``"bar"`` (in a Jupyter kernel with ipywidgets: an ipywidgets progress bar with the
counts, the best value and the ETA; elsewhere a ``tqdm`` text bar), ``"log"`` (a line every 10 %
of the trials or every 10 s, for papermill and CI logs, where a redrawn bar turns into thousands
of lines), or ``"none"``. ``"auto"`` picks ``bar`` in a Jupyter kernel or a terminal and ``log``
otherwise; the ``WORKBENCH_PROGRESS`` environment variable overrides it (e.g.
``WORKBENCH_PROGRESS=log`` for papermill runs). Nothing is printed: the bar writes through tqdm,
the log lines through ``tqdm.write``. When the sweep ends, the widget's output is replaced by the
final line as static HTML (a ``<progress>`` element and the summary), so a saved or
papermill-executed notebook shows the outcome without a widget state.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
import os
import sys
import threading
import time
from typing import Any

__all__ = ["Progress", "resolve_mode"]

LOG_EVERY_S = 10.0
MODES = ("bar", "log", "none")


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _widgets_available() -> bool:
    """Whether the bar can be an ipywidgets widget: a Jupyter kernel with ipywidgets."""
    return _in_jupyter_kernel() and importlib.util.find_spec("ipywidgets") is not None


def resolve_mode(mode: str) -> str:
    """The display to use for ``mode`` (see the module docstring)."""
    if mode != "auto":
        return mode
    forced = os.environ.get("WORKBENCH_PROGRESS", "").strip().lower()
    if forced in MODES:
        return forced
    if _in_jupyter_kernel():
        return "bar"
    stream = sys.stderr
    return "bar" if stream is not None and stream.isatty() else "log"


def _clock(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


class Progress:
    """Counts finished trials and shows them; thread-safe.

    Parameters
    ----------
    mode
        ``"bar"``, ``"log"``, ``"none"`` or ``"auto"``.
    name
        The sweep's name, shown first.
    total
        The number of trials the sweep should reach (None: until the timeout or forever).
    done
        Trials the sweep already had when this session started.
    timeout
        Seconds this session may run (for the ETA when ``total`` is None).
    maximize
        For a single-objective sweep, whether larger values are better (None: several
        objectives, no "best" shown).
    best
        The best value so far, if any.
    counts
        Finished trials by state (complete, pruned, failed) when this session started.
    """

    def __init__(
        self,
        mode: str,
        *,
        name: str,
        total: int | None,
        done: int,
        timeout: float | None,
        maximize: bool | None,
        best: float | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.mode = resolve_mode(mode)
        self.name = name
        self.total = total
        self.done = done
        self.timeout = timeout
        self.maximize = maximize
        self.best = best
        self.best_trial: int | None = None
        self.counts = {"complete": 0, "pruned": 0, "failed": 0, **(counts or {})}
        self._written_at = -1
        self._start_done = done
        self._start = time.monotonic()
        self._last_line = self._start
        self._last_decile = self._decile(done)
        self._lock = threading.Lock()
        self._bar: Any = None
        if self.mode == "bar" and _widgets_available():
            self._bar = _WidgetBar(self)
        elif self.mode == "bar":
            from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the venv

            self._bar = tqdm(
                total=total,
                initial=done,
                desc=f"sweep {name}",
                unit="trial",
                dynamic_ncols=True,
                leave=True,
            )

    def _decile(self, done: int) -> int:
        return -1 if not self.total else (10 * done) // self.total

    # -- updates ------------------------------------------------------------------------------
    def trial_finished(self, state: str, value: float | None, number: int) -> None:
        """One trial of this process ended (``state``: complete / pruned / failed / ...)."""
        if self.mode == "none":
            return
        with self._lock:
            key = state if state in self.counts else "failed"
            self.counts[key] += 1
            self.done += 1
            if value is not None and self.maximize is not None and self._better(value):
                self.best, self.best_trial = value, number
            self._show(1)

    def set_state(
        self, done: int, counts: dict[str, int], best: float | None, best_trial: int | None
    ) -> None:
        """Absolute totals (polled from the storage while worker processes run the trials)."""
        if self.mode == "none":
            return
        with self._lock:
            step = max(0, done - self.done)
            self.done, self.counts = done, dict(counts)
            self.best, self.best_trial = best, best_trial
            if step:
                self._show(step)

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.maximize else value < self.best

    # -- display --------------------------------------------------------------------------------
    def summary(self) -> str:
        """``12/50 trials (10 complete, 1 pruned, 1 failed), best 0.0123 (trial 7)``."""
        of = f"/{self.total}" if self.total else ""
        parts = ", ".join(f"{n} {k}" for k, n in self.counts.items() if n)
        text = f"{self.done}{of} trials" + (f" ({parts})" if parts else "")
        if self.best is not None:
            text += f", best {self.best:.6g}"
            if self.best_trial is not None:
                text += f" (trial {self.best_trial})"
        return text

    def _eta(self, elapsed: float) -> str:
        finished_here = self.done - self._start_done
        if self.total and finished_here > 0:
            return _clock(elapsed / finished_here * max(0, self.total - self.done))
        if self.timeout:
            return _clock(max(0.0, self.timeout - elapsed))
        return "?"

    def _show(self, step: int) -> None:
        if self._bar is not None:
            if self.best is not None:
                self._bar.set_postfix_str(f"best={self.best:.6g}", refresh=False)
            self._bar.update(step)
            return
        now = time.monotonic()
        decile = self._decile(self.done)
        if now - self._last_line >= LOG_EVERY_S or decile != self._last_decile:
            self._last_line, self._last_decile = now, decile
            self._write(now)

    def _write(self, now: float) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        self._written_at = self.done

        elapsed = now - self._start
        tqdm.write(
            f"sweep {self.name}: {self.summary()}, elapsed {_clock(elapsed)}, "
            f"ETA {self._eta(elapsed)}",
            file=sys.stderr,
        )

    def close(self) -> None:
        """Finish the display (a final line in log mode)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            elif self.mode == "log" and self._written_at != self.done:
                self._write(time.monotonic())


class _WidgetBar:
    """The ``bar`` display in a Jupyter kernel: an ipywidgets bar and a line of text.

    Same interface as the tqdm bar (``set_postfix_str``, ``update``, ``close``); the text is
    the :class:`Progress` summary with the elapsed time and the ETA. ``close()`` replaces the
    live widget by static HTML of the final state (see the module docstring).
    """

    def __init__(self, progress: Progress) -> None:
        import ipywidgets  # type: ignore[import-untyped]  # no stubs
        from IPython import display as ipython_display

        display: Any = ipython_display.display  # untyped

        self._progress = progress
        self._bar = ipywidgets.IntProgress(
            value=min(progress.done, progress.total or 0),
            min=0,
            max=progress.total or 1,
            description=f"sweep {progress.name}",
            bar_style="" if progress.total else "info",
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="40%", min_width="240px"),
        )
        self._text = ipywidgets.HTML(value=html.escape(self._line()))
        self._box = ipywidgets.HBox([self._bar, self._text])
        self._handle = display(self._box, display_id=True)

    def _line(self, now: float | None = None) -> str:
        progress = self._progress
        elapsed = (time.monotonic() if now is None else now) - progress._start
        return f"{progress.summary()}, elapsed {_clock(elapsed)}, ETA {progress._eta(elapsed)}"

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """Nothing to do: the line shows the best value already."""

    def update(self, step: int) -> None:
        progress = self._progress
        if progress.total:
            self._bar.value = min(progress.done, progress.total)
        self._text.value = html.escape(self._line())

    def close(self) -> None:
        progress = self._progress
        line = f"sweep {progress.name}: {self._line()}"
        failed = progress.counts.get("failed", 0)
        self._bar.bar_style = "warning" if failed else "success"
        final = _FinalLine(line, progress.done, progress.total)
        if self._handle is not None:
            self._handle.update(final)
        self._box.close()
        self._bar.close()
        self._text.close()


class _FinalLine:
    """A sweep's last progress line as a static output (no widget state needed to show it)."""

    def __init__(self, text: str, done: int, total: int | None) -> None:
        self.text, self.done, self.total = text, done, total

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench._html import render

        page = render("sweep_progress.html.j2", text=self.text, done=self.done, total=self.total)
        return {"text/plain": self.text, "text/html": page}
