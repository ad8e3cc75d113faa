"""``workbench serve`` in the foreground (Ctrl-C stops it) and ``workbench deployments``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import httpx
import pytest
from _serving_models import Models, split_payload


def _cli(models: Models, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--store", str(models.store), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _serve(models: Models, *args: str) -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "--store", str(models.store), "serve", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"at (http://\S+) \(deployment (\S+)\)", line)
    assert found, line
    return process, found.group(1), found.group(2)


@pytest.mark.slow
def test_serve_answers_until_ctrl_c(models: Models) -> None:
    process, url, deployment_id = _serve(models, "bc@champion", "--port", "0")
    try:
        answer = httpx.post(
            f"{url}/invocations", json=split_payload(models.X.iloc[:2]), trust_env=False
        )
        assert answer.json()["predictions"] == models.v1.predict(models.X.iloc[:2]).tolist()
        listed = json.loads(_cli(models, "deployments", "list", "--format", "json").stdout)
        assert {d["deployment_id"]: d["status"] for d in listed}[deployment_id] == "running"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert process.stdout is not None
        process.stdout.close()
    everything = json.loads(_cli(models, "deployments", "list", "--all", "--format", "json").stdout)
    assert {d["deployment_id"]: d["status"] for d in everything}[deployment_id] == "stopped"
    running = json.loads(_cli(models, "deployments", "list", "--format", "json").stdout)
    assert deployment_id not in {d["deployment_id"] for d in running}


@pytest.mark.slow
def test_deployments_stop_and_status_from_another_process(models: Models) -> None:
    process, _, deployment_id = _serve(
        models, "bc/2", "--port", "0", "--deployment-id", "cli-stop-me"
    )
    try:
        status = _cli(models, "deployments", "status", deployment_id)
        assert json.loads(status.stdout)["state"] == "running"
        stopped = _cli(models, "deployments", "stop", deployment_id)
        assert stopped.returncode == 0 and f"stopped {deployment_id}" in stopped.stdout
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
    missing = _cli(models, "deployments", "stop", "no-such-deployment")
    assert (
        missing.returncode == 2 and "No deployment with id 'no-such-deployment'" in missing.stderr
    )
    refused = _cli(models, "serve", "bc/1", "--host", "0.0.0.0")
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr
