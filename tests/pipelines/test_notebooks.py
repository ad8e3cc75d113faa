"""Every notebook in notebooks/ runs top to bottom with papermill on a fresh store, and produces
what it says (runs, a sweep, models, a deployment, drift reports, loop checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

import workbench as wb
from workbench.pipelines import NotebookFailedError, NotebookRun, run_notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def execute(name: str, **parameters: Any) -> NotebookRun:
    result = run_notebook(NOTEBOOKS / f"{name}.ipynb", parameters)
    assert result.ok and result.duration_s < 60, result
    return result


def outputs(result: NotebookRun) -> str:
    """The text and HTML of every output of the executed notebook."""
    notebook = nbformat.read(result.output, as_version=4)
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


def test_the_series_is_committed_clean() -> None:
    assert [p.name[:2] for p in ALL] == ["00", "01", "02", "03", "04", "05", "06"]
    for path in ALL:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), (
            f"{path.name} has outputs: clear them before committing"
        )
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "data_path" in tagged[0].source, path.name
        assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
def test_00_tour(store_dir: Path) -> None:
    result = execute("00-tour", n_trials=4)
    runs = wb.search_runs("tour", filter="params.model = 'logistic_regression'")
    assert sorted(runs["params.C"]) == [0.01, 0.1, 1.0]
    assert (runs["metrics.roc_auc"] > 0.6).all()
    sweep = wb.load_sweep("tour-forest")
    assert sweep.counts()["complete"] == 4
    champion = wb.get_model_version("tour-sun@champion")
    assert champion.run_id == sweep.best_run.run_id
    reports = wb.search_runs("drift-reports", filter="tags.`workbench.kind` = 'drift_report'")
    assert list(reports["name"]) == ["tour: 2015 vs 2012-2013"]
    text = outputs(result)
    assert "Params that differ" in text and "tour-sun" in text
    print(f"00-tour executed in {result.duration_s:.1f} s")


@pytest.mark.slow
def test_01_track(store_dir: Path) -> None:
    result = execute("01_track", C=0.5)
    runs = wb.search_runs("seattle-weather", order_by="start_time")
    assert runs["name"].iloc[0] == "logreg" and len(runs) == 2
    manual = wb.get_run(runs["run_id"].iloc[0])
    assert manual.params["C"] == 0.5 and 0.6 < manual.metrics["accuracy"] < 0.95
    assert {i.dataset.name for i in manual.inputs} == {"train-2012-2013", "test-2014"}
    assert [a.path for a in manual.artifacts] == ["sun_by_month.json"]
    assert len(wb.get_metric_history(manual.run_id, "test_accuracy")) == 5
    forest = wb.get_run(runs["run_id"].iloc[1])  # autologged
    assert forest.params["n_estimators"] == 100 and "training_score" in forest.metrics
    assert any(a.path.startswith("model/") for a in forest.artifacts)
    assert set(result.runs) == set(runs["run_id"]) and result.metrics["f1"] > 0
    assert manual.context["notebook"].endswith("01_track.ipynb")


@pytest.mark.slow
def test_02_sweep(store_dir: Path) -> None:
    execute("02_sweep", n_trials=4)
    sweeps = wb.list_sweeps()
    assert list(sweeps["name"]) == ["forest-sun"] and sweeps["status"].iloc[0] == "finished"
    sweep = wb.load_sweep("forest-sun")
    assert sweep.counts()["complete"] == 4
    trials = wb.search_runs("seattle-sweep", filter="tags.workbench.kind = 'trial'")
    assert len(trials) == 4 and trials["metrics.roc_auc"].between(0.6, 1).all()
    assert len(wb.get_metric_history(list(trials["run_id"]), "fold_roc_auc")) == 4 * 3


@pytest.mark.slow
def test_03_compare(store_dir: Path) -> None:
    result = execute("03_compare", epochs=5)
    runs = wb.search_runs("seattle-compare")
    assert sorted(runs["params.alpha"]) == [0.0001, 0.001, 0.01]
    history = wb.get_metric_history(list(runs["run_id"]), "test_accuracy")
    assert len(history) == 3 * 5
    text = outputs(result)
    assert "Params that differ" in text and "sgd-alpha-0.01" in text and "best: sgd-alpha-" in text


@pytest.mark.slow
def test_04_register_and_deploy(store_dir: Path) -> None:
    execute("04_register_and_deploy")
    versions = wb.list_model_versions("seattle-sun")
    assert list(versions["version"]) == [1, 2]
    champion = wb.get_model_version("seattle-sun@champion")
    assert champion.version in (1, 2)
    from workbench.serving import list_deployments, read_request_log

    deployments = list_deployments()
    assert len(deployments) == 1 and deployments["status"].iloc[0] == "stopped"
    assert deployments["model_uri"].iloc[0] == "seattle-sun@champion"
    assert len(read_request_log("seattle-sun")) == 20


@pytest.mark.slow
def test_04_gate_failure_stops_the_pipeline(store_dir: Path) -> None:
    with pytest.raises(NotebookFailedError) as caught:
        run_notebook(NOTEBOOKS / "04_register_and_deploy.ipynb", {"min_accuracy": 0.99})
    assert caught.value.gate_failed and "[FAIL]" in str(caught.value)
    assert wb.get_model_version("seattle-sun@champion").version == 1  # not promoted


@pytest.mark.slow
def test_05_drift(store_dir: Path) -> None:
    result = execute("05_drift")
    reports = wb.search_runs("drift-reports", filter="tags.workbench.kind = 'drift_report'")
    assert len(reports) == 1 and reports["name"].iloc[0] == "2015 vs 2012-2013"
    report = wb.load_drift_report(reports["run_id"].iloc[0])
    assert {"temp_max", "proba", "sun"} <= set(report.columns.index)
    assert "accuracy" in str(report.performance)
    alerts = wb.search_runs(filter="tags.workbench.kind = 'drift_alert'")
    assert len(alerts) >= 1
    assert "windows" in outputs(result)


@pytest.mark.slow
def test_06_closed_loop(store_dir: Path) -> None:
    execute("06_closed_loop")
    checks = wb.search_runs("monitoring", filter="tags.workbench.kind = 'monitor_check'")
    assert len(checks) == 7  # 2013-01 .. 2013-07
    history = wb.alias_history("seattle-weather-label", "champion")
    assert list(history["action"]).count("set") >= 2  # the initial champion, then a promotion
    assert wb.get_model_version("seattle-weather-label@champion").version >= 2


@pytest.mark.slow
def test_06_closed_loop_on_a_team_store(team_store: Any) -> None:
    """The same loop (run-notebook, drift reports, retraining, the gate, promotion) with the
    store on PostgreSQL: the kernel is given the store's URL without its password."""
    result = run_notebook(NOTEBOOKS / "06_closed_loop.ipynb", {})
    assert result.ok, result
    client = wb.Workbench(team_store)
    checks = client.search_runs("monitoring", filter="tags.workbench.kind = 'monitor_check'")
    assert len(checks) == 7
    history = client.alias_history("seattle-weather-label", "champion")
    assert list(history["action"]).count("set") >= 2
    notebook_runs = client.search_runs(filter="tags.workbench.kind = 'notebook'")
    assert len(notebook_runs) >= 1
