"""run_notebook: papermill execution recorded as a run; failures and gates raise."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from _pipeline_notebooks import FAIL_CELLS, GATE_CELLS, OK_CELLS, MakeNotebook

import workbench as wb
from workbench.pipelines import NotebookFailedError, run_notebook

pytestmark = pytest.mark.slow  # each test starts a kernel (~2 s)


def test_ok_notebook_is_recorded_as_a_run(make_notebook: MakeNotebook, store_dir: Path) -> None:
    path = make_notebook("ok", *OK_CELLS)
    result = run_notebook(path, {"x": 4, "label": "b"})
    assert result.ok and result.exit_code == 0 and result.error is None
    assert result.metrics == {"score": 8.0, "loss": 0.25}
    run = wb.get_run(result.run_id)
    assert (run.experiment, run.name, run.status.value) == ("pipelines", "ok", "finished")
    assert run.params == {"x": 4, "label": "b"}
    assert run.tags["workbench.kind"] == "notebook"
    assert run.tags["notebook.path"] == str(path.resolve())
    assert run.metrics["score"] == 8.0 and run.metrics["duration_s"] > 0
    (inner_id,) = result.runs
    inner = wb.get_run(inner_id)
    assert inner.name == "inner" and inner.params == {"x": 4, "label": "b"}
    assert inner.context["notebook"] == str(path.resolve())
    assert run.tags["notebook.runs"] == inner_id
    assert wb.load_artifact(result.run_id, "notebook_runs.json") == {"runs": [inner_id]}
    executed = nbformat.read(wb.artifact_path(result.run_id, "notebook.ipynb"), as_version=4)
    assert result.output == wb.artifact_path(result.run_id, "notebook.ipynb")
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "x = 4" in injected[0].source
    assert executed.cells[-1].outputs[0]["text"] == "done 4\n"


def test_output_path_and_cwd(make_notebook: MakeNotebook, store_dir: Path, tmp_path: Path) -> None:
    path = make_notebook("cwd", "name = 'out.txt'", "open(name, 'w').write('hi')")
    result = run_notebook(path, output=tmp_path / "out" / "cwd.ipynb")
    assert result.output == tmp_path / "out" / "cwd.ipynb" and result.output.is_file()
    assert (path.parent / "out.txt").read_text() == "hi"  # the kernel ran in the notebook's folder
    assert wb.get_run(result.run_id).tags["notebook.output"] == str(result.output)


def test_failing_notebook_raises_and_ends_the_run_failed(
    make_notebook: MakeNotebook, store_dir: Path
) -> None:
    path = make_notebook("fail", *FAIL_CELLS)
    with pytest.raises(NotebookFailedError, match=r"ValueError at In \[3\]: boom 7") as caught:
        run_notebook(path, {"x": 7})
    result = caught.value.result
    assert result is not None and not caught.value.gate_failed
    assert result.status == "failed" and result.exit_code == 1
    run = wb.get_run(result.run_id)
    assert run.status.value == "failed" and "boom 7" in (run.error or "")
    executed = nbformat.read(result.output, as_version=4)  # kept for inspection
    assert executed.cells[-1].outputs[0]["ename"] == "ValueError"


def test_failed_gate_is_reported_with_its_explanation(
    make_notebook: MakeNotebook, store_dir: Path
) -> None:
    path = make_notebook("gate", *GATE_CELLS)
    with pytest.raises(NotebookFailedError, match="quality gate failed") as caught:
        run_notebook(path)
    assert caught.value.gate_failed
    message = str(caught.value)
    assert "GateFailedError" in message and "[FAIL]" in message and "accuracy" in message
    result = caught.value.result
    assert result is not None
    assert wb.get_run(result.run_id).tags["notebook.gate_failed"] == "true"
    assert result.metrics == {"accuracy": 0.8}
    # the same gate with a threshold the candidate meets passes
    assert run_notebook(path, {"threshold": 0.5}).ok


def test_bad_arguments_are_refused(make_notebook: MakeNotebook, store_dir: Path) -> None:
    path = make_notebook("ok", *OK_CELLS)
    with pytest.raises(wb.InvalidParameterError, match=r"an existing \.ipynb file"):
        run_notebook(path.with_name("missing.ipynb"))
    with pytest.raises(wb.InvalidParameterError, match="Python identifiers"):
        run_notebook(path, {"not valid": 1})
    assert wb.search_runs("pipelines").empty  # nothing recorded for a refused call
