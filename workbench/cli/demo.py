"""``workbench demo``: fill the store with the demo lifecycle, then open JupyterLab and a dashboard.

Three modes:

- default: after the demo (:mod:`workbench.demo`), JupyterLab starts on the notebooks folder
  with the Workbench sidebar, and the dashboard beside it; both URLs are printed, and Ctrl-C
  stops both.
- ``--check``: the same servers, but instead of staying open the command checks that they
  answer (JupyterLab, the sidebar's API listing the demo's runs, the dashboard and its login
  when off loopback), stops them and exits 0, or 1 if one does not answer (tests, CI).
- ``--no-open``: the terminal walkthrough only (CI, or an install without the extras).

Running it twice is safe. The demo adds nothing the store already holds. A JupyterLab still
running from an earlier ``workbench demo`` on the same folder and store (found through
Jupyter's runtime files; it may run in another terminal) is reused, with the dashboard its
sidebar opens, rather than started again; a busy port is replaced by a free one.

Both servers run as direct children in their own session (Ctrl-C in the terminal reaches only
this process, which stops them by PID, JupyterLab's kernels included), on ``--address``
(default 127.0.0.1). JupyterLab always requires its token, which reaches it through the
environment (``JUPYTER_TOKEN``) and is printed in its URL. The dashboard is read-only; bound
anywhere but 127.0.0.1 it asks for a password, ``WORKBENCH_DASHBOARD_PASSWORD`` or one generated
and printed here.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import workbench as wb

LOOPBACK = "127.0.0.1"
LAB_PORT = 8888
DASHBOARD_PORT = 5006
READY_TIMEOUT_S = 120.0
TOUR = "00-tour.ipynb"
WORKSPACE = "workbench-demo"  # the JupyterLab workspace whose layout the demo sets up
SIDEBAR_ID = "workbench-sidebar"
PASSWORD_ENV = "WORKBENCH_DASHBOARD_PASSWORD"
EXTRAS_HINT = 'pip install "workbench[jupyter,ui]"'


def register(commands: Any) -> None:
    """Add ``workbench demo`` to the CLI's sub-commands."""
    parser = commands.add_parser(
        "demo",
        help="fill the store with the demo lifecycle; open JupyterLab and the dashboard on it",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--no-open", action="store_true", help="only fill the store and print the walkthrough"
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="start the servers, check that they answer, stop them; exit 1 if one does not",
    )
    parser.add_argument(
        "--address",
        default=LOOPBACK,
        help=f"interface both servers bind (default {LOOPBACK}; with any other the dashboard "
        f"asks for a password: {PASSWORD_ENV}, or one generated and printed)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=LAB_PORT,
        help=f"JupyterLab's port (default {LAB_PORT}; a busy one is replaced by a free one)",
    )
    parser.add_argument(
        "--dashboard-port",
        type=int,
        default=DASHBOARD_PORT,
        help=f"the dashboard's port (default {DASHBOARD_PORT})",
    )
    parser.add_argument(
        "--notebooks",
        help="the folder JupyterLab opens (default: ./notebooks if there is one, else .)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The ``workbench demo`` command; returns the exit code."""
    from workbench.demo import EXPERIMENT, run_demo

    summary = run_demo()
    counts = f"{summary.runs} runs in the store"
    if len(summary.skipped) == len(summary.lines) - 1:  # all but the queries
        _say(f"done in {summary.duration_s:.1f} s: nothing to add, the store had it all ({counts})")
    else:
        _say(f"done in {summary.duration_s:.1f} s ({counts})")
    if args.no_open:
        print(
            "\nNext: `workbench demo` (without --no-open) opens JupyterLab on the lifecycle "
            f"notebooks with the Workbench sidebar, and the dashboard ({EXTRAS_HINT} first).\n"
            f"From the terminal: `workbench runs list -e {EXPERIMENT}`, `workbench models list`, "
            '`workbench sql "select * from runs"`.',
            flush=True,
        )
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            f"\nJupyterLab is not installed here, so the demo cannot open it: run `{EXTRAS_HINT}` "
            "(or `bash scripts/demo` in a clone of the repository), then `workbench demo` again.",
            file=sys.stderr,
            flush=True,
        )
        return 1 if args.check else 0
    wb.close()  # the servers read the store from now on: this process lets go of it
    with _open(args) as opened:
        problems = _check(opened, EXPERIMENT)
        _print_opened(opened, args.check)
        if problems:
            for problem in problems:
                print(f"  NOT READY: {problem}", file=sys.stderr, flush=True)
            if opened.logs is not None:
                print(f"  server logs: {opened.logs}", file=sys.stderr, flush=True)
            return 1
        if args.check or opened.reused:
            opened.keep_logs = False
            return 0
        opened.keep_logs = not _wait(opened)
        return 1 if opened.keep_logs else 0


def _say(message: str) -> None:
    print(f"[workbench demo] {message}", flush=True)


# -- the servers ----------------------------------------------------------------------------------


@dataclass
class _Child:
    """A server this command started: its process and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ready: str  # a cheap page that answers once it serves

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class _Opened:
    """JupyterLab and the dashboard, started here or found running."""

    lab_url: str  # where this machine reaches it (with no token)
    lab_public: str  # the URL to print: the host others use, the tour, the token
    token: str
    store: str
    dashboard_url: str | None = None
    dashboard_public: str | None = None
    password: str | None = None
    password_generated: bool = False
    reused: bool = False
    lab_pid: int | None = None
    children: list[_Child] = field(default_factory=list)
    logs: Path | None = None
    keep_logs: bool = True  # removed when all went well


@contextlib.contextmanager
def _open(args: argparse.Namespace) -> Iterator[_Opened]:
    """JupyterLab (and the dashboard) on the store: found running, or started and stopped on
    exit."""
    from workbench.store import Store, resolve_store_location

    location = resolve_store_location()
    store = location.location if isinstance(location, Store) else str(location)
    notebooks = Path(args.notebooks or ("notebooks" if Path("notebooks").is_dir() else "."))
    notebooks = notebooks.resolve()
    found = _running_lab(notebooks, store)
    if found is not None:
        yield found
        return
    logs = Path(tempfile.mkdtemp(prefix="workbench-demo-"))
    opened: _Opened | None = None
    children: list[_Child] = []
    try:
        opened = _start(args, notebooks, store, logs, children)
        yield opened
    finally:
        for child in reversed(children):
            child.stop()
        if opened is not None and not opened.keep_logs:
            shutil.rmtree(logs, ignore_errors=True)


def _start(
    args: argparse.Namespace, notebooks: Path, store: str, logs: Path, children: list[_Child]
) -> _Opened:
    """Start the dashboard (if Panel is installed) and JupyterLab; return once both answer."""
    env = dict(os.environ, WORKBENCH_STORE=store)
    opened = _Opened(lab_url="", lab_public="", token=secrets.token_hex(24), store=store)
    opened.logs, opened.children = logs, children
    if importlib.util.find_spec("panel") is not None:
        children.append(_start_dashboard(args, env, opened, logs))
        env["WORKBENCH_DASHBOARD_URL"] = opened.dashboard_public or ""  # the sidebar's button
    children.append(_start_lab(args, env, opened, notebooks, logs))
    for child in children:
        _wait_listening(child)
    _seed_workspace(opened.lab_url, opened.token, notebooks)
    return opened


def _start_dashboard(
    args: argparse.Namespace, env: dict[str, str], opened: _Opened, logs: Path
) -> _Child:
    address = args.address
    port = _port(address, args.dashboard_port)
    password = os.environ.get(PASSWORD_ENV, "").strip() or None
    # Bound anywhere but the default, the dashboard gets a password (off loopback it would
    # refuse to start without one).
    if password is None and address != LOOPBACK:
        password, opened.password_generated = secrets.token_urlsafe(12), True
    opened.password = password
    opened.dashboard_url = f"http://{_local_host(address)}:{port}/"
    opened.dashboard_public = f"http://{_public_host(address)}:{port}/"
    command = [sys.executable, "-m", "workbench.cli", "dashboard"]
    command += ["--port", str(port), "--address", address]
    ready = f"{opened.dashboard_url}{'login' if password else 'liveness'}"
    child_env = dict(env, **({PASSWORD_ENV: password} if password else {}))
    return _spawn("the dashboard", command, child_env, logs / "dashboard.log", ready)


def _start_lab(
    args: argparse.Namespace, env: dict[str, str], opened: _Opened, notebooks: Path, logs: Path
) -> _Child:
    address = args.address
    port = _port(address, args.port)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser"]
    command += [f"--ServerApp.ip={address}", f"--ServerApp.port={port}"]
    command += ["--ServerApp.port_retries=0", f"--ServerApp.root_dir={notebooks}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    # The token reaches it through the environment: other users can read a command line.
    child_env = dict(env, JUPYTER_TOKEN=opened.token)
    opened.lab_url = f"http://{_local_host(address)}:{port}/"
    opened.lab_public = _lab_link(
        f"http://{_public_host(address)}:{port}/", notebooks, opened.token
    )
    ready = f"{opened.lab_url}api/status"
    lab = _spawn("JupyterLab", command, child_env, logs / "jupyterlab.log", ready)
    opened.lab_pid = lab.process.pid
    return lab


def _spawn(name: str, command: list[str], env: dict[str, str], log: Path, ready: str) -> _Child:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this process only; it stops them in order
        )
    return _Child(name, process, log, ready)


def _wait_listening(child: _Child) -> None:
    import httpx

    url = child.ready
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise wb.WorkbenchError(
                f"{child.name} exited with code {child.process.returncode} before it answered "
                f"(log: {child.log}):\n{child.tail()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=10.0)
            return
        time.sleep(0.25)
    raise wb.WorkbenchError(
        f"{child.name} did not answer at {url} within {READY_TIMEOUT_S:.0f} s (log: {child.log})"
    )


def _running_lab(notebooks: Path, store: str) -> _Opened | None:
    """A JupyterLab that serves ``notebooks`` on ``store`` and answers, if one runs (an earlier
    ``workbench demo``, still open)."""
    import httpx

    for server in _running_servers():
        if Path(server.get("root_dir", "")).resolve() != notebooks:
            continue
        token = str(server.get("token") or "")
        url = f"http://{_local_host(str(server.get('hostname', '127.0.0.1')))}:{server['port']}/"
        url += str(server.get("base_url", "/")).lstrip("/")
        headers = {"Authorization": f"token {token}"}
        try:
            info = httpx.get(f"{url}workbench/info", headers=headers, timeout=5.0)
            dashboard = httpx.get(f"{url}workbench/dashboard", headers=headers, timeout=5.0)
        except httpx.HTTPError:
            continue
        if info.status_code != 200 or info.json().get("store") != store:
            continue
        dashboard_url = dashboard.json().get("url") if dashboard.status_code == 200 else None
        return _Opened(
            lab_url=url,
            lab_public=_lab_link(url, notebooks, token),
            token=token,
            store=store,
            dashboard_url=dashboard_url,
            dashboard_public=dashboard_url,
            password=os.environ.get(PASSWORD_ENV, "").strip() or None,
            reused=True,
            lab_pid=int(server["pid"]),
        )
    return None


def _running_servers() -> Iterator[dict[str, Any]]:
    """The info files of the Jupyter servers running on this machine, as jupyter_server's
    ``list_running_servers`` reads them (without importing the server: seconds on a busy
    machine)."""
    import json

    from jupyter_core.paths import jupyter_runtime_dir

    for path in sorted(Path(jupyter_runtime_dir()).glob("jpserver-*.json")):
        try:
            server = json.loads(path.read_text(encoding="utf-8"))
            os.kill(int(server["pid"]), 0)  # still running (else: no such process)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        yield server


def _lab_link(url: str, notebooks: Path, token: str) -> str:
    page = f"lab/workspaces/{WORKSPACE}"
    if (notebooks / TOUR).is_file():
        page += f"/tree/{TOUR}"
    return f"{url}{page}?token={token}"


def _seed_workspace(url: str, token: str, notebooks: Path) -> None:
    """Give the demo's JupyterLab workspace its first layout: the Workbench sidebar open (and
    wide enough for run names) beside the tour. A layout the person changed is kept; the
    default workspace is never touched."""
    import httpx

    endpoint = f"{url}lab/api/workspaces/{WORKSPACE}"
    headers = {"Authorization": f"token {token}"}
    with contextlib.suppress(httpx.HTTPError, ValueError):
        if httpx.get(endpoint, headers=headers, timeout=10.0).json().get("data"):
            return
        main: dict[str, Any] = {}
        if (notebooks / TOUR).is_file():
            tab = f"notebook:{TOUR}"
            main = {"dock": {"type": "tab-area", "currentIndex": 0, "widgets": [tab]}}
            main["current"] = tab
        layout = {
            "main": main,
            "left": {
                "collapsed": False,
                "visible": True,
                "current": SIDEBAR_ID,
                "widgets": ["filebrowser", SIDEBAR_ID],
            },
            "relativeSizes": [0.3, 0.7, 0],
        }
        httpx.put(
            endpoint,
            headers=headers,
            json={"data": {"layout-restorer:data": layout}, "metadata": {"id": WORKSPACE}},
            timeout=10.0,
        )


def _local_host(address: str) -> str:
    """Where this machine reaches a server bound to ``address``."""
    if address in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if address == "::":
        return "[::1]"
    return f"[{address}]" if ":" in address else address


def _public_host(address: str) -> str:
    """The host name to print for a server bound to ``address``."""
    if address in ("", "0.0.0.0", "::", "*"):
        return socket.gethostname()
    return f"[{address}]" if ":" in address else address


def _port(address: str, preferred: int) -> int:
    """``preferred`` if it is free on ``address``, else a free port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for port in (preferred, 0):
        with socket.socket(family) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
            return chosen
    raise wb.WorkbenchError(f"No free port on {address!r}.")


# -- readiness ----------------------------------------------------------------------------------


def _check(opened: _Opened, experiment: str) -> list[str]:
    """What does not answer as it should: JupyterLab, the sidebar's API (it lists the demo's
    runs), the dashboard (behind its login when it has a password). Empty when all is well."""
    import httpx

    problems = []
    headers = {"Authorization": f"token {opened.token}"}
    try:
        status = httpx.get(f"{opened.lab_url}api/status", headers=headers, timeout=10.0)
        if status.status_code != 200:
            problems.append(f"JupyterLab answered {status.status_code} on /api/status")
        runs = httpx.get(
            f"{opened.lab_url}workbench/runs",
            params={"experiment": experiment},
            headers=headers,
            timeout=30.0,
        )
        total = runs.json().get("total", 0) if runs.status_code == 200 else 0
        if not total:
            problems.append(
                f"the sidebar's API listed no runs of {experiment} ({runs.status_code}: "
                f"{runs.text[:300]})"
            )
        anonymous = httpx.get(f"{opened.lab_url}workbench/runs", timeout=10.0)
        if anonymous.status_code != 403:
            problems.append(f"the sidebar's API answered {anonymous.status_code} without token")
    except httpx.HTTPError as exc:
        problems.append(f"JupyterLab at {opened.lab_url}: {exc!r}")
    if opened.dashboard_url is not None:
        problems += _check_dashboard(opened)
    return problems


def _check_dashboard(opened: _Opened) -> list[str]:
    import httpx

    url = _reachable(opened.dashboard_url or "")
    try:
        with httpx.Client(timeout=30.0, follow_redirects=False) as client:
            first = client.get(url)
            protected = first.status_code == 302 and "/login" in first.headers.get("location", "")
            if not protected:
                return [] if first.status_code == 200 else [f"the dashboard answered {first}"]
            if opened.password is None:
                return []  # a password we do not know; it asks for it, as it should
            login = client.post(
                f"{url}login", data={"username": "demo", "password": opened.password}
            )
            if "user" not in login.cookies:
                return [f"the dashboard refused its password ({login.status_code})"]
            page = client.get(url)
            if page.status_code != 200:
                return [f"the dashboard answered {page.status_code} after logging in"]
    except httpx.HTTPError as exc:
        return [f"the dashboard at {url}: {exc!r}"]
    return []


def _reachable(url: str) -> str:
    """``url`` with this machine's name replaced by 127.0.0.1: the checks stay on loopback."""
    host = f"//{socket.gethostname()}:"
    return url.replace(host, "//127.0.0.1:", 1)


# -- what the newcomer sees ---------------------------------------------------------------------


def _print_opened(opened: _Opened, check: bool) -> None:
    if opened.reused:
        state = f"already open (JupyterLab pid {opened.lab_pid}, from an earlier `workbench demo`)"
    elif check:
        state = "up and answering (--check: stopping it again)"
    else:
        state = "open; Ctrl-C stops it"
    lines = [
        "",
        f"The workbench is {state}:",
        "  JupyterLab with the lifecycle notebooks and the Workbench sidebar (the left bar):",
        f"    {opened.lab_public}",
    ]
    if opened.dashboard_public:
        lines += ["  the dashboard (runs, compare, sweeps, models, deployments, drift):"]
        lines += [f"    {opened.dashboard_public}"]
        if opened.password_generated:
            lines += [f"    password: {opened.password}  (choose one with {PASSWORD_ENV})"]
        elif opened.password:
            lines += [f"    password: the one in {PASSWORD_ENV}"]
    else:
        lines += [f"  (the dashboard needs Panel: {EXTRAS_HINT})"]
    lines += [f"  store: {opened.store}"]
    if opened.logs is not None and not check:
        lines += [f"  server logs: {opened.logs} (removed when they stop cleanly)"]
    print("\n".join(lines), flush=True)


def _wait(opened: _Opened) -> bool:
    """Until Ctrl-C, SIGTERM or SIGHUP (True), or until a server exits by itself (False)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell without job control starts background commands with it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signum != signal.SIGHUP or signal.getsignal(signum) is not signal.SIG_IGN:  # nohup
            signal.signal(signum, stop)
    try:
        while True:
            for child in opened.children:
                if child.process.poll() is not None:
                    _say(f"{child.name} exited ({child.process.returncode}); log: {child.log}")
                    return False
            time.sleep(0.5)
    except KeyboardInterrupt:
        _say("stopping JupyterLab and the dashboard")
    return True
