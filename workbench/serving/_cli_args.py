"""Command-line flags of a model server, shared by ``workbench serve`` and
``python -m workbench.serving``: derived from :class:`ServingConfig`'s declaration."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench import _options as o
from workbench.exceptions import InvalidParameterError
from workbench.serving._config import ServingConfig, store_location

__all__ = ["DEFAULT_PORT", "add_serving_arguments", "config_from_args", "deploy_kwargs"]

DEFAULT_PORT = 5000  # mlflow models serve's default, so existing clients find the server


def add_serving_arguments(parser: argparse.ArgumentParser, *, model_required: bool = True) -> None:
    o.add_arguments(
        parser,
        ServingConfig,
        overrides={
            "model": {"nargs": None if model_required else "?"},
            "port": {"default": DEFAULT_PORT},
        },
    )
    parser.add_argument(
        "--trust",
        action="append",
        metavar="TYPE",
        default=[],
        help="trust one more type when loading (repeatable)",
    )


def deploy_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`workbench.deploy` that the flags stand for."""
    kwargs = o.cli_kwargs(args, ServingConfig, skip=("model",))
    kwargs["trusted"] = True if args.trusted else (list(args.trust) or False)
    text = kwargs.pop("fallback_default")
    if text is not None:
        try:
            kwargs["fallback_default"] = json.loads(text)
        except ValueError:
            raise InvalidParameterError(
                f'--fallback-default must be a JSON value (e.g. 0, "unknown", null); got {text!r}.'
            ) from None
    return kwargs


def config_from_args(args: argparse.Namespace, *, caller: str) -> ServingConfig:
    """A validated config from the flags (for ``python -m workbench.serving MODEL``)."""
    from workbench.serving.server import new_deployment_id

    kwargs = deploy_kwargs(args)
    kwargs["deployment"] = kwargs["deployment"] or new_deployment_id(args.model)
    return ServingConfig.from_params(
        caller, store=store_location(None, caller), model=args.model, **kwargs
    )
