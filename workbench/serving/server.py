"""Start, find, query and stop model servers: ``deploy()`` and the :class:`Deployment` handle.

A deployment is a separate server process (``python -m workbench.serving``; uvicorn running the
app of :func:`workbench.serving.build_app`), recorded in the store so that any process can list
and stop it (``workbench deployments list|stop``). The handle talks to it over HTTP on loopback.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from workbench import _liveness
from workbench import _options as o
from workbench import _validation as v
from workbench._html import render
from workbench.exceptions import (
    ConflictError,
    InvalidParameterError,
    SignatureMismatchError,
    WorkbenchError,
)
from workbench.registry import ModelRegistry, parse_model_uri
from workbench.serving import _errors
from workbench.serving._config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ROWS,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_REFRESH_S,
    DEFAULT_THREADS,
    UNSET,
    ServingConfig,
    server_environment,
    store_location,
)
from workbench.tracking.client import TrackingClient, resolve_client

if TYPE_CHECKING:
    import httpx
    import pandas as pd

    from workbench.entities import DeploymentRecord
    from workbench.store import Store

__all__ = [
    "Deployment",
    "DeploymentStatus",
    "deploy",
    "get_deployment",
    "list_deployments",
    "new_deployment_id",
    "stop_deployment",
]

_ERRORS: dict[str, type[WorkbenchError]] = {
    "SIGNATURE_MISMATCH": SignatureMismatchError,
    "MALFORMED_REQUEST": _errors.MalformedRequestError,
    "UNSUPPORTED_MEDIA_TYPE": _errors.UnsupportedMediaTypeError,
    "PAYLOAD_TOO_LARGE": _errors.PayloadTooLargeError,
    "INPUT_REJECTED": _errors.InputRejectedError,
    "REQUEST_TIMEOUT": _errors.RequestTimeoutError,
    "HOST_NOT_ALLOWED": _errors.HostNotAllowedError,
    "MODEL_ERROR": _errors.ModelError,
    "MODEL_TIMEOUT": _errors.ModelTimeoutError,
    "NOT_READY": _errors.NotReadyError,
}
_LOG_TAIL_LINES = 30


def new_deployment_id(model_uri: str) -> str:
    """A readable, unique id: the model name and alias or version, then 8 hex digits."""
    ref = parse_model_uri(model_uri)
    what = ref.alias or (str(ref.version) if ref.version else "latest")
    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{ref.name}-{what}")[:60]
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def deploy(
    model: str,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    workers: int = 1,
    canary: Any = None,
    shadow: str | None = None,
    fallback_version: str | int | None = None,
    fallback_default: Any = UNSET,
    timeout: float | None = None,
    trusted: bool | Sequence[str] = False,
    method: str | None = None,
    threads: int = DEFAULT_THREADS,
    allow_remote: bool = False,
    allowed_hosts: Sequence[str] = (),
    deployment: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    refresh_interval: float = DEFAULT_REFRESH_S,
    read_timeout: float = DEFAULT_READ_TIMEOUT_S,
    log_payloads: bool = True,
    log_level: str = "warning",
    loop: str = "auto",
    http: str = "auto",
    detach: bool = False,
    startup_timeout: float = 120.0,
    _inherit_output: bool = False,
    client: TrackingClient | None = None,
) -> Deployment:
    """Serve a registered model over HTTP in a new process; returns when it answers ``/ready``.

    Every option is declared once, with its check and CLI flag, in
    :class:`~workbench.serving.ServingConfig`; docs/serving.md has the full table.

    Parameters
    ----------
    model
        ``"churn@champion"`` (follows the alias: ``set_alias``/``rollback`` take effect within
        ``refresh_interval`` without a restart), ``"churn/3"`` (pinned), or ``"churn"`` (latest).
    port, host
        Where to listen; ``port=0`` picks a free port (see ``Deployment.url``). Only loopback
        hosts unless ``allow_remote=True``: the endpoint has no authentication.
    allowed_hosts
        More names the server answers for in the ``Host`` header, besides the address it is
        bound to (and ``localhost`` on loopback, this machine's names off loopback): those of a
        proxy or DNS entry in front of it. Other names get 421, which keeps web pages that
        re-point their domain at this machine (DNS rebinding) from reading it. ``["*"]``: any.
    workers
        Server processes sharing the port (each loads its own copy of the models).
    canary
        ``(uri, weight)``: that fraction of requests (0..1) is answered by another version.
    shadow
        A version that also scores every request, in the background; its answers are logged
        (role ``shadow``), never returned.
    fallback_version, fallback_default
        What answers when the model raises or exceeds ``timeout``: ``"previous"`` (the version
        the alias pointed at before), a version number or URI; or a default value per row. A
        failing canary falls back to the primary first. Without either, the client gets a 500
        (``MODEL_ERROR``) or 504 (``MODEL_TIMEOUT``).
    timeout
        Seconds a model call may take (``None``: no limit).
    trusted
        Passed to :func:`workbench.load_model` in the server.
    method
        The model method to call (default: the signature's, usually ``predict``).
    threads
        Model calls run in a pool of this many threads per worker.
    deployment
        Its id in the store (default: ``<name>-<alias>-<8 hex digits>``).
    max_rows, max_body_bytes
        Larger requests get 413.
    refresh_interval
        Seconds between checks of the aliases the server follows.
    read_timeout
        Seconds a client may take to send a request body; slower ones get 408 and the
        connection is closed.
    log_payloads
        Keep inputs and outputs in the request log (the monitoring layer needs them).
    log_level, loop, http
        The server's log level; uvicorn's event loop (``"asyncio"``, ``"uvloop"``) and HTTP
        parser (``"h11"``, ``"httptools"``); ``"auto"``: uvloop and httptools where installed.
    detach
        Keep serving after this process exits. By default the server stops with it.
    startup_timeout
        Seconds to wait for the models to load.
    client
        The client whose store holds the model and receives the deployment record and request
        log (default: the current store): a store folder or a team store (``postgresql://``;
        the server process gets the URL's password in ``PGPASSWORD``), not ``":memory:"``.

    Returns
    -------
    Deployment
        ``.url``, ``.predict(df)``, ``.status()``, ``.stop()``; a context manager.

    Examples
    --------
    >>> with workbench.deploy("churn@champion") as server:  # doctest: +SKIP
    ...     server.predict(X.head())
    array([0, 1, 0, 0, 1])
    """
    caller = "deploy"
    o.Bool()(detach, "detach", caller)
    o.Number(0, low_open=True, text="a positive number of seconds")(
        startup_timeout, "startup_timeout", caller
    )
    wb = resolve_client(client, caller)
    config = ServingConfig.from_params(
        caller,
        store=store_location(wb, caller),
        model=model,
        deployment=deployment,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        canary=canary,
        shadow=shadow,
        fallback_version=fallback_version,
        fallback_default=fallback_default,
        timeout=timeout,
        trusted=trusted,
        method=method,
        allow_remote=allow_remote,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
        refresh_interval=refresh_interval,
        read_timeout=read_timeout,
        allowed_hosts=allowed_hosts,
        log_payloads=log_payloads,
        log_level=log_level,
        loop=loop,
        http=http,
    )
    return _start(config, wb, detach, startup_timeout, inherit=_inherit_output)


def _start(
    config: ServingConfig,
    client: TrackingClient,
    detach: bool,
    startup_timeout: float,
    *,
    inherit: bool,
) -> Deployment:
    """Start the server process of a validated config and wait until it answers."""
    registry = ModelRegistry(client)
    for uri in (config.model_uri, config.canary_uri, config.shadow_uri):
        if uri is not None:  # fail here, not in the server's log
            registry.get_model_version(uri)
    folder = _deployments_folder(client.store)
    folder.mkdir(parents=True, exist_ok=True)
    config = config.replace(
        deployment_id=config.deployment_id or new_deployment_id(config.model_uri)
    )
    ready_file = folder / f"{config.deployment_id}.ready.json"
    log_file = folder / f"{config.deployment_id}.log"
    ready_file.unlink(missing_ok=True)
    if not detach:
        import psutil

        me = psutil.Process()
        config = config.replace(watch_pid=me.pid, watch_pid_started=me.create_time())
    config = config.replace(ready_file=str(ready_file))
    secrets = server_environment(client.store)
    process = _spawn(config, None if inherit else log_file, detach=detach, secrets=secrets)
    try:
        _wait_ready(process, ready_file, log_file, startup_timeout, inherit=inherit)
    except BaseException:
        _terminate(process)
        raise
    finally:
        ready_file.unlink(missing_ok=True)
    record = client.store.get_deployment(config.deployment_id)
    return Deployment(record, store=client.store, process=process, log_file=log_file)


def _deployments_folder(store: Store) -> Path:
    """This machine's folder for the ready files and logs of the servers it starts: in the
    store folder, or in this machine's folder of a team store (beside its journals)."""
    root = getattr(store, "root", None)
    if root is None:  # a store with no local folder: the user's cache
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "workbench" / "deployments"
    return Path(root) / "deployments"


def _spawn(
    config: ServingConfig, log_file: Path | None, *, detach: bool, secrets: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """The server process. Its command line (which any user of the machine can read) holds
    the config, never a password: ``secrets`` go in its environment (``PGPASSWORD``)."""
    env = {**os.environ, **secrets}
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "workbench.serving", "--config", config.to_json()]
    if log_file is None:
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )


def _log_tail(log_file: Path) -> str:
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(lines[-_LOG_TAIL_LINES:]) or "(empty log)"


def _wait_ready(
    process: subprocess.Popen[bytes],
    ready_file: Path,
    log_file: Path,
    timeout: float,
    *,
    inherit: bool,
) -> str:
    import json

    import httpx

    deadline = time.monotonic() + timeout
    url = None
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                where = (
                    "above" if inherit else f"in {log_file}; it ends with:\n{_log_tail(log_file)}"
                )
                raise _errors.DeploymentError(
                    f"The server process exited with code {code} before it was ready. Its "
                    f"log is {where}"
                )
            if url is None and ready_file.exists():
                url = json.loads(ready_file.read_text())["url"]
            if url is not None:
                try:
                    if http.get(f"{url}/ready").status_code == 200:
                        return str(url)
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
    where = "above" if inherit else f"in {log_file}; it ends with:\n{_log_tail(log_file)}"
    raise _errors.DeploymentError(
        f"The server was not ready after {timeout:g} s (raise startup_timeout= for slow models). "
        f"Its log is {where}"
    )


def _terminate(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class DeploymentStatus:
    """A deployment right now: its recorded state, whether it answers, what it serves."""

    deployment_id: str
    state: str
    url: str
    pid: int
    healthy: bool
    models: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    problems: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def alive(self) -> bool:
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "state": self.state,
            "url": self.url,
            "pid": self.pid,
            "healthy": self.healthy,
            "models": dict(self.models),
            "problems": dict(self.problems),
        }


class Deployment:
    """A running (or finished) model server: call it, check it, stop it.

    Use it as a context manager to stop the server at the end of a block. Get one for an
    existing deployment with :func:`workbench.get_deployment`.
    """

    def __init__(
        self,
        record: DeploymentRecord,
        *,
        store: Store,
        process: subprocess.Popen[bytes] | None = None,
        log_file: Path | None = None,
    ) -> None:
        self._record = record
        self._store = store
        self._process = process
        self._http: httpx.Client | None = None
        self.log_file = log_file

    # -- identity ---------------------------------------------------------------------------
    @property
    def deployment_id(self) -> str:
        return self._record.deployment_id

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:50123`` (POST ``{url}/invocations``)."""
        return self._record.url

    @property
    def model_uri(self) -> str:
        return self._record.model_uri

    @property
    def pid(self) -> int:
        return self._record.pid

    def __repr__(self) -> str:
        return f"Deployment({self.deployment_id!r}, model_uri={self.model_uri!r}, url={self.url!r})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = [
            ("deployment", self.deployment_id),
            ("model", self.model_uri),
            ("url", self.url),
            ("pid", str(self.pid)),
        ]
        return {"text/plain": repr(self), "text/html": render("deployment.html.j2", rows=rows)}

    # -- talking to it ----------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(base_url=self.url, timeout=60.0, trust_env=False)
        return self._http

    def predict(self, data: Any) -> Any:
        """Score ``data`` (DataFrame, 2-D array, list of records, dict of columns) on the server.

        Returns a numpy array (a DataFrame when the model outputs named columns).

        Raises
        ------
        SignatureMismatchError, WorkbenchError
            The server's error, re-raised with its message (``error_code`` as sent).
        """
        import numpy as np
        import pandas as pd

        from workbench.serving._payloads import dumps

        if isinstance(data, pd.Series):
            data = data.to_frame().T if data.name is None else data.to_frame()
        if isinstance(data, pd.DataFrame):
            body = data.to_json(orient="split", index=False, date_format="iso").encode()
            body = b'{"dataframe_split":' + body + b"}"
        elif isinstance(data, np.ndarray):
            body = dumps({"instances": data.tolist()})
        elif isinstance(data, Mapping):
            body = dumps({"inputs": dict(data)})
        elif isinstance(data, list):
            body = dumps({"instances": data})
        else:
            raise v.fail(
                "data", "Deployment.predict", "a DataFrame, an array, records or columns", data
            )
        response = self._client().post(
            "/invocations", content=body, headers={"content-type": "application/json"}
        )
        try:
            payload = response.json()
        except ValueError:  # not our JSON (e.g. uvicorn's plain-text 400 for broken HTTP)
            payload = None
        if not isinstance(payload, dict):
            payload = {}
        if response.status_code != 200 or "predictions" not in payload:
            error = _ERRORS.get(payload.get("error_code", ""), WorkbenchError)
            raise error(
                payload.get("message")
                or f"The server answered {response.status_code}: {response.text[:500]}"
            )
        predictions = payload["predictions"]
        if predictions and all(isinstance(p, dict) for p in predictions):
            return pd.DataFrame(predictions)
        return np.asarray(predictions)

    def status(self) -> DeploymentStatus:
        """Recorded state (``running``, ``stopped``, ``failed``, ``dead``) and live health."""
        import httpx

        if self._process is not None:
            self._process.poll()  # reap it if it ended, so it is seen as gone
        record = self._store.get_deployment(self.deployment_id)
        health: dict[str, Any] = {}
        if record.status == "running":
            try:
                response = self._client().get("/health", timeout=2.0)
                if response.status_code == 200:
                    health = response.json()
            except httpx.HTTPError:
                health = {}
        return DeploymentStatus(
            deployment_id=record.deployment_id,
            state=record.status,
            url=record.url,
            pid=record.pid,
            healthy=health.get("status") == "ok",
            models=MappingProxyType(health.get("models", {})),
            problems=MappingProxyType(health.get("problems", {})),
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server gracefully (in-flight requests finish, the log is flushed); waits."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._process is not None:
            _terminate(self._process, timeout)
        else:
            _stop_pid(self._store.get_deployment(self.deployment_id), timeout)
        self._store.set_deployment_status(self.deployment_id, "stopped")

    def wait(self) -> int | None:
        """Block until the server process ends (only for a server this process started)."""
        if self._process is None:
            raise ConflictError(
                f"Deployment {self.deployment_id!r} was not started by this process; it can be "
                "stopped (stop()) but not waited for."
            )
        return self._process.wait()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _stop_pid(record: DeploymentRecord, timeout: float) -> None:
    import socket

    import psutil

    if record.status != "running":
        return
    if record.machine != socket.gethostname():
        raise ConflictError(
            f"Deployment {record.deployment_id!r} runs on {record.machine}; stop it there."
        )
    if not _liveness.process_alive(record.pid, started=record.pid_started):
        return  # gone (or the pid was reused: our server is gone)
    try:
        proc = psutil.Process(record.pid)
        proc.terminate()
        _, alive = psutil.wait_procs([proc], timeout=timeout)
        for leftover in alive:
            leftover.kill()
        psutil.wait_procs(alive, timeout=5)
    except psutil.NoSuchProcess:
        return


def list_deployments(*, client: TrackingClient | None = None) -> pd.DataFrame:
    """Every deployment recorded in the store, newest first (dead processes show ``dead``)."""
    import pandas as pd

    columns = [
        "deployment_id",
        "model_uri",
        "status",
        "url",
        "pid",
        "workers",
        "canary",
        "shadow",
        "started_at",
        "stopped_at",
    ]
    rows = []
    for record in resolve_client(client, "list_deployments").store.list_deployments():
        policy = record.policy
        canary = policy.get("canary")
        rows.append(
            {
                "deployment_id": record.deployment_id,
                "model_uri": record.model_uri,
                "status": record.status,
                "url": record.url,
                "pid": record.pid,
                "workers": policy.get("workers", 1),
                "canary": None if not canary else f"{canary['uri']}:{canary['weight']:g}",
                "shadow": policy.get("shadow"),
                "started_at": record.started_at,
                "stopped_at": record.stopped_at,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def get_deployment(deployment: str, *, client: TrackingClient | None = None) -> Deployment:
    """The handle of a recorded deployment, by id (to predict, check or stop it)."""
    if not isinstance(deployment, str) or not deployment:
        raise InvalidParameterError(
            f"The 'deployment' parameter of get_deployment must be a deployment id. Got "
            f"{deployment!r} instead. List them with workbench.list_deployments()."
        )
    target = resolve_client(client, "get_deployment").store
    return Deployment(target.get_deployment(deployment), store=target)


def stop_deployment(
    deployment: str, *, timeout: float = 15.0, client: TrackingClient | None = None
) -> None:
    """Stop a recorded deployment, by id (from any process on its machine)."""
    get_deployment(deployment, client=client).stop(timeout)
