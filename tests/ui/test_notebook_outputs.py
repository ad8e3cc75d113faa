"""A notebook using workbench, executed in a real kernel: small when saved, nothing from a CDN.

Measured before the fix (same cells): 22.6 MB saved (8.5 MB Panel bundle published twice,
5 MB of plotly.js in the first comparison) and a ``TqdmWarning: IProgress not found`` on stderr.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from workbench.ui import _common

pytestmark = pytest.mark.slow  # starts a kernel and runs a sweep (~30 s)

CDN = re.compile(r"cdn\.holoviz\.org|cdn\.bokeh\.org|unpkg\.com|cdn\.jsdelivr\.net|cdn\.plot\.ly")
CELLS = [
    "import workbench as wb\nwb.set_store('store')",
    "for i in range(3):\n"
    "    with wb.start_run(experiment='e', name=f'r{i}') as run:\n"
    "        run.log_params({'lr': 0.1 * (i + 1)})\n"
    "        for s in range(5):\n"
    "            run.log_metric('loss', 1.0 / (s + 1 + i), step=s)\n"
    "ids = list(wb.search_runs('e')['run_id'])",
    "wb.compare(ids)",
    "wb.compare(ids[:2])",
    "import workbench.ui as wbui\nwbui.extension()",
    "wbui.RunsBrowser(experiment='e')",
    "sweep = wb.sweep(lambda t: t.suggest_float('x', 0, 1), n_trials=5, name='s')",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": folder}}
    )
    client.execute(env={"WORKBENCH_PROGRESS": "", "WORKBENCH_PLOTLYJS": ""})
    path = folder / "saved.ipynb"
    nbformat.write(notebook, path)
    return {"notebook": notebook, "path": path}


def _outputs(executed: dict[str, Any], cell: int) -> list[Any]:
    return list(executed["notebook"].cells[cell].outputs)


def test_saved_notebook_is_small(executed: dict[str, Any]) -> None:
    size = Path(executed["path"]).stat().st_size
    assert size < 1_500_000, size  # 22.6 MB before; ~0.5 MB now, most of it the table widget


def test_comparison_figures_are_plotly_mime_bundles(executed: dict[str, Any]) -> None:
    for cell in (2, 3):
        outputs = _outputs(executed, cell)
        figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
        assert len(figures) == 4
        assert "Params that differ" in outputs[0]["data"]["text/html"]
        assert all(len(json.dumps(o)) < 100_000 for o in outputs)  # no plotly.js inline


def test_panel_bundle_is_loaded_from_the_jupyter_server(executed: dict[str, Any]) -> None:
    scripts = [
        o["data"]["application/javascript"]
        for o in _outputs(executed, 4)
        if "application/javascript" in o.get("data", {})
    ]
    loader = next(s for s in scripts if "__workbench_panel_root" in s)
    assert len(loader) < 50_000  # not the 8.5 MB bundle
    assert "window.__workbench_panel_root+" in loader and _common.JUPYTER_PREFIX in loader
    assert not re.search(r"""(?<!\+)["']static/""", loader)  # every asset URL is rooted


def test_no_output_references_a_cdn(executed: dict[str, Any]) -> None:
    for number, cell in enumerate(executed["notebook"].cells):
        for output in cell.get("outputs", []):
            found = CDN.findall(json.dumps(output))
            assert not found, (number, found)


def test_no_warning_and_the_sweep_ends_as_a_static_line(executed: dict[str, Any]) -> None:
    streams = [
        o["text"]
        for c in executed["notebook"].cells
        for o in c.outputs
        if o.output_type == "stream"
    ]
    assert not any("Warning" in text for text in streams), streams  # e.g. TqdmWarning
    (final,) = _outputs(executed, 6)
    assert final["data"]["text/plain"].startswith("sweep s: 5/5 trials (5 complete), best")
    assert "<progress value='5' max='5'" in final["data"]["text/html"]
