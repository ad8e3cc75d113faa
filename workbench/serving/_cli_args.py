"""Command-line flags of a model server, shared by ``workbench serve`` and
``python -m workbench.serving``, and their translation into a :class:`ServingConfig`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.exceptions import InvalidParameterError
from workbench.serving._config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ROWS,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_REFRESH_S,
    DEFAULT_THREADS,
    ServingConfig,
    parse_canary,
    store_location,
)

__all__ = ["DEFAULT_PORT", "add_serving_arguments", "config_from_args", "deploy_kwargs"]

DEFAULT_PORT = 5000  # mlflow models serve's default, so existing clients find the server


def add_serving_arguments(parser: argparse.ArgumentParser, *, model_required: bool = True) -> None:
    parser.add_argument(
        "model_uri",
        metavar="MODEL_URI",
        nargs=None if model_required else "?",
        help="the model to serve: name, name/3, name@champion (aliases follow promotions live)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port ({DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="bind address (loopback only unless --allow-remote)"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (1)")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"model threads per worker ({DEFAULT_THREADS})",
    )
    parser.add_argument(
        "--canary",
        metavar="URI:WEIGHT",
        help="send a fraction of requests to another version, e.g. churn/4:0.1",
    )
    parser.add_argument(
        "--shadow",
        metavar="URI",
        help="also score every request with this version; log it, return the primary's answer",
    )
    parser.add_argument(
        "--fallback-version",
        metavar="previous|N|URI",
        help="answer with this version when the model fails or times out",
    )
    parser.add_argument(
        "--fallback-default",
        metavar="JSON",
        help="answer this value for every row when the model fails or times out",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="model time limit per request (then fallback, or 504)",
    )
    parser.add_argument(
        "--method",
        help="model method to call (default: the signature's, usually predict), e.g. predict_proba",
    )
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="load the model file even if it needs untrusted types (runs its "
        "code: only for files you trust)",
    )
    parser.add_argument(
        "--trust",
        action="append",
        metavar="TYPE",
        default=[],
        help="trust one more type when loading (repeatable)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the endpoint has no authentication)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        default=[],
        help="also answer requests whose Host header is NAME, e.g. a proxy's or DNS name "
        "(repeatable; '*': any); others get 421",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT_S,
        metavar="SECONDS",
        help="seconds a client may take to send a request body, then 408 "
        f"({DEFAULT_READ_TIMEOUT_S:g})",
    )
    parser.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument(
        "--refresh-interval",
        type=float,
        default=DEFAULT_REFRESH_S,
        help="seconds between alias checks (1)",
    )
    parser.add_argument(
        "--no-log-payloads",
        action="store_true",
        help="keep inputs and outputs out of the request log",
    )
    parser.add_argument("--deployment-id", help="id in `workbench deployments list`")
    parser.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    parser.add_argument(
        "--loop",
        default="auto",
        choices=("auto", "asyncio", "uvloop"),
        help="event loop (auto: uvloop where installed)",
    )
    parser.add_argument(
        "--http",
        default="auto",
        choices=("auto", "h11", "httptools"),
        help="HTTP parser (auto: httptools where installed)",
    )


def deploy_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`workbench.deploy` that the flags stand for."""
    kwargs: dict[str, Any] = {
        "port": args.port,
        "host": args.host,
        "workers": args.workers,
        "threads": args.threads,
        "canary": args.canary,
        "shadow": args.shadow,
        "fallback_version": _fallback_version(args.fallback_version),
        "timeout": args.timeout,
        "method": args.method,
        "trusted": True if args.trusted else (list(args.trust) or False),
        "allow_remote": args.allow_remote,
        "allowed_hosts": list(args.allowed_host),
        "read_timeout": args.read_timeout,
        "max_rows": args.max_rows,
        "max_body_bytes": args.max_body_bytes,
        "refresh_interval": args.refresh_interval,
        "log_payloads": not args.no_log_payloads,
        "deployment_id": args.deployment_id,
        "log_level": args.log_level,
        "loop": args.loop,
        "http": args.http,
    }
    if args.fallback_default is not None:
        try:
            kwargs["fallback_default"] = json.loads(args.fallback_default)
        except ValueError:
            raise InvalidParameterError(
                f'--fallback-default must be a JSON value (e.g. 0, "unknown", null); got '
                f"{args.fallback_default!r}."
            ) from None
    return kwargs


def _fallback_version(value: str | None) -> str | int | None:
    if value is not None and value.isdigit():
        return int(value)
    return value


def config_from_args(args: argparse.Namespace, *, caller: str) -> ServingConfig:
    """A validated config from the flags (for ``python -m workbench.serving MODEL_URI``)."""
    from workbench.serving.server import new_deployment_id

    kwargs = deploy_kwargs(args)
    canary_uri, weight = parse_canary(kwargs.pop("canary"), caller)
    fallback = kwargs.pop("fallback_version")
    has_default = "fallback_default" in kwargs
    return ServingConfig(
        model_uri=args.model_uri,
        store=store_location(None, caller),
        deployment_id=kwargs.pop("deployment_id") or new_deployment_id(args.model_uri),
        host=kwargs["host"],
        port=kwargs["port"],
        workers=kwargs["workers"],
        threads=kwargs["threads"],
        canary_uri=canary_uri,
        canary_weight=weight,
        shadow_uri=kwargs["shadow"],
        fallback_version=None if fallback is None else str(fallback),
        fallback_default=kwargs.get("fallback_default"),
        has_fallback_default=has_default,
        timeout_s=kwargs["timeout"],
        trusted=kwargs["trusted"],
        method=kwargs["method"],
        allow_remote=kwargs["allow_remote"],
        allowed_hosts=kwargs["allowed_hosts"],
        read_timeout_s=kwargs["read_timeout"],
        max_rows=kwargs["max_rows"],
        max_body_bytes=kwargs["max_body_bytes"],
        refresh_interval_s=kwargs["refresh_interval"],
        log_payloads=kwargs["log_payloads"],
        log_level=kwargs["log_level"],
        loop=kwargs["loop"],
        http=kwargs["http"],
    ).validated(caller)
