"""Helpers for the pipeline tests: small notebooks written on the fly."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from _pipeline_notebooks import MakeNotebook


@pytest.fixture
def make_notebook(tmp_path: Path) -> MakeNotebook:
    """``make_notebook(name, parameters_source, *cell_sources)`` writes a notebook whose first
    code cell is tagged ``parameters``."""

    def make(name: str, parameters: str, *cells: str) -> Path:
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        first = nbformat.v4.new_code_cell(parameters)
        first.metadata["tags"] = ["parameters"]
        notebook.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
        path = tmp_path / "notebooks" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        return path

    return make
