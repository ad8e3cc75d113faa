"""The built wheel works alone: installed into a fresh venv outside the repository, with no
network and no source checkout, ``workbench demo`` and the Seattle weather scenario run.

The fresh venv gets the dependencies from this test's own environment through a ``.pth`` line
(a path line only: the ``.pth`` files in that folder, among them the editable install of
workbench, are not processed), and its own site-packages comes first, so ``import workbench``
finds the wheel's copy; the test asserts that it does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "workbench"

pytestmark = pytest.mark.slow
#: pip's options for installing the wheel alone: its dependencies come through the ``.pth`` line.
OFFLINE = ("--no-deps", "--no-index")

SCENARIO = """
import json
import workbench
from workbench.monitoring.scenario import seattle_weather_scenario

scenario = seattle_weather_scenario()
scenario.register_champion()
steps = scenario.monitor().run(scenario.batches[:5])   # 2013-01 .. 2013-05; labels change 04-01
print(json.dumps({
    "file": workbench.__file__,
    "repr": repr(scenario),
    "rows": len(scenario.data),
    "decisions": [step.decision for step in steps],
}))
"""


def _run(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{args} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build --wheel`` without isolation: hatchling comes from the test extra, so no
    index is needed."""
    out = tmp_path_factory.mktemp("dist")
    started = time.perf_counter()
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
        cwd=REPO,
        env=dict(os.environ),
    )
    print(f"wheel built in {time.perf_counter() - started:.1f} s")
    (built,) = out.glob("workbench-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fresh")
    assert not root.is_relative_to(REPO)
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root, env=_env(venv))
    python = venv / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=root,
        env=_env(venv),
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_workbench_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            *OFFLINE,
            wheel,
        ],
        cwd=root,
        env=_env(venv),
    )
    yield venv


def _env(venv: Path, store: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "WORKBENCH_STORE"}}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONNOUSERSITE"] = "1"
    if store is not None:
        env["WORKBENCH_STORE"] = str(store)
    return env


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    assert not work.is_relative_to(REPO)
    return work


def test_wheel_holds_the_package_data_and_the_jupyterlab_extension(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {
        path.relative_to(REPO).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py"
    }
    assert "workbench/data/seattle-weather.csv" in data
    assert data <= names, f"not in the wheel: {sorted(data - names)}"
    version = wheel.name.split("-")[1]
    shared = f"workbench-{version}.data/data/"
    lab = f"{shared}share/jupyter/labextensions/workbench/"
    assert {f"{lab}package.json", f"{lab}install.json"} <= names
    static = {n for n in names if n.startswith(f"{lab}static/")}
    built = {f"{lab}static/{p.name}" for p in (PACKAGE / "labextension" / "static").iterdir()}
    assert static == built
    assert any(name.rsplit("/", 1)[-1].startswith("remoteEntry.") for name in static)
    assert f"{shared}etc/jupyter/jupyter_server_config.d/workbench.json" in names


def test_installed_wheel_imports_its_own_copy(fresh_venv: Path, tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    out = _run(
        [str(fresh_venv / "bin" / "python"), "-c", "import workbench; print(workbench.__file__)"],
        cwd=work,
        env=_env(fresh_venv),
    ).stdout.strip()
    assert Path(out).is_relative_to(fresh_venv), out
    assert (
        fresh_venv / "share" / "jupyter" / "labextensions" / "workbench" / "package.json"
    ).is_file()


def test_workbench_demo_from_the_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    store = work / ".workbench"
    env = _env(fresh_venv, store)
    started = time.perf_counter()
    out = _run(
        [str(fresh_venv / "bin" / "workbench"), "demo", "--no-open"], cwd=work, env=env
    ).stdout
    print(f"workbench demo from the wheel: {time.perf_counter() - started:.1f} s")
    assert "8/8" in out and "done in" in out, out
    assert store.is_dir()
    listed = _run(
        [str(fresh_venv / "bin" / "workbench"), "models", "list"], cwd=work, env=env
    ).stdout
    assert "breast-cancer" in listed, listed


def test_seattle_weather_scenario_from_the_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    env = _env(fresh_venv, work / ".workbench")
    out = _run([str(fresh_venv / "bin" / "python"), "-c", SCENARIO], cwd=work, env=env).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert Path(result["file"]).is_relative_to(fresh_venv)
    assert result["rows"] == 1461
    assert "36 monthly batches 2013-01 .. 2015-12" in result["repr"]
    # The labels change on 2013-04-01: the champion's accuracy falls below the floor, a
    # challenger is retrained, and it passes the gate on May (forward evaluation).
    assert result["decisions"] == ["no_drift"] * 3 + ["retrained", "promoted"], result
