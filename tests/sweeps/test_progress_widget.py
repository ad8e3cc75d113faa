"""The sweep progress bar in a Jupyter kernel: an ipywidgets bar, static HTML once finished."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.sweeps import _progress
from workbench.sweeps._progress import Progress


class _Handle:
    def __init__(self, shown: list[Any]) -> None:
        self.shown = shown

    def update(self, obj: Any) -> None:
        self.shown.append(obj)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the bar displays (instead of a kernel): the widget, then its replacement."""
    import IPython.display

    displayed: list[Any] = []

    def display(obj: Any, display_id: bool = False) -> _Handle:
        displayed.append(obj)
        return _Handle(displayed)

    monkeypatch.setattr(_progress, "_widgets_available", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    return displayed


def test_bar_is_an_ipywidgets_progress_bar_in_a_kernel(shown: list[Any]) -> None:
    import ipywidgets

    progress = Progress("bar", name="s", total=4, done=1, timeout=None, maximize=True, best=0.5)
    (box,) = shown
    assert isinstance(box, ipywidgets.HBox)
    bar, text = box.children
    assert isinstance(bar, ipywidgets.IntProgress) and (bar.value, bar.max) == (1, 4)
    for number in range(3):
        progress.trial_finished("complete" if number else "failed", float(number), number)
    assert bar.value == 4
    assert "4/4 trials (2 complete, 1 failed), best 2 (trial 2)" in text.value
    assert "ETA 0:00:00" in text.value
    progress.close()
    final = shown[-1]._repr_mimebundle_()
    assert final["text/plain"].startswith("sweep s: 4/4 trials (2 complete, 1 failed), best 2")
    assert "<progress value='4' max='4'" in final["text/html"]
    assert bar.bar_style == "warning"  # a failed trial


def test_bar_without_a_total_counts_trials(shown: list[Any]) -> None:
    progress = Progress("bar", name="t", total=None, done=0, timeout=60, maximize=None)
    progress.set_state(3, {"complete": 3}, None, None)
    (box,) = shown
    assert "3 trials (3 complete)" in box.children[1].value
    progress.close()
    final = shown[-1]._repr_mimebundle_()
    assert "<progress" not in final["text/html"] and "3 trials" in final["text/plain"]


def test_no_widget_outside_a_kernel(capfd: pytest.CaptureFixture[str]) -> None:
    assert not _progress._widgets_available()  # pytest is no Jupyter kernel
    progress = Progress("bar", name="u", total=2, done=0, timeout=None, maximize=False)
    progress.trial_finished("complete", 1.0, 0)
    progress.close()
    assert "sweep u" in capfd.readouterr().err  # tqdm's text bar
