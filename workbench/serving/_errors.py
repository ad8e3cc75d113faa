"""The serving layer's errors and how a server reports them.

The classes live in :mod:`workbench.exceptions` (the one tree under ``WorkbenchError``; each
carries the ``http_status`` and ``error_code`` a server answers with) and are re-exported here for
the serving modules. A 4xx answer is the client's doing and a 5xx the server's (:func:`error_kind`);
the ``kind`` label of ``workbench_request_errors_total`` says which.
"""

from __future__ import annotations

from workbench.exceptions import (
    ClientDisconnectedError,
    DeploymentError,
    HostNotAllowedError,
    InputRejectedError,
    InternalError,
    MalformedRequestError,
    ModelError,
    ModelTimeoutError,
    NotReadyError,
    PayloadTooLargeError,
    RequestTimeoutError,
    UnsupportedMediaTypeError,
)

__all__ = [
    "CLIENT",
    "SERVER",
    "ClientDisconnectedError",
    "DeploymentError",
    "HostNotAllowedError",
    "InputRejectedError",
    "InternalError",
    "MalformedRequestError",
    "ModelError",
    "ModelTimeoutError",
    "NotReadyError",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "UnsupportedMediaTypeError",
    "error_kind",
]

CLIENT, SERVER = "client", "server"


def error_kind(status: int) -> str:
    """``"client"`` for a 4xx status (the request was at fault), ``"server"`` otherwise."""
    return CLIENT if 400 <= status < 500 else SERVER
