"""workbench.pipelines is light: papermill and the Jupyter stack load only when a notebook runs
(so ``workbench.run_notebook`` can be exported without slowing ``import workbench``)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("papermill", "nbclient", "jupyter_client", "tornado", "zmq", "IPython")


def test_import_pulls_in_no_jupyter_module() -> None:
    code = (
        "import sys, workbench.pipelines, workbench.cli.pipelines\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
