"""Serving the dashboard as a child process and driving Debian's Chromium (ARCHITECTURE.md)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ChildServer:
    """A server as a direct child process on a free 127.0.0.1 port, its output in a log file.

    Subclasses say what runs (``command``), where its output goes (``log_path``), where it
    answers once ready (``READY_PATH``) and how long it may take to stop (``STOP_TIMEOUT_S``).
    """

    NAME = "the server"
    READY_PATH = "/"
    STOP_TIMEOUT_S = 10.0

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.log_path()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            self.command(),
            env={**os.environ, **(env or {})},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def command(self) -> list[str]:
        raise NotImplementedError

    def log_path(self) -> Path:
        raise NotImplementedError

    def wait_ready(self, path: str | None = None, timeout: float = 60.0) -> None:
        """Poll until the server answers (the child must stay alive meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.NAME} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + (path or self.READY_PATH), timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"{self.NAME} did not answer within {timeout} s")

    def stop(self) -> None:
        """Stop the child by its PID (terminate, then kill)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


class Served(ChildServer):
    """``workbench dashboard`` reading ``store`` (a folder or a team store's URL); its log is
    test-artifacts/ui/server-PORT.log."""

    NAME = "the dashboard"
    READY_PATH = "/liveness"

    def __init__(self, store: Path | str, *args: str, env: dict[str, str] | None = None) -> None:
        self.store, self.args = store, args
        super().__init__(env)

    def log_path(self) -> Path:
        return ARTIFACTS / f"server-{self.port}.log"

    def command(self) -> list[str]:
        return [
            sys.executable,
            *("-m", "workbench.cli.dashboard", "--store", str(self.store)),
            *("--port", str(self.port), "--address", "127.0.0.1", *self.args),
        ]


class JupyterLab(ChildServer):
    """JupyterLab without a token reading ``store`` (a folder or a team store's URL), serving
    ``folder / "root"``; its own config, settings, workspace and runtime folders under
    ``folder``, its log ``lab.log``."""

    NAME = "jupyter lab"
    READY_PATH = "/api/status"
    STOP_TIMEOUT_S = 20.0

    def __init__(self, store: Path | str, folder: Path) -> None:
        self.folder, self.root = folder, folder / "root"
        self.root.mkdir(exist_ok=True)
        env = {
            "WORKBENCH_STORE": str(store),
            "JUPYTER_CONFIG_DIR": str(folder / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        }
        super().__init__(env)

    def log_path(self) -> Path:
        return self.folder / "lab.log"

    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).with_name("jupyter")),
            *("lab", "--no-browser", "--allow-root", "--IdentityProvider.token="),
            *("--ip", "127.0.0.1", "--port", str(self.port)),
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
        ]


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/ui/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def local_tab(browser: Any, timeout_ms: int, **options: Any) -> Iterator[Any]:
    """A fresh tab (1400x1000 unless ``viewport=`` says otherwise) that fails the test if the
    page requested anything off this machine (no CDN, no web font)."""
    context = browser.new_context(**{"viewport": {"width": 1400, "height": 1000}, **options})
    tab = context.new_page()
    tab.set_default_timeout(timeout_ms)
    outside: list[str] = []
    tab.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "blob:http://127.0.0.1", "data:"))
            else None
        ),
    )
    try:
        yield tab
    finally:
        context.close()
    assert not outside, f"the page reached outside the machine: {outside[:5]}"
