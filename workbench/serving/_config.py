"""What a model server is told: the model, the traffic policy, limits, and where to log.

:class:`ServingConfig` is validated once, where the user gives it (``deploy()``, ``workbench
serve``), and travels to the server process as JSON. Every check raises
:class:`~workbench.InvalidParameterError` in the standard shape, naming the parameter.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workbench import _validation as v
from workbench.registry import parse_model_uri

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
_UNSET: Any = object()


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServingConfig:
    """Everything a server process needs; see :func:`workbench.deploy` for the meaning.

    ``fallback_default`` is only used when ``has_fallback_default`` is set (a default answer may
    legitimately be ``None``).
    """

    model_uri: str
    store: str
    deployment_id: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    workers: int = 1
    canary_uri: str | None = None
    canary_weight: float = 0.0
    shadow_uri: str | None = None
    fallback_version: str | None = None
    fallback_default: Any = None
    has_fallback_default: bool = False
    timeout_s: float | None = None
    trusted: bool | list[str] = False
    method: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_rows: int = DEFAULT_MAX_ROWS
    refresh_interval_s: float = DEFAULT_REFRESH_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    allowed_hosts: list[str] = dataclasses.field(default_factory=list)
    threads: int = DEFAULT_THREADS
    log_payloads: bool = True
    allow_remote: bool = False
    watch_pid: int | None = None
    watch_pid_started: float | None = None
    ready_file: str | None = None
    log_level: str = "warning"
    loop: str = "auto"
    http: str = "auto"

    # -- transport ----------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServingConfig:
        data = json.loads(text)
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: val for k, val in data.items() if k in fields})

    def replace(self, **changes: Any) -> ServingConfig:
        return dataclasses.replace(self, **changes)

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
    def validated(self, caller: str) -> ServingConfig:
        """This config, checked; raises InvalidParameterError naming the first bad parameter."""
        parse_model_uri(self.model_uri, caller)
        if not isinstance(self.host, str) or not self.host:
            raise v.fail("host", caller, "a host name or IP address", self.host)
        if not is_loopback(self.host) and not self.allow_remote:
            raise v.fail(
                "host",
                caller,
                "a loopback address (127.0.0.1, ::1 or localhost)",
                self.host,
                "The serving endpoint has no authentication: anyone who can reach it can score "
                "your model and read its metadata. Put it behind an authenticating proxy, then "
                "pass allow_remote=True (CLI: --allow-remote) to bind other addresses.",
            )
        _int_in(self.port, caller, "port", 0, 65535)
        _int_in(self.workers, caller, "workers", 1, 64)
        _int_in(self.threads, caller, "threads", 1, 256)
        _int_in(self.max_rows, caller, "max_rows", 1, 100_000_000)
        _int_in(self.max_body_bytes, caller, "max_body_bytes", 1, 2**40)
        if self.canary_uri is not None:
            parse_model_uri(self.canary_uri, caller)
            weight = self.canary_weight
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not (0.0 <= weight <= 1.0)
            ):
                raise v.fail(
                    "canary weight",
                    caller,
                    "a fraction of requests between 0 and 1",
                    weight,
                    "e.g. canary=('churn/4', 0.1) sends 10% of requests to version 4.",
                )
        if self.shadow_uri is not None:
            parse_model_uri(self.shadow_uri, caller)
        if self.fallback_version is not None and self.fallback_version != "previous":
            text = str(self.fallback_version)
            if not text.isdigit():
                parse_model_uri(text, caller)
        if self.has_fallback_default and self.fallback_version is not None:
            raise v.fail(
                "fallback_default",
                caller,
                "unset when fallback_version is given",
                self.fallback_default,
                "Choose one fallback: a previous model version, or a default answer.",
            )
        if self.has_fallback_default:
            try:
                json.dumps(self.fallback_default, allow_nan=False)
            except (TypeError, ValueError):
                raise v.fail(
                    "fallback_default",
                    caller,
                    "a JSON value (number, string, boolean, null, list or object)",
                    self.fallback_default,
                ) from None
        if self.timeout_s is not None and (
            isinstance(self.timeout_s, bool)
            or not isinstance(self.timeout_s, int | float)
            or not 0 < self.timeout_s <= 3600
        ):
            raise v.fail("timeout", caller, "seconds in (0, 3600] or None", self.timeout_s)
        refresh = self.refresh_interval_s
        if (
            isinstance(refresh, bool)
            or not isinstance(refresh, int | float)
            or not (0.05 <= refresh <= 3600)
        ):
            raise v.fail("refresh_interval", caller, "seconds in [0.05, 3600]", refresh)
        read = self.read_timeout_s
        if isinstance(read, bool) or not isinstance(read, int | float) or not 0 < read <= 3600:
            raise v.fail("read_timeout", caller, "seconds in (0, 3600]", read)
        if not isinstance(self.allowed_hosts, list) or not all(
            isinstance(h, str) and _HOST_NAME.fullmatch(h) for h in self.allowed_hosts
        ):
            raise v.fail(
                "allowed_hosts",
                caller,
                "a list of host names or addresses (e.g. ['models.example.com']; '*' allows any)",
                self.allowed_hosts,
            )
        if not (
            isinstance(self.trusted, bool)
            or (isinstance(self.trusted, list) and all(isinstance(t, str) for t in self.trusted))
        ):
            raise v.fail("trusted", caller, "True, False or a list of type names", self.trusted)
        for name, value, choices in (
            ("loop", self.loop, ("auto", "asyncio", "uvloop")),
            ("http", self.http, ("auto", "h11", "httptools")),
        ):
            if value not in choices:
                raise v.fail(name, caller, f"one of {', '.join(map(repr, choices))}", value)
        if self.method is not None and self.method not in (
            "predict",
            "predict_proba",
            "predict_log_proba",
            "decision_function",
            "transform",
        ):
            raise v.fail(
                "method",
                caller,
                "one of 'predict', 'predict_proba', 'predict_log_proba', 'decision_function', "
                "'transform' or None (the signature's)",
                self.method,
            )
        return self


def _int_in(value: Any, caller: str, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise v.fail(name, caller, f"an integer in [{low}, {high}]", value)
    return value


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


def store_location(store: Any, caller: str) -> str:
    """The absolute folder of the store a server should use (not ':memory:')."""
    from workbench.tracking.client import client_for

    client = client_for(store)
    location = client.store.location
    if location == ":memory:":
        raise v.fail(
            "store",
            caller,
            "a store folder",
            location,
            "A server runs in its own process, which cannot see an in-memory store. Use a "
            "folder (workbench.set_store('path') or WORKBENCH_STORE).",
        )
    return os.path.abspath(location)
