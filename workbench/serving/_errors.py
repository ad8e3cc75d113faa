"""Errors of the serving layer, each with the HTTP status and ``error_code`` a server answers.

They extend the :mod:`workbench.exceptions` tree (so ``except WorkbenchError`` catches them and the
HTTP mapping is the same everywhere)::

    InvalidParameterError (400)
    └── MalformedRequestError       the body cannot be read as a scoring payload
    WorkbenchError
    ├── DeploymentError             (500) a server process did not start; quotes its log
    ├── UnsupportedMediaTypeError   (415) a Content-Type other than JSON or CSV
    ├── PayloadTooLargeError        (413) more bytes or rows than the server accepts
    ├── ModelError                  (500) the model raised on a valid input
    ├── ModelTimeoutError           (504) the model did not answer within the timeout
    └── NotReadyError               (503) the models are still loading
"""

from __future__ import annotations

from workbench.exceptions import InvalidParameterError, WorkbenchError

__all__ = [
    "DeploymentError",
    "MalformedRequestError",
    "ModelError",
    "ModelTimeoutError",
    "NotReadyError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
]


class MalformedRequestError(InvalidParameterError):
    """The request body is not a scoring payload this server reads; the message says why."""

    error_code = "MALFORMED_REQUEST"


class UnsupportedMediaTypeError(WorkbenchError):
    """The request's Content-Type is neither JSON nor CSV."""

    error_code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


class PayloadTooLargeError(WorkbenchError):
    """The request body has more bytes, or more rows, than the server is configured to take."""

    error_code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class ModelError(WorkbenchError):
    """The model raised while predicting on an input that matched its signature."""

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
