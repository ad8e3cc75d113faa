"""Bad input to every public tracking function: a clear error, and nothing logged is lost."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import workbench as wb


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.log_metric("loss", float("nan")), r"value of metric 'loss'.*finite number"),
        (lambda r: r.log_metric("loss", math.inf), r"finite number. Got inf"),
        (lambda r: r.log_metric("loss", "0.5"), r"finite number. Got '0.5'"),
        (lambda r: r.log_metric("loss", True), r"finite number. Got True"),
        (lambda r: r.log_metric("", 1.0), r"'key' parameter .* non-empty string"),
        (lambda r: r.log_metric("a\nb", 1.0), r"letters, digits"),
        (lambda r: r.log_metric("workbench.x", 1.0), r"reserved"),
        (lambda r: r.log_metric("loss", 1.0, step=-1), r"'step' parameter .* int >= 0"),
        (lambda r: r.log_metric("loss", 1.0, step=1.5), r"'step' parameter"),
        (lambda r: r.log_metric("loss", 1.0, timestamp="now"), r"'timestamp' parameter"),
        (lambda r: r.log_metrics([1, 2]), r"'metrics' parameter .* a dict"),
        (lambda r: r.log_metric_series("loss", [1.0, np.nan]), r"at position 1"),
        (lambda r: r.log_metric_series("loss", [1.0, 2.0], steps=[0]), r"'steps' parameter"),
        (lambda r: r.log_param("p", "x" * 7000), r"at most 6000 characters.*log_text"),
        (lambda r: r.log_param("p", {"a": object()}), r"JSON-serializable"),
        (lambda r: r.log_params("lr=0.1"), r"'params' parameter .* a dict"),
        (lambda r: r.set_tag("t", [1]), r"value of tag 't'"),
        (lambda r: r.log_artifact("/no/such/file"), r"'local_path' parameter .* existing"),
        (lambda r: r.log_text("x", "../escape.txt"), r"relative path inside the run"),
        (lambda r: r.log_table([1, 2]), r"pandas DataFrame"),
        (lambda r: r.log_figure(object()), r"plotly or matplotlib figure"),
        (lambda r: r.log_input(42), r"DataFrame, Series, numpy array or file path"),
        (lambda r: r.end("done"), r"'status' parameter"),
    ],
)
def test_bad_logging_calls_explain_themselves(store_dir: Path, call: Any, match: str) -> None:
    with wb.start_run("exp") as run:
        run.log_metric("kept", 1.0)
        with pytest.raises(wb.InvalidParameterError, match=match):
            call(run)
        run.log_metric("kept", 2.0)
    history = wb.get_metric_history(run.run_id, "kept")
    assert history["value"].tolist() == [1.0, 2.0]  # nothing logged before or after is lost


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: wb.start_run(experiment=""), wb.InvalidParameterError, "'experiment'"),
        (lambda: wb.start_run(name=3), wb.InvalidParameterError, "'name'"),
        (lambda: wb.start_run(tags=["a"]), wb.InvalidParameterError, "'tags'"),
        (lambda: wb.start_run(parent="f" * 32), wb.RunNotFoundError, "No run with id"),
        (lambda: wb.get_run(""), wb.InvalidParameterError, "'run_id'"),
        (lambda: wb.get_run("abc"), wb.RunNotFoundError, "search_runs"),
        (lambda: wb.search_runs(max_results=0), wb.InvalidParameterError, "'max_results'"),
        (lambda: wb.search_runs(filter=3), wb.InvalidParameterError, "'filter'"),
        (lambda: wb.search_runs(order_by=[1]), wb.InvalidParameterError, "'order_by'"),
        (lambda: wb.search_runs(metric_stats=["median"]), wb.InvalidParameterError, "metric_stats"),
        (lambda: wb.search_runs(filter="params.x = "), wb.FilterSyntaxError, r"\^"),
        (lambda: wb.search_runs(filter="param.x = 1"), wb.FilterSyntaxError, "params"),
        (lambda: wb.sql("drop table wb_runs"), wb.InvalidParameterError, "read-only"),
        (lambda: wb.sql("select * from no_such_view"), wb.InvalidParameterError, "failed"),
        (lambda: wb.sql(""), wb.InvalidParameterError, "'query'"),
        (lambda: wb.get_metric_history([]), wb.InvalidParameterError, "'run_id'"),
        (lambda: wb.rename_experiment("nope", "x"), wb.ExperimentNotFoundError, "nope"),
        (lambda: wb.delete_run("nope"), wb.RunNotFoundError, "nope"),
        (lambda: wb.set_store(42), wb.InvalidParameterError, "'store'"),
        (lambda: wb.connect(3.5), wb.InvalidParameterError, "'store'"),
    ],
)
def test_bad_arguments_explain_themselves(
    store_dir: Path, call: Any, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


def test_filter_error_points_at_the_token(store_dir: Path) -> None:
    with pytest.raises(wb.FilterSyntaxError) as info:
        wb.search_runs(filter="metrics.auc > 0.9 AND AND")
    lines = str(info.value).splitlines()
    assert lines[-2].strip() == "metrics.auc > 0.9 AND AND"
    assert lines[-1].index("^") - lines[-2].index("m") == len("metrics.auc > 0.9 AND ")


def test_flush_interval_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.config import flush_interval

    monkeypatch.setenv("WORKBENCH_FLUSH_INTERVAL", "5")
    with pytest.raises(wb.InvalidParameterError, match="WORKBENCH_FLUSH_INTERVAL"):
        flush_interval()
