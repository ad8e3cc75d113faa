"""The exceptions workbench raises, all rooted at :class:`WorkbenchError`.

Each error also subclasses the builtin it most resembles, so ``except ValueError`` keeps working
for code that does not know workbench. ``error_code`` is a stable machine-readable name (used as
the JSON ``error_code`` by HTTP layers) and ``http_status`` the status an HTTP layer should answer.

    WorkbenchError
    ├── InvalidParameterError (ValueError)      a public function got a bad argument
    │   └── FilterSyntaxError                   a run filter / order_by that does not parse
    ├── NotFoundError (KeyError)                something named does not exist
    │   ├── RunNotFoundError
    │   ├── ExperimentNotFoundError
    │   └── ArtifactNotFoundError
    ├── ConflictError                           the request contradicts what is stored
    │   └── RunNotActiveError                   logging to a run that has ended
    ├── NoActiveRunError (RuntimeError)         module-level log_* outside ``with start_run()``
    └── StoreError (OSError)                    the store cannot be used
        ├── NotAWorkbenchStoreError             the path holds something else
        ├── StoreVersionError                   written by a newer workbench
        └── StoreBusyError                      the store lock could not be had in time
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFoundError",
    "ConflictError",
    "ExperimentNotFoundError",
    "FilterSyntaxError",
    "InvalidParameterError",
    "NoActiveRunError",
    "NotAWorkbenchStoreError",
    "NotFoundError",
    "RunNotActiveError",
    "RunNotFoundError",
    "StoreBusyError",
    "StoreError",
    "StoreVersionError",
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
