"""The run handle and the module-level tracking functions, on a real store folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import workbench as wb


def test_module_level_logging_goes_to_the_active_run(store_dir: Path) -> None:
    with wb.start_run("exp") as run:
        assert wb.active_run() is run
        wb.log_param("lr", 0.1)
        wb.log_metric("loss", 0.3)
        wb.log_metrics({"acc": 0.8, "f1": 0.7}, step=4)
        wb.set_tag("stage", "dev")
    assert wb.active_run() is None
    got = wb.get_run(run.run_id)
    assert got.params["lr"] == 0.1
    assert dict(got.metrics) == {"loss": 0.3, "acc": 0.8, "f1": 0.7}
    assert got.tags["stage"] == "dev"


def test_module_level_logging_outside_a_run_says_how_to_fix(store_dir: Path) -> None:
    with pytest.raises(wb.NoActiveRunError, match=r"with workbench.start_run"):
        wb.log_metric("loss", 1.0)


def test_run_without_with_is_ended_explicitly(store_dir: Path) -> None:
    run = wb.start_run("exp")
    run.log_metric("x", 1.0)
    assert wb.get_run(run.run_id).status == wb.RunStatus.RUNNING
    run.end()
    assert wb.get_run(run.run_id).status == wb.RunStatus.FINISHED
    with pytest.raises(wb.RunNotActiveError, match="has ended"):
        run.log_metric("x", 2.0)


def test_keyboard_interrupt_marks_run_killed(store_dir: Path) -> None:
    with pytest.raises(KeyboardInterrupt), wb.start_run("exp") as run:
        raise KeyboardInterrupt
    assert wb.get_run(run.run_id).status == wb.RunStatus.KILLED


def test_steps_default_to_one_more_than_the_last(store_dir: Path) -> None:
    with wb.start_run("exp") as run:
        run.log_metric("loss", 3.0)
        run.log_metric("loss", 2.0)
        run.log_metric("loss", 1.0, step=10)
        run.log_metric("loss", 0.5)
    assert run.metric_history("loss")["step"].tolist() == [0, 1, 10, 11]


def test_metric_series_in_bulk(store_dir: Path) -> None:
    values = np.linspace(1, 0, 1000)
    with wb.start_run("exp") as run:
        run.log_metric_series("loss", values)
        run.log_metric_series("lr", [0.1, 0.2], steps=[5, 7], timestamps=[1.7e9, 1.7e9 + 1])
    history = wb.get_metric_history(run.run_id)
    loss = history[history["key"] == "loss"]
    np.testing.assert_array_equal(loss["value"].to_numpy(), values)
    assert loss["step"].tolist() == list(range(1000))
    lr = history[history["key"] == "lr"]
    assert lr["step"].tolist() == [5, 7]
    assert lr["timestamp"].iloc[1] - lr["timestamp"].iloc[0] == pd.Timedelta(seconds=1)


def test_params_are_immutable(store_dir: Path) -> None:
    with wb.start_run("exp") as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # same value: fine
        with pytest.raises(wb.ConflictError, match="params are immutable"):
            run.log_param("lr", 0.2)
    assert wb.get_run(run.run_id).params["lr"] == 0.1


def test_context_is_captured(store_dir: Path) -> None:
    with wb.start_run("exp") as run:
        pass
    context = wb.get_run(run.run_id).context
    assert context["python"].count(".") == 2
    assert "pandas" in context["packages"]
    assert context["host"]


def test_notebook_path_comes_from_the_environment(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/analysis.ipynb")
    with wb.start_run("exp") as run:
        pass
    assert wb.get_run(run.run_id).context["notebook"] == "/home/me/analysis.ipynb"


def test_artifacts_of_every_kind_round_trip(store_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    frame = pd.DataFrame({"x": [1, 2], "y": ["u", "v"]})
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    with wb.start_run("exp") as run:
        run.log_artifact(folder)
        run.log_text("hello", "notes.md")
        run.log_dict({"a": 1}, "config.json")
        run.log_dict({"a": 1}, "config.yaml")
        run.log_table(frame, "frame.parquet")
        run.log_table(frame, "frame.csv")
        run.log_figure(figure, "plot.json")
        run.log_figure(figure, "plot.html")
    paths = [a.path for a in wb.get_run(run.run_id).artifacts]
    assert paths == sorted(
        [
            "outputs/a.txt",
            "outputs/sub/b.txt",
            "notes.md",
            "config.json",
            "config.yaml",
            "frame.parquet",
            "frame.csv",
            "plot.json",
            "plot.html",
        ]
    )
    assert wb.load_artifact(run.run_id, "outputs/sub/b.txt") == "B"
    assert wb.load_artifact(run.run_id, "config.json") == {"a": 1}
    assert "a: 1" in wb.load_artifact(run.run_id, "config.yaml")
    pd.testing.assert_frame_equal(wb.load_artifact(run.run_id, "frame.parquet"), frame)
    assert wb.load_artifact(run.run_id, "plot.json").data[0].y == (3, 4)
    html = wb.artifact_path(run.run_id, "plot.html").read_text()
    assert "<script" in html and '<script src="http' not in html  # self-contained
    with pytest.raises(wb.ArtifactNotFoundError, match="has no artifact 'missing'"):
        wb.load_artifact(run.run_id, "missing")


def test_log_input_from_a_file(store_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    pd.DataFrame({"a": [1.0, 2.0, None]}).to_csv(csv, index=False)
    with wb.start_run("exp") as run:
        digest = run.log_input(csv, context="evaluation")
    dataset = wb.get_run(run.run_id).inputs[0]
    assert dataset.context == "evaluation"
    assert dataset.dataset.digest == digest and dataset.dataset.name == "data"
    assert dataset.dataset.profile["columns"]["a"]["missing"] == 1


def test_run_displays_itself_in_a_notebook(store_dir: Path) -> None:
    with wb.start_run("exp", "shown") as run:
        run.log_metric("auc", 0.91)
    bundle = wb.get_run(run.run_id)._repr_mimebundle_()
    assert "shown" in bundle["text/plain"]
    assert "auc" in bundle["text/html"] and "finished" in bundle["text/html"]


def test_sql_over_documented_views(store_dir: Path) -> None:
    with wb.start_run("exp") as run:
        run.log_params({"k": 3})
        run.log_metric("m", 1.0)
        run.log_metric("m", 2.0)
    df = wb.sql(
        "select r.name, p.value_num, m.max from runs r join params p using (run_id) "
        "join metrics m using (run_id)"
    )
    assert df.iloc[0].to_dict() == {"name": run.name, "value_num": 3.0, "max": 2.0}
    context = json.loads(wb.sql("select context from runs")["context"][0])
    assert "python" in context


def test_default_store_is_project_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / ".workbench").mkdir(parents=True)
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")
    from workbench.store import resolve_store_location

    assert resolve_store_location() == str(project / ".workbench")
    monkeypatch.setenv("WORKBENCH_STORE", str(tmp_path / "elsewhere"))
    assert resolve_store_location() == str(tmp_path / "elsewhere")


def test_resume_run_continues_steps_and_keeps_params(store_dir: Path) -> None:
    with wb.start_run("exp") as run:
        run.log_param("lr", 0.1)
        run.log_metric("loss", 1.0)
        run.log_metric("loss", 0.9)
    with wb.resume_run(run.run_id) as resumed:
        assert wb.get_run(run.run_id).status == wb.RunStatus.RUNNING
        resumed.log_metric("loss", 0.8)
        resumed.log_param("lr", 0.1)
        with pytest.raises(wb.ConflictError, match="immutable"):
            resumed.log_param("lr", 0.2)
        with pytest.raises(wb.ConflictError, match="still running"):
            wb.resume_run(run.run_id)
    assert wb.get_metric_history(run.run_id, "loss")["step"].tolist() == [0, 1, 2]
    assert wb.get_run(run.run_id).status == wb.RunStatus.FINISHED


def test_scalar_points_and_series_in_one_flush(store_dir: Path) -> None:
    """Points logged one by one and in bulk travel in one batch (one dictionary per column)."""
    with wb.start_run("exp") as run:
        run.log_metric("a", 1.0)
        run.log_metric_series("b", [1.0, 2.0])
        run.log_metric_series("c", [3.0])
        run.log_metric("d", 4.0)
    assert dict(wb.get_run(run.run_id).metrics) == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
