"""Batch scoring of DataFrames and files, with the lineage of every prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _serving_models import Models

import workbench as wb
from workbench.exceptions import InvalidParameterError, SignatureMismatchError
from workbench.serving import batch_predict


def test_a_dataframe_is_scored_with_lineage_and_recorded_as_a_run(models: Models) -> None:
    data = models.X.iloc[:120]
    result = batch_predict("bc@champion", data, client=models.client, chunk_rows=50)
    np.testing.assert_array_equal(result["prediction"], models.v1.predict(data))
    pd.testing.assert_frame_equal(result[list(data.columns)], data)
    assert set(result["model_name"]) == {"bc"} and set(result["model_version"]) == {1}
    (run_id,) = set(result["prediction_run_id"])
    client = wb.Workbench(models.store)
    run = client.get_run(run_id)
    assert run.experiment == "batch-predictions" and run.status.value == "finished"
    assert run.params["model_uri"] == "bc@champion" and run.params["model_version"] == 1
    assert run.metrics["rows"] == 120
    assert [(i.dataset.name, i.context) for i in run.inputs] == [("input", "inference")]
    stored = client.load_artifact(run_id, "predictions.parquet")
    assert stored["prediction"].tolist() == result["prediction"].tolist()


def test_a_file_is_scored_into_a_file(models: Models, tmp_path: Path) -> None:
    source = tmp_path / "rows.parquet"
    models.X.iloc[:30].to_parquet(source)
    target = tmp_path / "out" / "scores.csv"
    result = batch_predict("bc/2", source, output=target, client=models.client)
    written = pd.read_csv(target)
    assert written["prediction"].tolist() == models.v2.predict(models.X.iloc[:30]).tolist()
    assert written["model_version"].tolist() == [2] * 30
    assert len(result) == 30
    run = wb.Workbench(models.store).get_run(result["prediction_run_id"].iloc[0])
    assert run.tags["output"] == str(target)
    assert run.inputs[0].dataset.source == str(source.resolve())


def test_bad_inputs_are_refused_with_the_problem(models: Models, tmp_path: Path) -> None:
    with pytest.raises(SignatureMismatchError, match="missing column 'mean radius'"):
        batch_predict("bc/1", models.X.drop(columns="mean radius"), client=models.client)
    with pytest.raises(InvalidParameterError, match=r"'output' parameter.*\.parquet or \.csv"):
        batch_predict("bc/1", models.X, output=tmp_path / "x.xlsx", client=models.client)
    with pytest.raises(InvalidParameterError, match=r"existing \.parquet/\.csv file"):
        batch_predict("bc/1", tmp_path / "missing.csv", client=models.client)
