"""The exceptions workbench raises, all rooted at :class:`WorkbenchError`.

Each error also subclasses the builtin it most resembles, so ``except ValueError`` keeps working
for code that does not know workbench. ``error_code`` is a stable machine-readable name (used as
the JSON ``error_code`` by HTTP layers) and ``http_status`` the status an HTTP layer should answer.

    WorkbenchError
    ├── InvalidParameterError (ValueError)      a public function got a bad argument
    │   ├── FilterSyntaxError                   a run filter / order_by that does not parse
    │   ├── SignatureMismatchError              data that does not fit a model's signature
    │   ├── MalformedRequestError               a body that is not a scoring payload
    │   ├── InputRejectedError                  the model rejected input its signature let through
    │   └── FeatureValidationError              data failed its feature view's expectations
    ├── NotFoundError (KeyError)                something named does not exist
    │   ├── RunNotFoundError
    │   ├── ExperimentNotFoundError
    │   ├── ArtifactNotFoundError
    │   ├── ModelNotFoundError                  no such model, version or alias
    │   └── FeatureNotFoundError                no such entity, feature view, service or feature
    ├── ConflictError                           the request contradicts what is stored
    │   ├── RunNotActiveError                   logging to a run that has ended
    │   └── BreakingChangeError                 a new definition would break a registered model
    ├── NoActiveRunError (RuntimeError)         module-level log_* outside ``with start_run()``
    ├── UnsafeModelError (PermissionError)      loading would run untrusted code; not trusted
    ├── StoreError (OSError)                    the store cannot be used
    │   ├── NotAWorkbenchStoreError             the path holds something else
    │   ├── StoreVersionError                   written by a newer workbench
    │   ├── StoreBusyError                      the store lock could not be had in time
    │   ├── ReadOnlyStoreError                  a write to a store opened read-only
    │   ├── ArtifactIntegrityError              a stored file no longer matches its digest
    │   └── FeatureSourceError                  a feature view's source cannot be read
    ├── SweepWorkerError (RuntimeError)         a sweep's worker process failed
    ├── GateFailedError                         (412) a quality gate did not pass
    ├── NotebookFailedError                     (500) a notebook run by run_notebook failed
    ├── DeploymentError                         (500) a server process did not start
    ├── RequestTimeoutError                     (408) the request body did not arrive in time
    ├── PayloadTooLargeError                    (413) more bytes or rows than the server takes
    ├── UnsupportedMediaTypeError               (415) a Content-Type other than JSON or CSV
    ├── HostNotAllowedError                     (421) a Host header naming another server
    ├── ClientDisconnectedError                 (499) internal: the client left mid-request
    ├── ModelError                              (500) the model raised on accepted input
    ├── InternalError                           (500) internal: a bug of the scoring server
    ├── ModelTimeoutError                       (504) the model did not answer in time
    ├── NotReadyError                           (503) the server's models are still loading
    └── DashboardUnavailableError               (501) the dashboard cannot be started here

Every class is exported as ``workbench.<Name>`` except the two marked internal, which only the
scoring server raises and turns into an HTTP answer (no caller ever sees them raised).

Warnings (``warnings.warn``; not errors, so not under ``WorkbenchError``):

    UnsafeLoadWarning (UserWarning)             a model was loaded with ``trusted=True``
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "BreakingChangeError",
    "ClientDisconnectedError",
    "ConflictError",
    "DashboardUnavailableError",
    "DeploymentError",
    "ExperimentNotFoundError",
    "FeatureNotFoundError",
    "FeatureSourceError",
    "FeatureValidationError",
    "FilterSyntaxError",
    "GateFailedError",
    "HostNotAllowedError",
    "InputRejectedError",
    "InternalError",
    "InvalidParameterError",
    "MalformedRequestError",
    "ModelError",
    "ModelNotFoundError",
    "ModelTimeoutError",
    "NoActiveRunError",
    "NotAWorkbenchStoreError",
    "NotFoundError",
    "NotReadyError",
    "NotebookFailedError",
    "PayloadTooLargeError",
    "ReadOnlyStoreError",
    "RequestTimeoutError",
    "RunNotActiveError",
    "RunNotFoundError",
    "SignatureMismatchError",
    "StoreBusyError",
    "StoreError",
    "StoreVersionError",
    "SweepWorkerError",
    "UnsafeLoadWarning",
    "UnsafeModelError",
    "UnsupportedMediaTypeError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error workbench raises on purpose."""

    error_code = "WORKBENCH_ERROR"
    http_status = 500


class InvalidParameterError(WorkbenchError, ValueError):
    """A public function received an argument it cannot use; the message says how to fix it."""

    error_code = "INVALID_PARAMETER"
    http_status = 400


class FilterSyntaxError(InvalidParameterError):
    """A run filter or order_by expression does not parse; the message points at the token."""

    error_code = "INVALID_FILTER"

    def __init__(self, message: str, *, text: str = "", position: int = -1) -> None:
        if text and position >= 0:
            message = f"{message}\n  {text}\n  {' ' * position}^"
        super().__init__(message)
        self.text = text
        self.position = position


class NotFoundError(WorkbenchError, KeyError):
    """Something referred to by id or name does not exist in the store."""

    error_code = "NOT_FOUND"
    http_status = 404

    def __str__(self) -> str:  # KeyError would quote the message; show it as written.
        return str(self.args[0]) if self.args else ""


class RunNotFoundError(NotFoundError):
    """No run has the given id."""

    error_code = "RUN_NOT_FOUND"


class ExperimentNotFoundError(NotFoundError):
    """No experiment has the given name or id."""

    error_code = "EXPERIMENT_NOT_FOUND"


class ArtifactNotFoundError(NotFoundError):
    """The run has no artifact at the given path."""

    error_code = "ARTIFACT_NOT_FOUND"


class ConflictError(WorkbenchError, ValueError):
    """The request contradicts what is already stored (e.g. a param logged twice differently)."""

    error_code = "CONFLICT"
    http_status = 409


class RunNotActiveError(ConflictError):
    """The run has ended, so nothing more can be logged to it."""

    error_code = "RUN_NOT_ACTIVE"


class NoActiveRunError(WorkbenchError, RuntimeError):
    """A module-level logging function was called outside a ``with workbench.start_run()`` block."""

    error_code = "NO_ACTIVE_RUN"
    http_status = 400


class StoreError(WorkbenchError, OSError):
    """The store cannot be opened or used."""

    error_code = "STORE_ERROR"
    http_status = 503


class NotAWorkbenchStoreError(StoreError):
    """The path exists but does not hold a workbench store."""

    error_code = "NOT_A_WORKBENCH_STORE"


class StoreVersionError(StoreError):
    """The store was written by a newer workbench whose schema this version cannot read."""

    error_code = "STORE_VERSION"


class StoreBusyError(StoreError):
    """The store lock was held by other processes for longer than the configured timeout."""

    error_code = "STORE_BUSY"


class ReadOnlyStoreError(StoreError, PermissionError):
    """A write to a store that is open read-only (a read-only mount, another user's folder)."""

    error_code = "STORE_READ_ONLY"
    http_status = 403


# -- registry ---------------------------------------------------------------------------------


class SignatureMismatchError(InvalidParameterError):
    """Input data does not fit a model's signature; ``problems`` lists every mismatch found."""

    error_code = "SIGNATURE_MISMATCH"

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ModelNotFoundError(NotFoundError):
    """No registered model has the given name, version or alias."""

    error_code = "MODEL_NOT_FOUND"


class UnsafeModelError(WorkbenchError, PermissionError):
    """Loading the model would import or run code that is not trusted; the message says how to
    trust it (``load_model(uri, trusted=[...])`` or ``trusted=True``)."""

    error_code = "UNSAFE_MODEL"
    http_status = 403

    def __init__(self, message: str, *, untrusted: list[str] | None = None) -> None:
        super().__init__(message)
        self.untrusted = list(untrusted or [])

    def __str__(self) -> str:  # PermissionError would format (errno, strerror); show the message
        return str(self.args[0]) if self.args else ""


class ArtifactIntegrityError(StoreError):
    """A stored artifact file's SHA-256 differs from the digest recorded for it: it was modified
    or damaged after it was written, so it is not used."""

    error_code = "ARTIFACT_INTEGRITY"
    http_status = 500


# -- sweeps, monitoring, pipelines -------------------------------------------------------------


class SweepWorkerError(WorkbenchError, RuntimeError):
    """A worker process of a sweep failed; the message carries its error and traceback."""

    error_code = "SWEEP_WORKER_FAILED"


class GateFailedError(WorkbenchError):
    """A quality gate did not pass; ``result`` (a :class:`~workbench.GateResult`) holds every
    check and its explanation."""

    error_code = "GATE_FAILED"
    http_status = 412

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class NotebookFailedError(WorkbenchError):
    """A notebook executed by :func:`~workbench.run_notebook` failed (a cell raised, or a gate
    failed).

    ``result`` is the :class:`~workbench.NotebookRun` (run id, executed notebook, error);
    ``gate_failed`` tells a failed quality gate from other errors.
    """

    error_code = "NOTEBOOK_FAILED"
    http_status = 500

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result

    @property
    def gate_failed(self) -> bool:
        return bool(self.result and self.result.gate_failed)


# -- serving (``http_status`` is what the scoring server answers) -------------------------------


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
    """Internal: the client closed the connection before its request body was read; nobody is
    answered.

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


class InternalError(WorkbenchError):
    """Internal: an unexpected failure of the scoring server while answering (a bug: its log has
    the traceback)."""

    error_code = "INTERNAL_ERROR"
    http_status = 500


# -- jupyter ----------------------------------------------------------------------------------


class DashboardUnavailableError(WorkbenchError):
    """The dashboard cannot be started here (Panel is not installed, or it failed to start)."""

    error_code = "DASHBOARD_UNAVAILABLE"
    http_status = 501


class UnsafeLoadWarning(UserWarning):
    """A model was loaded with ``trusted=True``: its file could run arbitrary code on load."""


# -- the feature store (workbench.features) ----------------------------------------------------
class FeatureValidationError(InvalidParameterError):
    """Data failed the expectations of its feature view; ``report`` lists every violation."""

    error_code = "FEATURE_VALIDATION_FAILED"

    def __init__(self, message: str, *, report: Any) -> None:  # a features.ValidationReport
        super().__init__(message)
        self.report = report


class FeatureNotFoundError(NotFoundError):
    """No entity, feature view, feature service or feature by that name."""

    error_code = "FEATURE_NOT_FOUND"


class BreakingChangeError(ConflictError):
    """A new version of a definition would break a registered model; the message names it."""

    error_code = "FEATURE_BREAKING_CHANGE"


class FeatureSourceError(StoreError):
    """A feature view's source cannot be read: its files are gone, or it lives in another
    process (an in-memory DataFrame)."""

    error_code = "FEATURE_SOURCE_UNAVAILABLE"
