"""The exceptions workbench raises, all rooted at :class:`WorkbenchError`.

Each error also subclasses the builtin it most resembles, so ``except ValueError`` keeps working
for code that does not know workbench. ``error_code`` is a stable machine-readable name (used as
the JSON ``error_code`` by HTTP layers) and ``http_status`` the status an HTTP layer should answer.

    WorkbenchError
    ├── InvalidParameterError (ValueError)      a public function got a bad argument
    │   ├── FilterSyntaxError                   a run filter / order_by that does not parse
    │   └── SignatureMismatchError              data that does not fit a model's signature
    ├── NotFoundError (KeyError)                something named does not exist
    │   ├── RunNotFoundError
    │   ├── ExperimentNotFoundError
    │   ├── ArtifactNotFoundError
    │   └── ModelNotFoundError                  no such model, version or alias
    ├── ConflictError                           the request contradicts what is stored
    │   └── RunNotActiveError                   logging to a run that has ended
    ├── NoActiveRunError (RuntimeError)         module-level log_* outside ``with start_run()``
    ├── UnsafeModelError (PermissionError)      loading would run untrusted code; not trusted
    └── StoreError (OSError)                    the store cannot be used
        ├── NotAWorkbenchStoreError             the path holds something else
        ├── StoreVersionError                   written by a newer workbench
        ├── StoreBusyError                      the store lock could not be had in time
        ├── ReadOnlyStoreError                  a write to a store opened read-only
        └── ArtifactIntegrityError              a stored file no longer matches its digest

Warnings (``warnings.warn``; not errors, so not under ``WorkbenchError``):

    UnsafeLoadWarning (UserWarning)             a model was loaded with ``trusted=True``
"""

from __future__ import annotations

__all__ = [
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "ConflictError",
    "ExperimentNotFoundError",
    "FilterSyntaxError",
    "InvalidParameterError",
    "ModelNotFoundError",
    "NoActiveRunError",
    "NotAWorkbenchStoreError",
    "NotFoundError",
    "ReadOnlyStoreError",
    "RunNotActiveError",
    "RunNotFoundError",
    "SignatureMismatchError",
    "StoreBusyError",
    "StoreError",
    "StoreVersionError",
    "UnsafeLoadWarning",
    "UnsafeModelError",
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


class UnsafeLoadWarning(UserWarning):
    """A model was loaded with ``trusted=True``: its file could run arbitrary code on load."""
