"""``workbench.compare``: what it accepts, what it shows, and how big its notebook output is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.compare import RunComparison, compare, set_plotlyjs
from workbench.compare import comparison as comparison_module
from workbench.exceptions import InvalidParameterError, RunNotFoundError

PLOTLYJS_BYTES = 3_000_000  # plotly.min.js is ~4.6 MB


@pytest.fixture(autouse=True)
def _fresh_plotlyjs_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_PLOTLYJS", raising=False)
    set_plotlyjs(None)


def test_compare_accepts_ids_in_order_and_one_id(compare_runs: dict[str, Any]) -> None:
    ids = compare_runs["ids"]
    c = compare([ids[2], ids[0]])
    assert c.run_ids == [ids[2], ids[0]] and c.labels == ["run-2", "run-0"]
    assert compare(ids[1]).run_ids == [ids[1]]
    assert compare([ids[0], ids[0]]).run_ids == [ids[0]]


def test_compare_accepts_search_runs_frames_runs_and_comparisons(
    compare_runs: dict[str, Any],
) -> None:
    df = wb.search_runs("exp", order_by="metrics.acc DESC")
    c = compare(df)
    assert c.labels == ["run-3", "run-2", "run-1", "run-0"]
    only_ids = compare(df[["run_id"]])  # other columns are read from the store
    assert "params.lr" in only_ids.runs and only_ids.run_ids == c.run_ids
    runs = [wb.get_run(i) for i in compare_runs["ids"][:2]]
    assert compare(runs).run_ids == compare_runs["ids"][:2]
    assert compare(c) is c


def test_compare_accepts_a_sweep_like_object(compare_runs: dict[str, Any]) -> None:
    class FakeSweep:
        client = compare_runs["client"]

        def runs(self) -> pd.DataFrame:
            return wb.search_runs("exp", filter="params.depth = 3")

    c = compare(FakeSweep())
    assert sorted(c.labels) == ["run-0", "run-2"]


def test_compare_errors_name_the_problem(compare_runs: dict[str, Any]) -> None:
    with pytest.raises(RunNotFoundError, match="nope"):
        compare([compare_runs["ids"][0], "nope"])
    with pytest.raises(InvalidParameterError, match="run ids"):
        compare([42])
    with pytest.raises(InvalidParameterError, match="run_id"):
        compare(pd.DataFrame({"x": [1]}))


def test_empty_comparison(compare_runs: dict[str, Any]) -> None:
    c = compare([])
    assert len(c) == 0 and repr(c) == "RunComparison(no runs)"
    assert c.figures() == {}
    assert "No runs to compare" in c._repr_mimebundle_()["text/html"]


def test_tables_repr_and_refresh(compare_runs: dict[str, Any]) -> None:
    c = compare(compare_runs["ids"])
    assert list(c.params().index) == ["depth", "lr", "opt"]
    assert "seed" in c.params(differing_only=False).index
    assert list(c.metrics().index) == ["acc", "loss"]
    assert "4 runs" in repr(c) and "differing params" in repr(c)
    assert len(c.history()) == 4 * 11
    with wb.resume_run(compare_runs["ids"][0]) as run:
        run.log_metric("acc", 0.99)
    wb.flush()
    assert c.refresh().metrics().loc["acc", "run-0"] == pytest.approx(0.99)


def test_notebook_output_carries_plotlyjs_once(
    compare_runs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comparison_module, "plotly_renderer_installed", lambda: False)
    c = compare(compare_runs["ids"])
    first = c._repr_mimebundle_()
    second = c._repr_mimebundle_()
    assert set(first) == {"text/plain", "text/html"}
    assert len(first["text/html"]) > PLOTLYJS_BYTES  # offline: plotly.js is in the output
    assert len(second["text/html"]) < 200_000  # later outputs wait for that copy
    assert second["text/html"].count("wb-figure") == 4
    assert "Params that differ" in second["text/html"] and "<details>" in second["text/html"]
    set_plotlyjs("once")  # re-arm: the next output embeds it again
    assert len(c._repr_mimebundle_()["text/html"]) > PLOTLYJS_BYTES


@pytest.mark.parametrize(("mode", "big"), [("none", False), ("cdn", False), ("inline", True)])
def test_plotlyjs_modes(
    compare_runs: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mode: str, big: bool
) -> None:
    monkeypatch.setenv("WORKBENCH_PLOTLYJS", mode)
    c = compare(compare_runs["ids"])
    for _ in range(2):
        html = c._repr_mimebundle_()["text/html"]
        assert (len(html) > PLOTLYJS_BYTES) is big
    assert (f'src="{comparison_module.PLOTLY_CDN}"' in html) is (mode == "cdn")
    with pytest.raises(InvalidParameterError, match="mode"):
        set_plotlyjs("sometimes")


def test_the_plotly_renderer_of_this_venv_is_found() -> None:
    comparison_module.plotly_renderer_installed.cache_clear()
    assert comparison_module.plotly_renderer_installed()  # plotly ships jupyterlab-plotly


@pytest.mark.parametrize(
    ("mode", "renderer", "mime"),
    [
        ("auto", True, True),
        ("auto", False, False),
        ("mimetype", False, True),
        ("once", True, False),
    ],
)
def test_ipython_display_uses_the_plotly_mimetype_where_it_renders(
    compare_runs: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    renderer: bool,
    mime: bool,
) -> None:
    import IPython.display

    shown: list[dict[str, Any]] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setattr(comparison_module, "plotly_renderer_installed", lambda: renderer)
    set_plotlyjs(mode)
    compare(compare_runs["ids"])._ipython_display_()
    if not mime:
        (bundle,) = shown
        assert len(bundle["text/html"]) > PLOTLYJS_BYTES  # plotly.js, once
        return
    summary, *figures = shown
    assert "Params that differ" in summary["text/html"] and "<script" not in summary["text/html"]
    assert len(figures) == 4
    for bundle in figures:
        spec = bundle[comparison_module.PLOTLY_MIME]
        assert spec["data"] and spec["config"]["displaylogo"] is False
        assert bundle["text/plain"].startswith("<plotly figure")
    assert len(json.dumps(shown)) < 200_000  # no plotly.js anywhere


def test_figure_html_waits_for_plotly_and_escapes_script_end() -> None:
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[1], y=[2], name="</script><b>x"))
    html = comparison_module.figure_html(fig)
    assert "</script><b>" not in html and "setTimeout(draw,100)" in html


def test_save_html_is_self_contained(compare_runs: dict[str, Any], tmp_path: Path) -> None:
    path = compare(compare_runs["ids"]).save_html(tmp_path / "c.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and len(text) > PLOTLYJS_BYTES
    assert "https://" not in text.split("<script", 1)[0]


def test_figures_and_methods(compare_runs: dict[str, Any]) -> None:
    c = compare(compare_runs["ids"])
    assert list(c.figures()) == [
        "metric_history",
        "final_metrics",
        "parallel_coordinates",
        "param_vs_metric",
    ]
    assert c.default_param_and_metric() == ("depth", "acc")
    assert c.plot_param_vs_metric("lr", "acc").data[0].type == "scatter"
    assert json.loads(c.plot_final_metrics().to_json())["data"]


def test_panel_view_is_the_run_compare_widget(compare_runs: dict[str, Any]) -> None:
    pytest.importorskip("panel")
    from workbench.ui.widgets.run_compare import RunCompare

    view = compare(compare_runs["ids"]).__panel__()
    assert isinstance(view, RunCompare) and len(view.comparison) == 4


def test_importing_compare_does_not_import_panel() -> None:
    code = (
        "import sys, workbench; "
        "from workbench.compare import compare, plot_metric_history; "
        "assert not {'panel', 'bokeh', 'param'} & set(sys.modules), "
        "sorted({'panel', 'bokeh', 'param'} & set(sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_comparison_constructor_resets_index() -> None:
    frame = pd.DataFrame({"run_id": ["b", "a"], "name": ["b", "a"]}, index=[5, 3])
    assert list(RunComparison(frame).runs.index) == [0, 1]
