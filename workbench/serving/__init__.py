"""Serving: registered models behind an HTTP endpoint, with traffic policies and a request log.

Serve the champion, call it, stop it::

    import workbench as wb

    with wb.deploy("churn@champion", canary=("churn/4", 0.1), fallback_version="previous") as s:
        s.predict(X.head())                  # POST {s.url}/invocations, MLflow's payloads
        s.status()                           # running, healthy, versions per role
    wb.read_request_log("churn")             # what was scored, as the model saw it
    wb.batch_predict("churn@champion", "customers.parquet", output="scores.parquet")

From a terminal: ``workbench serve churn@champion --port 5000``,
``workbench deployments list``, ``workbench deployments stop ID``.

The endpoint has no authentication: it binds to loopback unless ``allow_remote=True``. This
package never imports a UI library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.serving._config import ServingConfig
from workbench.serving._errors import (
    DeploymentError,
    HostNotAllowedError,
    InputRejectedError,
    MalformedRequestError,
    ModelError,
    ModelTimeoutError,
    NotReadyError,
    PayloadTooLargeError,
    RequestTimeoutError,
    UnsupportedMediaTypeError,
)
from workbench.serving._request_log import read_request_log
from workbench.serving.batch import batch_predict
from workbench.serving.server import (
    Deployment,
    DeploymentStatus,
    deploy,
    get_deployment,
    list_deployments,
    stop_deployment,
)

__all__ = [
    "Deployment",
    "DeploymentError",
    "DeploymentStatus",
    "HostNotAllowedError",
    "InputRejectedError",
    "MalformedRequestError",
    "ModelError",
    "ModelTimeoutError",
    "NotReadyError",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "ServingConfig",
    "UnsupportedMediaTypeError",
    "batch_predict",
    "build_app",
    "deploy",
    "get_deployment",
    "list_deployments",
    "read_request_log",
    "stop_deployment",
]

if TYPE_CHECKING:
    from workbench.serving.app import build_app


def __getattr__(name: str) -> Any:
    # The ASGI app pulls in starlette and prometheus_client (~35 ms): only when asked for.
    if name == "build_app":
        from workbench.serving.app import build_app

        return build_app
    raise AttributeError(f"module 'workbench.serving' has no attribute {name!r}")
