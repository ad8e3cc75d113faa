"""The dashboard behind the sidebar's "Open dashboard" button.

``WORKBENCH_DASHBOARD_URL`` names a dashboard that is already served (a shared one, or one
behind a proxy): the button opens it. Without it, the first click starts ``workbench dashboard``
as a child of the Jupyter server, on a free port of 127.0.0.1 and on the store the server reads,
and later clicks reuse it; it stops with the server. A loopback dashboard is only reachable from
a browser on the same machine, which is the case of a local JupyterLab; anything else sets the
URL.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from workbench.exceptions import DashboardUnavailableError

__all__ = ["DashboardUnavailableError", "ensure_started", "status", "stop"]

START_TIMEOUT_S = 60.0
_lock = threading.Lock()
_state: dict[str, Any] = {"process": None, "url": None, "log": None}


def _configured_url() -> str | None:
    url = os.environ.get("WORKBENCH_DASHBOARD_URL", "").strip()
    return url or None


def status() -> dict[str, Any]:
    """The dashboard URL if one is configured or running, else ``None``."""
    url = _configured_url()
    if url:
        return {"url": url, "started_here": False}
    with _lock:
        process = _state["process"]
        running = process is not None and process.poll() is None
        return {"url": _state["url"] if running else None, "started_here": running}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _store_for_child() -> str:
    """The store the server reads, as the child dashboard opens it: the location configured
    (a team store's URL as given, not the redacted one a store shows; a password belongs in
    PGPASSWORD or ~/.pgpass, which the child inherits)."""
    from workbench.store import Store, resolve_store_location

    location = resolve_store_location()
    return location.location if isinstance(location, Store) else str(location)


def ensure_started() -> dict[str, Any]:
    """The dashboard URL, starting a loopback dashboard first when none is configured."""
    url = _configured_url()
    if url:
        return {"url": url, "started_here": False}
    with _lock:
        process = _state["process"]
        if process is not None and process.poll() is None:
            return {"url": _state["url"], "started_here": True}
        if importlib.util.find_spec("panel") is None:
            raise DashboardUnavailableError(
                "The dashboard needs Panel: `pip install workbench[ui]` in the environment of "
                "the Jupyter server, or set WORKBENCH_DASHBOARD_URL to a running dashboard."
            )
        port = _free_port()
        env = dict(os.environ, WORKBENCH_STORE=_store_for_child())
        # The child's stderr goes to a file, never to a pipe nobody reads (it would block the
        # child); the file lives as long as the child (closed by stop()).
        log = tempfile.TemporaryFile()  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli.dashboard", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                error = log.read().decode(errors="replace")[-2000:]
                log.close()
                raise DashboardUnavailableError(f"The dashboard did not start:\n{error}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            process.terminate()
            log.close()
            raise DashboardUnavailableError(
                f"The dashboard did not listen on port {port} within {START_TIMEOUT_S:.0f} s."
            )
        _state.update(process=process, url=f"http://127.0.0.1:{port}/", log=log)
        return {"url": _state["url"], "started_here": True}


def stop() -> None:
    """Stop a dashboard started by :func:`ensure_started` (called when the server exits)."""
    with _lock:
        process, log = _state["process"], _state["log"]
        _state.update(process=None, url=None, log=None)
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
    if log is not None:
        log.close()


atexit.register(stop)
