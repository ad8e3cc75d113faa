"""`workbench run-notebook` exit codes: 0 ok, 1 failed notebook or gate, 2 usage error."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _pipeline_notebooks import FAIL_CELLS, GATE_CELLS, OK_CELLS, MakeNotebook

import workbench as wb
from workbench.cli.pipelines import parse_value

pytestmark = pytest.mark.slow


def cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a fresh process, as CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli.pipelines", "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_exit_codes(make_notebook: MakeNotebook, tmp_path: Path) -> None:
    store = tmp_path / "store"
    ok = cli(
        store,
        "run-notebook",
        str(make_notebook("ok", *OK_CELLS)),
        "-p",
        "x",
        "5",
        "-r",
        "label",
        "007",
        "--output",
        str(tmp_path / "ok.out.ipynb"),
    )
    assert ok.returncode == 0, ok.stderr
    assert "ok: ok.ipynb" in ok.stdout and "score=10" in ok.stdout
    assert (tmp_path / "ok.out.ipynb").is_file()

    failed = cli(store, "run-notebook", str(make_notebook("fail", *FAIL_CELLS)))
    assert failed.returncode == 1
    assert "FAILED" in failed.stderr
    assert re.search(r"ValueError at In \[\d+\]: boom 1", failed.stderr)

    gate = cli(store, "run-notebook", str(make_notebook("gate", *GATE_CELLS)))
    assert gate.returncode == 1
    assert "quality gate failed" in gate.stderr and "[FAIL]" in gate.stderr

    missing = cli(store, "run-notebook", str(tmp_path / "missing.ipynb"))
    assert missing.returncode == 2 and "an existing .ipynb file" in missing.stderr

    client = wb.connect(store)
    try:
        runs = client.search_runs("pipelines", order_by="start_time")
        assert list(runs["name"]) == ["ok", "fail", "gate"]
        assert list(runs["status"]) == ["finished", "failed", "failed"]
        assert runs["params.x"].iloc[0] == 5 and runs["params.label"].iloc[0] == "007"
    finally:
        client.close()


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("-2.5", -2.5), ("True", True), ("false", False), ("None", None), ("a b", "a b")],
)
def test_parameter_values_are_converted_like_papermill(text: str, value: object) -> None:
    assert parse_value(text) == value and type(parse_value(text)) is type(value)
