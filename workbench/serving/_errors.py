"""Errors of the serving layer, each with the HTTP status and ``error_code`` a server answers.

They extend the :mod:`workbench.exceptions` tree (so ``except WorkbenchError`` catches them and the
HTTP mapping is the same everywhere)::

    InvalidParameterError (400)
    ├── MalformedRequestError       the body cannot be read as a scoring payload
    └── InputRejectedError          the model rejected an input its signature could not check
    WorkbenchError
    ├── DeploymentError             (500) a server process did not start; quotes its log
    ├── RequestTimeoutError         (408) the request body did not arrive in time
    ├── PayloadTooLargeError        (413) more bytes or rows than the server accepts
    ├── UnsupportedMediaTypeError   (415) a Content-Type other than JSON or CSV
    ├── HostNotAllowedError         (421) a Host header naming another server (DNS rebinding)
    ├── ClientDisconnectedError     (499) the client left before its request was read
    ├── ModelError                  (500) the model raised on an input its signature accepted
    ├── ModelTimeoutError           (504) the model did not answer within the timeout
    └── NotReadyError               (503) the models are still loading

A 4xx answer is the client's doing and a 5xx the server's (:func:`error_kind`); the ``kind``
label of ``workbench_request_errors_total`` says which.
"""

from __future__ import annotations

from workbench.exceptions import InvalidParameterError, WorkbenchError

__all__ = [
    "CLIENT",
    "SERVER",
    "ClientDisconnectedError",
    "DeploymentError",
    "HostNotAllowedError",
    "InputRejectedError",
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


class MalformedRequestError(InvalidParameterError):
    """The request body is not a scoring payload this server reads; the message says why."""

    error_code = "MALFORMED_REQUEST"


class InputRejectedError(InvalidParameterError):
    """The model raised on an input that its signature could not fully check (no signature, or
    columns of unknown type): the input is taken to be at fault, as MLflow's scoring server does.
    """

    error_code = "INPUT_REJECTED"


class RequestTimeoutError(WorkbenchError):
    """The client did not send the whole request body within the server's read timeout."""

    error_code = "REQUEST_TIMEOUT"
    http_status = 408


class HostNotAllowedError(WorkbenchError):
    """The request's ``Host`` header names a host this server does not answer for.

    A web page whose domain was re-pointed at 127.0.0.1 (DNS rebinding) sends its own domain in
    ``Host``; refusing unknown names keeps such pages from reading the server.
    """

    error_code = "HOST_NOT_ALLOWED"
    http_status = 421


class ClientDisconnectedError(WorkbenchError):
    """The client closed the connection before its request body was read; nobody is answered.

    499 is nginx's status for this case: it appears in the request log and the metrics only.
    """

    error_code = "CLIENT_DISCONNECTED"
    http_status = 499


class UnsupportedMediaTypeError(WorkbenchError):
    """The request's Content-Type is neither JSON nor CSV."""

    error_code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


class PayloadTooLargeError(WorkbenchError):
    """The request body has more bytes, or more rows, than the server is configured to take."""

    error_code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class ModelError(WorkbenchError):
    """The model raised while predicting on an input that its signature fully accepted."""

    error_code = "MODEL_ERROR"
    http_status = 500


class ModelTimeoutError(WorkbenchError):
    """The model did not answer within the configured timeout."""

    error_code = "MODEL_TIMEOUT"
    http_status = 504


class NotReadyError(WorkbenchError):
    """The server has not finished loading its models."""

    error_code = "NOT_READY"
    http_status = 503


class DeploymentError(WorkbenchError):
    """A server process could not be started (or stopped); the message quotes its log."""

    error_code = "DEPLOYMENT_FAILED"
    http_status = 500
