"""The server process: bind, record the deployment, serve with uvicorn (one or more workers).

``python -m workbench.serving --config JSON`` runs :func:`serve`:

1. bind the listening socket (port 0: the OS picks a free one) and record the deployment in the
   store (``running``, this process's pid and start time);
2. write the ready file (port, pid, url) for the parent that waits on it;
3. serve: with one worker, uvicorn runs in this process; with more, this process is a small
   supervisor of ``workers`` uvicorn processes sharing the socket (each with its own thread pool,
   model copies and request-log buffer; Prometheus metrics summed over them), restarting a worker
   that dies after it had started;
4. on SIGTERM or SIGINT: finish in-flight requests (10 s at most), flush the request log, record
   ``stopped`` (``failed`` if the models never loaded), and close the store: on a team store
   that ships the request log's journal to the server before the process exits (if the server
   does not answer, the journal keeps it for the next workbench process of this machine).

The store is opened by its location in the config: a folder, or a team store's
``postgresql://`` URL without a password (``deploy()`` passes that in ``PGPASSWORD``).

A killed server (``kill -9``) cannot record anything: ``list_deployments`` finds its pid gone
and reports it ``dead``; its workers notice that their parent changed and stop. A server started
by ``deploy(..., detach=False)`` also stops when the process that deployed it ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import _liveness
from workbench.serving._config import ServingConfig

if TYPE_CHECKING:
    from workbench.tracking.client import TrackingClient

__all__ = ["serve", "serve_worker"]

logger = logging.getLogger("workbench.serving")

GRACEFUL_S = 10
EARLY_DEATH_S = 20.0
WATCH_INTERVAL_S = 0.5


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("workbench").setLevel(logging.INFO)
    logging.getLogger("uvicorn").setLevel(level.upper())


def url_host(host: str) -> str:
    """The host part of a URL that reaches a server bound to ``host`` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, named as TCP (``IPPROTO_TCP``).

    The protocol matters: asyncio turns Nagle's algorithm off (``TCP_NODELAY``) only on sockets
    whose ``proto`` says TCP, and accepted sockets inherit it from this one. Created with
    ``proto=0``, every response written in more than one piece (uvicorn writes headers, body
    and end separately) waited for the client's delayed ACK: ~40 ms per request on a reused
    connection.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited on Linux, too
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _write_ready_file(path: str | None, info: dict[str, Any]) -> None:
    if not path:
        return
    target = Path(path)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, target)


def _watch(
    stop: threading.Event, is_gone: Any, what: str, interval: float = WATCH_INTERVAL_S
) -> None:
    """Send ourselves SIGTERM (a graceful stop) when ``is_gone()`` becomes true."""

    def loop() -> None:
        while not stop.wait(interval):
            if is_gone():
                logger.warning("%s is gone: stopping this server.", what)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=loop, name="workbench-serving-watch", daemon=True).start()


def _owner_gone(pid: int, started: float | None) -> bool:
    return not _liveness.process_alive(pid, started=started)


def _uvicorn_config(app: Any, config: ServingConfig) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        lifespan="on",
        log_level=config.log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_S,
        timeout_keep_alive=30,
        loop=config.loop,
        http=config.http,
    )


def _run_uvicorn(
    config: ServingConfig, sock: socket.socket, client: Any, on_started: Any = None
) -> bool:
    """Serve on ``sock`` in this process until a signal; True if the app had started.

    ``on_started()`` is called (from another thread) once the models are loaded and the server
    accepts requests.
    """
    import uvicorn

    from workbench.serving.app import build_app

    server = uvicorn.Server(_uvicorn_config(build_app(config, client=client), config))
    done = threading.Event()

    def announce() -> None:
        while not done.wait(0.01):
            if server.started:
                on_started()
                return

    if on_started is not None:
        threading.Thread(target=announce, name="workbench-serving-ready", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        done.set()
    return bool(server.started)


def serve(config: ServingConfig) -> int:
    """Run a server until SIGTERM/SIGINT; the exit code (3: the models could not be loaded)."""
    from workbench.entities import DeploymentRecord
    from workbench.tracking.client import client_for

    _configure_logging(config.log_level)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    # uvicorn installs its own handlers while serving and re-raises the signal afterwards: these
    # catch it then, so that the deployment is recorded as stopped before the process exits.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sock = _bind(config.host, config.port)
    except OSError as exc:
        logger.error(
            "Cannot listen on %s port %d: %s. Choose another port, or port 0 for a free one.",
            config.host,
            config.port,
            exc.strerror or exc,
        )
        return 2
    port = sock.getsockname()[1]
    url = f"http://{url_host(config.host)}:{port}"
    client = client_for(config.store)
    record = DeploymentRecord(
        deployment_id=config.deployment_id,
        model_uri=config.model_uri,
        host=config.host,
        port=port,
        url=url,
        machine=socket.gethostname(),
        pid=os.getpid(),
        pid_started=_liveness.start_time(),
        status="running",
        started_at=_now(),
        policy=config.policy_dict(),
    )
    client.store.create_deployment(record)
    info = {"port": port, "pid": os.getpid(), "url": url}
    logger.info(
        "Deployment %s: serving %s at %s (%d worker(s)); POST %s/invocations",
        config.deployment_id,
        config.model_uri,
        url,
        config.workers,
        url,
    )
    if config.watch_pid is not None:
        watched, started = config.watch_pid, config.watch_pid_started
        _watch(stop, lambda: _owner_gone(watched, started), f"The deploying process {watched}")
    ok = False
    try:
        if not stop.is_set():
            if config.workers == 1:
                ready = config.ready_file
                ok = _run_uvicorn(config, sock, client, lambda: _write_ready_file(ready, info))
            else:
                ok = _supervise(config, sock, stop, info)
    finally:
        stop.set()
        sock.close()
        with contextlib.suppress(Exception):
            client._recorder.flush()
        try:
            client.store.set_deployment_status(config.deployment_id, "stopped" if ok else "failed")
        except Exception:
            logger.exception("Could not record that deployment %s stopped.", config.deployment_id)
        _close(client)
    return 0 if ok else 3


def _close(client: TrackingClient) -> None:
    """Hand the request log over before the process exits, then release the store.

    ``client.close()`` writes what is still buffered to this process's journal, seals it and
    makes it visible: on a team store it ships the journal to the server (the shipper thread
    only runs every 0.25 s), so what a stopped server answered is on the server when its
    process has exited. Whatever cannot be handed over now stays in the journal, durable, for
    the next workbench process of this machine that opens the store.
    """
    try:
        client.close()
    except Exception:
        logger.exception(
            "Could not hand over the request log at shutdown; it stays in this machine's "
            "journal of the store."
        )


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


# -- several workers --------------------------------------------------------------------------


def _worker_command(config: ServingConfig, fd: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "workbench.serving",
        "--worker-fd",
        str(fd),
        "--config",
        config.to_json(),
    ]


def _supervise(
    config: ServingConfig, sock: socket.socket, stop: threading.Event, info: dict[str, Any]
) -> bool:
    """Run ``config.workers`` worker processes on ``sock`` until ``stop``; True if they served.

    The ready file is written once every worker has written its own (models loaded).
    """
    metrics_dir = tempfile.mkdtemp(prefix="workbench-metrics-")
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    fd = sock.fileno()
    markers = [Path(metrics_dir) / f"worker-{i}.ready" for i in range(config.workers)]

    def spawn(i: int) -> tuple[subprocess.Popen[bytes], float]:
        worker = config.replace(ready_file=str(markers[i]))
        proc = subprocess.Popen(_worker_command(worker, fd), pass_fds=(fd,), env=env)
        return proc, time.monotonic()

    workers = [spawn(i) for i in range(config.workers)]
    ok = True
    announced = False
    try:
        while not stop.wait(0.05 if not announced else 0.2):
            if not announced and all(m.exists() for m in markers):
                _write_ready_file(config.ready_file, info)
                announced = True
            for i, (proc, born) in enumerate(workers):
                code = proc.poll()
                if code is None:
                    continue
                if time.monotonic() - born < EARLY_DEATH_S:
                    logger.error(
                        "Worker %d exited with code %s while starting: stopping the server.",
                        proc.pid,
                        code,
                    )
                    ok = False
                    stop.set()
                    break
                logger.warning("Worker %d exited with code %s; starting another.", proc.pid, code)
                workers[i] = spawn(i)
    finally:
        for proc, _ in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACEFUL_S + 5
        for proc, _ in workers:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return ok


def serve_worker(config: ServingConfig, fd: int) -> int:
    """One worker of a multi-worker server: uvicorn on the inherited socket ``fd``."""
    _configure_logging(config.log_level)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)  # see serve(): uvicorn re-raises after serving
    signal.signal(signal.SIGINT, on_signal)
    # Named as TCP, as _bind() does: where the OS does not report a socket's protocol (macOS),
    # fileno= alone would leave it 0, and asyncio would not set TCP_NODELAY.
    inherited = socket.socket(fileno=fd)
    sock = socket.socket(
        inherited.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, inherited.detach()
    )
    parent = os.getppid()
    _watch(stop, lambda: os.getppid() != parent, f"The server supervisor {parent}")
    from workbench.tracking.client import client_for

    client = client_for(config.store)
    ok = False
    try:
        if not stop.is_set():
            ready = config.ready_file
            ok = _run_uvicorn(config, sock, client, lambda: _write_ready_file(ready, {}))
    finally:
        stop.set()
        _close(client)
    return 0 if ok else 3
