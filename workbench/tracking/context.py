"""What a run records about where it ran: code version, environment, host, notebook.

Captured once per run at start. Git state is cached for two seconds (one ``git`` call costs
~10 ms, and sweeps start hundreds of runs a second); package versions, the interpreter, the
platform, host and user once per process.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from functools import cache
from importlib import metadata
from typing import Any

KEY_PACKAGES = (
    "workbench",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "optuna",
    "duckdb",
    "pyarrow",
    "plotly",
    "torch",
    "xgboost",
    "lightgbm",
)
_GIT_TTL_S = 2.0
_git_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_git_lock = threading.Lock()


def _git(args: list[str], cwd: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(cwd: str | None = None) -> dict[str, Any]:
    """Commit, branch, dirty flag and repository root of the working directory (empty if none)."""
    cwd = cwd or os.getcwd()
    now = time.monotonic()
    with _git_lock:
        cached = _git_cache.get(cwd)
        if cached and now - cached[0] < _GIT_TTL_S:
            return cached[1]
    state: dict[str, Any] = {}
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit:
        status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
        state = {
            "commit": commit,
            "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd),
            "dirty": bool(status),
            "root": _git(["rev-parse", "--show-toplevel"], cwd),
        }
    with _git_lock:
        _git_cache[cwd] = (now, state)
    return state


@cache
def package_versions() -> dict[str, str]:
    """Versions of the packages that matter for reproducing a model, where installed."""
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def notebook_path() -> str | None:
    """The notebook this kernel runs, when known (Jupyter, VS Code, workbench run-notebook)."""
    for variable in ("WORKBENCH_NOTEBOOK", "JPY_SESSION_NAME"):
        if os.environ.get(variable):
            return os.environ[variable]
    ipython = sys.modules.get("IPython")
    if ipython is not None:
        shell = ipython.get_ipython()
        if shell is not None:
            vscode_file = shell.user_ns.get("__vsc_ipynb_file__")
            if vscode_file:
                return str(vscode_file)
    return None


@cache
def _machine() -> dict[str, Any]:
    """What does not change while the process runs: interpreter, platform, host, user."""
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": socket.gethostname(),
        "user": user,
    }


def capture() -> dict[str, Any]:
    """The context recorded with a new run."""
    machine = _machine()
    context: dict[str, Any] = {
        "git": git_state(),
        "python": machine["python"],
        "platform": machine["platform"],
        "packages": package_versions(),
        "host": machine["host"],
        "user": machine["user"],
        "cwd": os.getcwd(),
        "command": " ".join(sys.argv[:3]) if sys.argv and sys.argv[0] else None,
    }
    notebook = notebook_path()
    if notebook:
        context["notebook"] = notebook
    return context
