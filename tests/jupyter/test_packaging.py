"""Both halves of the extension are installed and enabled, and the committed frontend build
matches its TypeScript sources (after editing extensions/jupyterlab, run
`bash scripts/build-labextension`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import workbench
import workbench.jupyter
from workbench.jupyter import _build

JUPYTER = Path(sys.executable).with_name("jupyter")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def jupyter(*args: str) -> str:
    done = subprocess.run(
        [str(JUPYTER), *args], capture_output=True, text=True, timeout=120, check=True
    )
    return ANSI.sub("", done.stdout + done.stderr)


def test_built_assets_match_the_sources() -> None:
    assert _build.stored_checksum() == _build.source_checksum(), (
        "workbench/labextension is older than extensions/jupyterlab: run "
        "`bash scripts/build-labextension` and commit the result"
    )


def test_build_output_is_complete_and_versioned() -> None:
    build = _build.BUILD_DIR
    package = json.loads((build / "package.json").read_text())
    assert package["name"] == "workbench" and package["version"] == workbench.__version__
    assert list((build / "static").glob("remoteEntry.*.js"))
    assert json.loads((build / "install.json").read_text())["packageName"] == "workbench"
    (paths,) = workbench.jupyter._jupyter_labextension_paths()
    source = Path(workbench.jupyter.__file__).parent / paths["src"]
    assert source.resolve() == build.resolve()
    assert workbench.jupyter._jupyter_server_extension_points() == [{"module": "workbench.jupyter"}]


def test_labextension_is_installed_and_enabled() -> None:
    out = jupyter("labextension", "list")
    assert re.search(rf"workbench v{re.escape(workbench.__version__)} enabled\s+OK", out), out


@pytest.mark.slow
def test_server_extension_is_enabled() -> None:
    out = jupyter("server", "extension", "list")
    assert re.search(r"workbench\.jupyter enabled", out), out
    assert re.search(r"workbench\.jupyter\s+OK", out), out


def test_import_workbench_jupyter_pulls_in_no_server_module() -> None:
    code = "import sys, workbench.jupyter; print('tornado' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
