"""Peer environments for benchmarks: one virtualenv per peer, never a runtime dependency.

A peer (MLflow, Evidently, ...) is installed into ``bench/.venvs/<name>/`` and its benchmark script
runs there as a subprocess that prints one JSON object on its last stdout line.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
STAMP_NAME = "bench-stamp.json"


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _stamp(requirements: list[str]) -> dict[str, Any]:
    base = getattr(sys, "_base_executable", sys.executable)
    return {
        "requirements": list(requirements),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "base_executable": str(base),
    }


def _read_stamp(venv: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((venv / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _clean_env() -> dict[str, str]:
    """The environment for peer processes, without this process's venv or import path leaking in."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(key, None)
    return env


def ensure_venv(name: str, requirements: list[str]) -> Path:
    """Create (or reuse) ``bench/.venvs/<name>/`` with ``requirements``; return its python.

    The venv is reused when the stamp file inside it records the same requirement list and Python
    minor version; otherwise it is rebuilt from scratch. The stamp is written last, so an
    interrupted install is redone on the next call. A file lock serialises concurrent callers.
    """
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    venv = VENVS_DIR / name
    python = _venv_python(venv)
    wanted = _stamp(requirements)
    with open(VENVS_DIR / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = _read_stamp(venv)
        if (
            stamp is not None
            and python.exists()
            and stamp.get("requirements") == wanted["requirements"]
            and stamp.get("python") == wanted["python"]
        ):
            return python
        if venv.exists():
            shutil.rmtree(venv)
        started = time.perf_counter()
        base = str(wanted["base_executable"])
        print(f"[bench] creating venv {venv} ...", file=sys.stderr, flush=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, env=_clean_env())
        if requirements:
            print(f"[bench] pip install {' '.join(requirements)}", file=sys.stderr, flush=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-qq", *requirements],
                check=True,
                env=_clean_env(),
            )
        elapsed = time.perf_counter() - started
        wanted["created_seconds"] = round(elapsed, 1)
        (venv / STAMP_NAME).write_text(json.dumps(wanted, indent=2) + "\n")
        print(f"[bench] venv {name} ready in {elapsed:.1f} s", file=sys.stderr, flush=True)
    return python


def run_in_venv(
    python: Path, script: Path, args: list[str], timeout: float | None = None
) -> dict[str, Any]:
    """Run ``script`` with ``python``; return the JSON object printed on its last stdout line.

    The peer's stderr passes through (progress messages); its stdout is captured. A non-zero exit
    or a last line that is not a JSON object raises ``RuntimeError`` with the tail of the output.
    """
    proc = subprocess.run(
        [str(python), str(script), *args],
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        env=_clean_env(),
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        tail = "\n".join(lines[-20:])
        raise RuntimeError(f"{script.name} exited {proc.returncode}; stdout tail:\n{tail}")
    if not lines:
        raise RuntimeError(f"{script.name} printed nothing on stdout")
    try:
        result = json.loads(lines[-1])
    except ValueError as exc:
        raise RuntimeError(f"{script.name}: last stdout line is not JSON: {lines[-1]!r}") from exc
    if not isinstance(result, dict):
        raise TypeError(f"{script.name}: last stdout line is not a JSON object")
    return result
