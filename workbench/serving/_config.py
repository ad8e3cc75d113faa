"""What a model server is told: the model, the traffic policy, limits, and where to log.

:class:`ServingConfig` is validated once, where the user gives it (``deploy()``, ``workbench
serve``), and travels to the server process as JSON. Every check raises
:class:`~workbench.InvalidParameterError` in the standard shape, naming the parameter.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench import _options as o
from workbench import _validation as v
from workbench.config import is_team_url
from workbench.registry import parse_model_uri
from workbench.tracking.client import TrackingClient, resolve_client

if TYPE_CHECKING:
    from workbench.store import Store

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_READ_TIMEOUT_S",
    "ServingConfig",
    "is_loopback",
]

DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
DEFAULT_REFRESH_S = 1.0
DEFAULT_THREADS = 2
DEFAULT_READ_TIMEOUT_S = 30.0
_HOST_NAME = re.compile(r"\*|[A-Za-z0-9_.:\[\]-]{1,253}")  # "*": any host
UNSET: Any = object()  # fallback_default not given (None is a valid default answer)
_DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _model_uri(value: Any, name: str, caller: str) -> str:
    if not isinstance(value, str):
        raise v.fail(name, caller, "a model URI such as 'churn@champion' or 'churn/3'", value)
    parse_model_uri(value, caller)
    return value


def _canary(value: Any, name: str, caller: str) -> tuple[str, float] | None:
    uri, weight = parse_canary(value, caller)
    if uri is None:
        return None
    parse_model_uri(uri, caller)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise v.fail(
            "canary weight",
            caller,
            "a fraction of requests between 0 and 1",
            weight,
            "e.g. canary=('churn/4', 0.1) sends 10% of requests to version 4.",
        )
    return uri, float(weight)


def _fallback_version(value: Any, name: str, caller: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise v.fail(name, caller, "'previous', a version number or a URI", value)
    text = str(value)
    if text != "previous" and not text.isdigit():
        parse_model_uri(text, caller)
    return text


def _json_value(value: Any, name: str, caller: str) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise v.fail(
            name, caller, "a JSON value (number, string, boolean, null, list or object)", value
        ) from None
    return value


def _trusted(value: Any, name: str, caller: str) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(t, str) for t in value)
    ):
        return list(value)
    raise v.fail(name, caller, "True, False or a list of type names", value)


def _allowed_hosts(value: Any, name: str, caller: str) -> list[str]:
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(h, str) and _HOST_NAME.fullmatch(h) for h in value)
    ):
        return list(value)
    raise v.fail(
        name,
        caller,
        "a list of host names or addresses (e.g. ['models.example.com']; '*' allows any)",
        value,
    )


def _deployment_id(value: Any, name: str, caller: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _DEPLOYMENT_ID.fullmatch(value):
        raise v.fail(name, caller, "letters, digits and _ . - (at most 100)", value)
    return value


def _host(value: Any, name: str, caller: str) -> str:
    if not isinstance(value, str) or not value:
        raise v.fail(name, caller, "a host name or IP address", value)
    return value


_SECONDS = "seconds in (0, 3600]"
_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")


@dataclass(frozen=True)
class ServingConfig:
    """Everything a server process needs, declared once: :func:`workbench.deploy`'s options.

    Each user-facing field carries its check, help text and CLI flag
    (:mod:`workbench._options`); ``deploy()``, ``workbench serve``, ``python -m
    workbench.serving`` and the table in docs/serving.md are derived from it. Fields without
    them (``store``, ``watch_pid``, ...) are filled in by ``deploy()``.

    ``fallback_default`` is only used when ``has_fallback_default`` is set (a default answer may
    legitimately be ``None``).
    """

    model_uri: str = o.option(
        param="model",
        flag="model",
        cli={"metavar": "MODEL"},
        check=o.Check(_model_uri, "a model URI: name, name/3 or name@alias"),
        help="The model to serve: ``churn@champion`` follows the alias (``set_alias``/"
        "``rollback`` take effect within ``refresh_interval`` without a restart), "
        "``churn/3`` is pinned, ``churn`` is the latest version.",
    )
    store: str = ""
    deployment_id: str = o.option(  # None or "": deploy() generates one
        None,
        param="deployment",
        flag="--deployment",
        cli={"also": ["--deployment-id"], "default": None},
        check=o.Check(_deployment_id, "letters, digits and _ . - (at most 100)", none=True),
        default_text="`<name>-<alias>-<8 hex digits>`",
        help="Its id in the store (``workbench deployments list``).",
    )
    host: str = o.option(
        "127.0.0.1",
        flag="--host",
        check=o.Check(_host, "a host name or IP address"),
        help="Bind address; loopback only unless ``allow_remote``: the endpoint has no "
        "authentication.",
    )
    port: int = o.option(
        0,
        flag="--port",
        cli={"type": int},
        check=o.Int(0, 65535),
        default_text="`0` (CLI: `5000`)",
        help="Where to listen; 0 picks a free port (see ``Deployment.url``).",
    )
    workers: int = o.option(
        1,
        flag="--workers",
        cli={"type": int},
        check=o.Int(1, 64),
        help="Server processes sharing the port (each loads its own copy of the models).",
    )
    canary: tuple[str, float] | None = o.option(
        None,
        flag="--canary",
        cli={"metavar": "URI:WEIGHT"},
        check=o.Check(_canary, "None, a (model URI, weight) pair, or 'URI:WEIGHT'", none=True),
        help="That fraction of requests (0..1) is answered by another version, e.g. "
        "``('churn/4', 0.1)`` (CLI: ``churn/4:0.1``).",
    )
    shadow_uri: str | None = o.option(
        None,
        param="shadow",
        flag="--shadow",
        cli={"metavar": "URI"},
        check=o.Check(_model_uri, "a model URI or None", none=True),
        help="A version that also scores every request, in the background; its answers are "
        "logged (role ``shadow``), never returned.",
    )
    fallback_version: str | None = o.option(
        None,
        flag="--fallback-version",
        cli={"metavar": "previous|N|URI"},
        check=o.Check(_fallback_version, "'previous', a version number or a URI", none=True),
        help="What answers when the model raises or exceeds ``timeout``: ``previous`` (the "
        "version the alias pointed at before), a version number or URI. A failing canary falls "
        "back to the primary first.",
    )
    fallback_default: Any = o.option(
        None,
        flag="--fallback-default",
        cli={"metavar": "JSON", "default": None},
        check=o.Check(_json_value, "a JSON value"),
        default_text="unset",
        help="Or a default answer per row when the model fails. Without a fallback the client "
        "gets a 500 (``MODEL_ERROR``) or 504 (``MODEL_TIMEOUT``).",
    )
    has_fallback_default: bool = False
    timeout_s: float | None = o.option(
        None,
        param="timeout",
        flag="--timeout",
        cli={"type": float, "metavar": "SECONDS"},
        check=o.Number(0, 3600, low_open=True, none=True, text=f"{_SECONDS} or None"),
        help="Seconds a model call may take (``None``: no limit), then the fallback or 504.",
    )
    trusted: bool | list[str] = o.option(
        False,
        flag="--trusted",
        cli={"action": "store_true"},
        check=o.Check(_trusted, "True, False or a list of type names"),
        help="Passed to :func:`workbench.load_model` in the server (CLI: ``--trusted`` for "
        "True, ``--trust TYPE`` repeatable for names): only for files you trust.",
    )
    method: str | None = o.option(
        None,
        flag="--method",
        check=o.OneOf(
            _METHODS,
            none=True,
            text="one of " + ", ".join(map(repr, _METHODS)) + " or None (the signature's)",
        ),
        help="The model method to call (default: the signature's, usually ``predict``).",
    )
    max_body_bytes: int = o.option(
        DEFAULT_MAX_BODY_BYTES,
        flag="--max-body-bytes",
        cli={"type": int},
        check=o.Int(1, 2**40),
        help="Larger request bodies get 413.",
    )
    max_rows: int = o.option(
        DEFAULT_MAX_ROWS,
        flag="--max-rows",
        cli={"type": int},
        check=o.Int(1, 100_000_000),
        help="Requests with more rows get 413.",
    )
    refresh_interval_s: float = o.option(
        DEFAULT_REFRESH_S,
        param="refresh_interval",
        flag="--refresh-interval",
        cli={"type": float, "metavar": "SECONDS"},
        check=o.Number(0.05, 3600, text="seconds in [0.05, 3600]"),
        help="Seconds between checks of the aliases the server follows.",
    )
    read_timeout_s: float = o.option(
        DEFAULT_READ_TIMEOUT_S,
        param="read_timeout",
        flag="--read-timeout",
        cli={"type": float, "metavar": "SECONDS"},
        check=o.Number(0, 3600, low_open=True, text=_SECONDS),
        help="Seconds a client may take to send a request body; slower ones get 408 and the "
        "connection is closed.",
    )
    allowed_hosts: list[str] = o.option(
        default_factory=list,
        flag="--allowed-host",
        cli={"action": "append", "metavar": "NAME", "default": []},
        check=o.Check(_allowed_hosts, "a list of host names or addresses ('*': any)"),
        help="More names the server answers for in the ``Host`` header (a proxy's or DNS "
        "name), besides its address (and ``localhost`` on loopback, this machine's names off "
        "loopback). Others get 421, which keeps pages that re-point their domain at this "
        "machine (DNS rebinding) from reading it. ``['*']``: any. CLI: repeatable.",
    )
    threads: int = o.option(
        DEFAULT_THREADS,
        flag="--threads",
        cli={"type": int},
        check=o.Int(1, 256),
        help="Model calls run in a pool of this many threads per worker.",
    )
    log_payloads: bool = o.option(
        True,
        flag="--log-payloads",
        cli={"action": argparse.BooleanOptionalAction},
        check=o.Bool(),
        help="Keep inputs and outputs in the request log (the monitoring layer needs them).",
    )
    allow_remote: bool = o.option(
        False,
        flag="--allow-remote",
        cli={"action": "store_true"},
        check=o.Bool(),
        help="Allow a non-loopback ``host`` (put an authenticating proxy in front).",
    )
    watch_pid: int | None = None
    watch_pid_started: float | None = None
    ready_file: str | None = None
    log_level: str = o.option(
        "warning",
        flag="--log-level",
        cli={"choices": ("critical", "error", "warning", "info", "debug")},
        check=o.OneOf(("critical", "error", "warning", "info", "debug")),
        help="The server's log level (its log is ``deployments/<id>.log`` in the store).",
    )
    loop: str = o.option(
        "auto",
        flag="--loop",
        cli={"choices": ("auto", "asyncio", "uvloop")},
        check=o.OneOf(("auto", "asyncio", "uvloop")),
        help="uvicorn's event loop (auto: uvloop where installed).",
    )
    http: str = o.option(
        "auto",
        flag="--http",
        cli={"choices": ("auto", "h11", "httptools")},
        check=o.OneOf(("auto", "h11", "httptools")),
        help="uvicorn's HTTP parser (auto: httptools where installed).",
    )

    # -- transport ----------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServingConfig:
        data = json.loads(text)
        fields = {f.name for f in dataclasses.fields(cls)}
        if data.get("canary") is not None:
            data["canary"] = tuple(data["canary"])
        return cls(**{k: val for k, val in data.items() if k in fields})

    def replace(self, **changes: Any) -> ServingConfig:
        return dataclasses.replace(self, **changes)

    @property
    def canary_uri(self) -> str | None:
        return None if self.canary is None else self.canary[0]

    @property
    def canary_weight(self) -> float:
        return 0.0 if self.canary is None else self.canary[1]

    def policy_dict(self) -> dict[str, Any]:
        """The traffic policy and limits, as stored with the deployment."""
        return {
            "canary": (
                None
                if self.canary_uri is None
                else {"uri": self.canary_uri, "weight": self.canary_weight}
            ),
            "shadow": self.shadow_uri,
            "fallback_version": self.fallback_version,
            "fallback_default": self.fallback_default if self.has_fallback_default else None,
            "has_fallback_default": self.has_fallback_default,
            "timeout_s": self.timeout_s,
            "workers": self.workers,
            "threads": self.threads,
            "method": self.method,
            "max_body_bytes": self.max_body_bytes,
            "max_rows": self.max_rows,
            "read_timeout_s": self.read_timeout_s,
            "allowed_hosts": list(self.allowed_hosts),
            "log_payloads": self.log_payloads,
            "store": self.store,
        }

    # -- checks -------------------------------------------------------------------------------
    @classmethod
    def from_params(
        cls, caller: str, *, store: str, fallback_default: Any = UNSET, **params: Any
    ) -> ServingConfig:
        """A validated config from :func:`workbench.deploy`'s keywords (public names)."""
        fields = o.field_values(cls, params)
        if fallback_default is not UNSET:
            fields.update(fallback_default=fallback_default, has_fallback_default=True)
        return cls(store=store, **fields).validated(caller)

    def validated(self, caller: str) -> ServingConfig:
        """This config, checked field by field (as declared), then the rules between fields.

        Raises InvalidParameterError naming the first bad parameter."""
        checked = self.replace(**o.check_fields(self, caller))
        if not is_loopback(checked.host) and not checked.allow_remote:
            raise v.fail(
                "host",
                caller,
                "a loopback address (127.0.0.1, ::1 or localhost)",
                checked.host,
                "The serving endpoint has no authentication: anyone who can reach it can score "
                "your model and read its metadata. Put it behind an authenticating proxy, then "
                "pass allow_remote=True (CLI: --allow-remote) to bind other addresses.",
            )
        if checked.has_fallback_default and checked.fallback_version is not None:
            raise v.fail(
                "fallback_default",
                caller,
                "unset when fallback_version is given",
                checked.fallback_default,
                "Choose one fallback: a previous model version, or a default answer.",
            )
        return checked


def parse_canary(value: Any, caller: str) -> tuple[str | None, float]:
    """``canary=`` as given: ``None``, ``(uri, weight)``, ``{"uri", "weight"}`` or ``"uri:w"``."""
    if value is None:
        return None, 0.0
    if isinstance(value, Mapping) and set(value) == {"uri", "weight"}:
        return str(value["uri"]), value["weight"]
    if isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[0], str):
        return value[0], value[1]
    if isinstance(value, str) and ":" in value.removeprefix("models:/"):
        uri, _, weight = value.rpartition(":")
        try:
            return uri, float(weight.rstrip("%")) / (100.0 if weight.endswith("%") else 1.0)
        except ValueError:
            pass
    raise v.fail(
        "canary",
        caller,
        "None, a (model URI, weight) pair, or 'URI:WEIGHT'",
        value,
        "e.g. canary=('churn/4', 0.2) sends 20% of requests to version 4.",
    )


def store_location(client: TrackingClient | None, caller: str) -> str:
    """Where a server process opens the client's store: the absolute folder of a local store,
    or a team store's ``postgresql://`` URL without its password (which travels in the
    process's environment instead: :func:`server_environment`). Not ``':memory:'``."""
    store = resolve_client(client, caller).store
    location = store.location
    if location == ":memory:":
        raise v.fail(
            "client",
            caller,
            "a client of a store folder or a team store",
            location,
            "A server runs in its own process, which cannot see an in-memory store. Use a "
            "folder or a postgresql:// URL (workbench.connect(...), workbench.set_store(...) "
            "or WORKBENCH_STORE).",
        )
    if is_team_url(location):
        return store.for_child_process()[0]
    return os.path.abspath(location)


def server_environment(store: Store) -> dict[str, str]:
    """What a server process of ``store`` needs in its environment besides this process's
    (a team store's password: :meth:`~workbench.store.Store.for_child_process`)."""
    return store.for_child_process()[1]
