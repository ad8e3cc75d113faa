"""Cells of the small notebooks the pipeline tests execute."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

MakeNotebook = Callable[..., Path]

OK_CELLS = (
    "x = 1\nlabel = 'a'",
    "import workbench as wb\n"
    "with wb.start_run('nb-exp', 'inner') as run:\n"
    "    run.log_params({'x': x, 'label': label})\n"
    "    run.log_metric('score', x * 2.0)\n"
    "    run.log_metric('loss', 1.0 / x)",
    "print('done', x)",
)
FAIL_CELLS = ("x = 1", "raise ValueError(f'boom {x}')")
GATE_CELLS = (
    "threshold = 0.9",
    "from workbench.monitoring import MetricThreshold, check_gate\n"
    "import workbench as wb\n"
    "with wb.start_run('nb-exp', 'candidate') as run:\n"
    "    run.log_metric('accuracy', 0.8)\n"
    "check_gate({'accuracy': 0.8}, {'accuracy': 0.85},\n"
    "           {'accuracy': MetricThreshold(threshold=threshold, greater_is_better=True)})",
)
