"""The public surface: a sorted __all__, every name importable, no UI module pulled in."""

from __future__ import annotations

import subprocess
import sys

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
