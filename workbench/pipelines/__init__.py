"""Pipelines: notebooks executed with papermill and recorded as runs.

    import workbench as wb

    result = wb.run_notebook("notebooks/01_track.ipynb", {"n_estimators": 50})

``workbench run-notebook NOTEBOOK -p name value`` does the same from a terminal and exits 1 when
the notebook (or a quality gate inside it) fails, so a CI pipeline is a list of such calls.
Needs ``pip install workbench[jupyter]`` (papermill, ipykernel); papermill is imported only when
a notebook runs.
"""

from __future__ import annotations

from workbench.pipelines.notebooks import NotebookFailedError, NotebookRun, run_notebook

__all__ = ["NotebookFailedError", "NotebookRun", "run_notebook"]
