"""The README's first command, as a newcomer runs it: from a fresh clone, in a fresh venv.

1. ``bash scripts/demo --check`` creates ``.venv``, installs workbench with the notebook and
   dashboard extras (pip's cache and ``PIP_FIND_LINKS`` as the machine provides them), fills the
   default store, starts JupyterLab and the dashboard (off loopback, so the dashboard with a
   password) and checks that they answer, in place of staying open.
2. ``bash scripts/demo`` again, as the README runs it: it installs and adds nothing, and stays
   open; the test checks the servers itself (JupyterLab, the sidebar's API listing the demo's
   runs, the dashboard).
3. Meanwhile ``bash scripts/demo --check`` finds the open one instead of failing on its ports,
   and changes nothing; Ctrl-C then stops the open one and its servers.

The clone is of the committed HEAD plus this working tree's uncommitted changes (none in CI).
``WORKBENCH_DEMO_VENV=borrow`` makes step 1 quick: the clone's ``.venv`` is made beforehand with
this environment's packages on its path (a ``.pth`` line), so pip finds every dependency
installed and installs workbench alone; it no longer proves that the extras declare everything
the demo needs. Each step prints its duration (``-s``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _demo_store import inventory

import workbench as wb
from workbench.demo import EXPERIMENT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "a password for the demo"
PASSWORD_ENV = "WORKBENCH_DASHBOARD_PASSWORD"
URL = re.compile(r"http://\S+")


def _clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(dest)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = REPO / name, dest / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif not source.exists():
            target.unlink(missing_ok=True)
    return dest


def _borrow_this_environment(clone: Path, python: str) -> None:
    """A ``.venv`` for the clone that sees this environment's packages (not its ``.pth``
    files: not its editable workbench)."""
    venv = clone / ".venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    (Path(purelib) / "_borrowed_dependencies.pth").write_text("\n".join(ours) + "\n")


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    clone = _clone(tmp_path_factory.mktemp("fresh") / "workbench")
    mode = os.environ.get("WORKBENCH_DEMO_VENV", "fresh")
    assert mode in ("fresh", "borrow"), f"WORKBENCH_DEMO_VENV={mode!r}: fresh or borrow"
    if mode == "borrow":
        _borrow_this_environment(clone, env["PYTHON"])
    print(f"venv: {mode}")
    return clone


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a newcomer's shell: no venv active, no store configured, Jupyter's
    folders of its own (the runtime folder is where the demo finds a JupyterLab it left
    open)."""
    home = tmp_path_factory.mktemp("jupyter")
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "WORKBENCH_STORE", "WORKBENCH_REINSTALL"}
    environ = {k: v for k, v in os.environ.items() if k not in drop and "DASHBOARD" not in k}
    venv_bin = str(Path(sys.executable).parent)
    environ["PATH"] = os.pathsep.join(
        p for p in environ.get("PATH", "").split(os.pathsep) if p != venv_bin
    )
    environ["PYTHON"] = getattr(sys, "_base_executable", sys.executable)  # not this venv's
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        environ[name] = str(home / name.lower())
    environ["JUPYTERLAB_SETTINGS_DIR"] = str(home / "lab-settings")
    environ["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "lab-workspaces")
    return environ


def _demo(clone: Path, env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> str:
    started = time.perf_counter()
    done = subprocess.run(
        ["bash", "scripts/demo", *args],
        cwd=clone,
        env={**env, **(extra or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    print(f"bash scripts/demo {' '.join(args)}: {time.perf_counter() - started:.1f} s")
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "NOT READY" not in done.stderr
    return done.stdout + done.stderr


def _inventory(clone: Path) -> dict[str, object]:
    client = wb.connect(clone / ".workbench")
    try:
        return inventory(client)
    finally:
        client.close()


@contextlib.contextmanager
def _left_open(clone: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """``bash scripts/demo`` left open, as the README runs it: its output once it says the
    servers are up; stopped with SIGINT (Ctrl-C) afterwards, which must end it cleanly."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "scripts/demo"],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while "Ctrl-C stops it" not in log.read_text():
            assert process.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.5)
        print(f"bash scripts/demo, until open: {time.perf_counter() - started:.1f} s")
        yield log.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, log.read_text()[-4000:]
        assert "stopping JupyterLab and the dashboard" in log.read_text()
    finally:
        if process.poll() is None:  # a failure above: it stops its servers on SIGINT
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _urls(out: str) -> tuple[str, str, str]:
    """JupyterLab's base URL and token, and the dashboard's URL, as the demo printed them."""
    lab = next(u for u in URL.findall(out) if "token=" in u)
    dashboard = next(u for u in URL.findall(out) if "token=" not in u and u.endswith("/"))
    return lab.split("lab/", 1)[0], lab.rsplit("token=", 1)[1], dashboard


def test_the_first_command_from_a_fresh_clone(
    clone: Path, env: dict[str, str], tmp_path: Path
) -> None:
    # 1. a fresh venv; servers off loopback, the dashboard behind its password
    out = _demo(clone, env, "--check", "--address", "0.0.0.0", extra={PASSWORD_ENV: PASSWORD})
    assert "8/8" in out and "up and answering" in out, out
    assert f"password: the one in {PASSWORD_ENV}" in out, out
    where = subprocess.run(
        [
            str(clone / ".venv" / "bin" / "python"),
            "-c",
            "import jupyterlab, panel, workbench; print(workbench.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(clone), where  # the clone's own venv and code
    first = _inventory(clone)
    assert first["demo_runs"] and first["deployments"] and first["reports"], first

    # 2. again, open as the README runs it: nothing installed, nothing added
    with _left_open(clone, env, tmp_path / "open.log") as out:
        assert "nothing to add" in out and "Installing workbench" not in out, out
        lab, token, dashboard = _urls(out)
        headers = {"Authorization": f"token {token}"}
        assert httpx.get(f"{lab}api/status", headers=headers, timeout=30).status_code == 200
        runs = httpx.get(
            f"{lab}workbench/runs", params={"experiment": EXPERIMENT}, headers=headers, timeout=60
        )
        assert runs.status_code == 200 and runs.json()["total"] == first["demo_runs"]
        assert httpx.get(dashboard, timeout=60).status_code == 200
        assert _inventory(clone) == first

        # 3. meanwhile: it finds the open one
        third = _demo(clone, env, "--check")
        assert "already open" in third and lab in third, third
        assert _inventory(clone) == first
    with pytest.raises(httpx.TransportError):  # stopped with it
        httpx.get(f"{lab}api/status", timeout=5)
