"""Progress: a plain line in logs, a bar in terminals/notebooks, nothing when asked."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest

from workbench.sweeps import _progress, sweep
from workbench.sweeps._progress import Progress, resolve_mode


def test_auto_is_a_log_line_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_PROGRESS", raising=False)
    assert resolve_mode("auto") == "log"  # pytest captures stderr: not a tty, not a kernel
    monkeypatch.setenv("WORKBENCH_PROGRESS", "none")
    assert resolve_mode("auto") == "none"
    assert resolve_mode("bar") == "bar"


def test_log_lines_every_tenth_and_at_the_end(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimpleNamespace(monotonic=lambda: 1000.0)  # no time passes, however busy the CPU
    monkeypatch.setattr(_progress, "time", clock)
    progress = Progress("log", name="s", total=20, done=0, timeout=None, maximize=False)
    for number in range(20):
        state = "pruned" if number % 5 == 0 else "complete"
        progress.trial_finished(state, float(20 - number), number)
    progress.close()
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 10  # one per 10 %, and no repeat of the last one at close
    assert lines[-1].startswith("sweep s: 20/20 trials (16 complete, 4 pruned), best 1 (trial 19)")
    assert "elapsed 0:00:00, ETA 0:00:00" in lines[-1]


def test_bar_mode_draws_through_tqdm(capfd: pytest.CaptureFixture[str]) -> None:
    progress = Progress("bar", name="s", total=4, done=1, timeout=None, maximize=True, best=0.5)
    for number in range(3):
        progress.trial_finished("complete", float(number), number)
    progress.close()
    err = capfd.readouterr().err
    assert "sweep s" in err and "4/4" in err and "best=2" in err


def test_sweep_reports_in_log_mode(store_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    verbosity = optuna.logging.get_verbosity()
    sweep(lambda t: t.suggest_float("x", 0, 1), n_trials=10, name="logged", progress="log")
    err = capfd.readouterr().err
    assert "sweep logged: 10/10 trials (10 complete), best" in err
    assert "Trial 0 finished" not in err  # Optuna's per-trial INFO lines are hidden meanwhile
    assert optuna.logging.get_verbosity() == verbosity  # and restored after
