"""The public surface: a sorted __all__, every name importable and lazy, no UI module pulled in."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import workbench

UI_MODULES = ("panel", "ipywidgets", "jupyter_server", "tornado", "bokeh")


def test_all_is_sorted_and_importable() -> None:
    assert workbench.__all__ == sorted(workbench.__all__)
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_import_pulls_in_no_ui_module() -> None:
    code = (
        "import sys, workbench\n"
        f"loaded = sorted(m for m in {UI_MODULES!r} if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_exceptions_share_one_root_and_builtins() -> None:
    assert issubclass(workbench.InvalidParameterError, ValueError)
    assert issubclass(workbench.RunNotFoundError, KeyError)
    for name in workbench.__all__:
        obj = getattr(workbench, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, workbench.WorkbenchError), name


HEAVY_MODULES = ("pandas", "duckdb", "pyarrow", "optuna", "scipy", "sklearn", "plotly", "starlette")


def test_import_loads_no_heavy_library() -> None:
    code = (
        "import sys, workbench\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_lazy_table_matches_all_and_the_defining_modules() -> None:
    exports = workbench._EXPORTS
    assert set(exports) | {"__version__"} == set(workbench.__all__)
    for name, module in exports.items():
        assert getattr(importlib.import_module(module), name) is getattr(workbench, name), name
    assert callable(workbench.compare)  # the function, not the workbench.compare subpackage


def test_a_layer_imported_first_still_gives_the_full_client(tmp_path: Path) -> None:
    code = (
        "from workbench.tracking.fluent import start_run, flush\n"
        "run = start_run('e', client=None)\n"
        "run.end()\n"
        "import workbench\n"
        "client = workbench.connect()\n"
        "print(type(client).__name__, client is run._client, callable(client.list_models))\n"
    )
    env = {**os.environ, "WORKBENCH_STORE": str(tmp_path / "store")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["Workbench", "True", "True"]
