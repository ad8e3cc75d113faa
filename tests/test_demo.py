"""`workbench demo`: the lifecycle it leaves in the store, once however often it runs, and the
command's modes that need no server (the servers: tests/test_demo_fresh_clone.py)."""

from __future__ import annotations

import argparse
import re
import socket
from pathlib import Path

import pytest
from _demo_store import inventory

import workbench as wb
from workbench.cli import build_parser, main
from workbench.cli import demo as cli_demo
from workbench.demo import (
    DEPLOYMENT,
    EXPERIMENT,
    MODEL,
    REPORT,
    STEPS,
    SWEEP,
    DemoSummary,
    run_demo,
)


@pytest.mark.slow
def test_demo_fills_the_lifecycle_once(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-open"]) == 0
    out = capsys.readouterr().out
    counters = re.findall(r"^\[workbench demo\] (\d+)/(\d+) ", out, flags=re.M)
    assert counters == [(str(i), str(len(STEPS))) for i in range(1, len(STEPS) + 1)], out
    assert "already in the store" not in out and "Next: `workbench demo`" in out

    client = wb.connect()
    first = inventory(client)
    runs = client.search_runs(EXPERIMENT, max_results=None)
    assert (runs["status"] == "finished").all()
    curves = client.search_runs(EXPERIMENT, filter="tags.kind = 'curve'")
    assert len(curves) == 3
    assert len(client.get_metric_history(curves["run_id"].iloc[0], "test_accuracy")) == 30
    assert first["sweeps"] == [SWEEP]
    assert client.load_sweep(SWEEP).counts()["complete"] == 15
    assert first["deployments"] == [DEPLOYMENT] and first["served_rows"] == 171
    assert client.list_deployments()["status"].iloc[0] == "stopped"
    assert first["reports"] == [REPORT]
    assert client.load_drift_report(
        client.search_runs("drift-reports")["run_id"].iloc[0]
    ).dataset_drift
    # the closed-loop step: drift fired, a challenger was retrained and gated, and promoted
    checks = client.search_runs(EXPERIMENT, filter="tags.`workbench.kind` = 'monitor_check'")
    assert list(checks["tags.workbench.decision"]) == ["promoted"]
    assert first["versions"] == [1, 2] and first["champion"] == 2
    assert hasattr(client.load_model(f"{MODEL}@champion"), "predict")

    summary = run_demo()  # again: it finds everything and adds nothing
    out = capsys.readouterr().out
    assert len(summary.skipped) == len(STEPS) - 1  # all but the queries, which only read
    assert out.count("already in the store") == len(STEPS) - 1
    assert inventory(client) == first


def test_no_open_and_check_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["demo", "--no-open", "--check"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(("check", "code"), [(False, 0), (True, 1)])
def test_without_jupyterlab_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], check: bool, code: int
) -> None:
    import importlib.util

    import workbench.demo

    monkeypatch.setattr(workbench.demo, "run_demo", lambda: DemoSummary(lines=["x"], runs=3))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "jupyterlab" else real(name, *a),
    )
    assert main(["demo", *(["--check"] if check else [])]) == code
    captured = capsys.readouterr()
    assert 'pip install "workbench[jupyter,ui]"' in captured.err
    assert "bash scripts/demo" in captured.err


def test_a_busy_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        chosen = cli_demo._port("127.0.0.1", taken)
    assert chosen != taken and chosen > 0


def test_no_running_lab_is_found_in_an_empty_runtime_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("jupyter_core")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    assert cli_demo._running_lab(tmp_path, str(tmp_path / "store")) is None


@pytest.mark.parametrize(
    ("address", "local"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("::1", "[::1]")],
)
def test_the_checks_reach_the_servers_on_loopback(address: str, local: str) -> None:
    assert cli_demo._local_host(address) == local
    public = f"http://{socket.gethostname()}:5006/"
    assert cli_demo._reachable(public) == "http://127.0.0.1:5006/"


def test_the_command_is_registered_once() -> None:
    args = build_parser().parse_args(["demo"])
    assert isinstance(args, argparse.Namespace) and args.handler is cli_demo.run
    assert not args.no_open and not args.check and args.address == "127.0.0.1"
