"""Module-level registry functions (``workbench.register_model`` ...).

Each one calls the same method of :class:`~workbench.registry.ModelRegistry` on ``client``
(default: the client of the configured store, :func:`workbench.connect`); ``register_model``
with a run handle and no ``client`` uses that run's store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from workbench.registry._models import _MISSING, ModelRegistry
from workbench.tracking.client import TrackingClient, resolve_client
from workbench.tracking.run import ActiveRun

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import ModelVersion, RegisteredModel, Run
    from workbench.registry.card import ModelCard
    from workbench.signature import ModelSignature

__all__ = [
    "alias_history",
    "delete_alias",
    "delete_model_version",
    "get_model_version",
    "list_model_versions",
    "list_models",
    "load_model",
    "model_card",
    "register_model",
    "rollback",
    "set_alias",
    "update_model",
]


def _registry(client: TrackingClient | None, caller: str) -> ModelRegistry:
    return ModelRegistry(resolve_client(client, caller))


def register_model(
    name: str,
    *,
    run: str | ActiveRun | Run,
    model: Any = _MISSING,
    artifact_path: str | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    flavor: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    client: TrackingClient | None = None,
) -> ModelVersion:
    """Register a new version of a model; see :meth:`ModelRegistry.register_model`.

    Examples
    --------
    >>> with workbench.start_run("churn") as run:  # doctest: +SKIP
    ...     model = LogisticRegression().fit(X, y)
    >>> workbench.register_model("churn", run=run, model=model, input_example=X)  # doctest: +SKIP
    ModelVersion(name='churn', version=1, flavor='skops', run_id='...')
    """
    if client is None and isinstance(run, ActiveRun):
        client = run._client
    registry = _registry(client, "register_model")
    return registry.register_model(
        name,
        run=run,
        model=model,
        artifact_path=artifact_path,
        input_example=input_example,
        signature=signature,
        flavor=flavor,
        description=description,
        tags=tags,
    )


def get_model_version(
    model: str | ModelVersion, *, client: TrackingClient | None = None
) -> ModelVersion:
    """The version a URI names (``name``, ``name/3``, ``name@alias``, ``models:/...``)."""
    return _registry(client, "get_model_version").get_model_version(model)


def load_model(
    model: str | ModelVersion, *, trusted: Any = False, client: TrackingClient | None = None
) -> Any:
    """The model a URI names, integrity-checked and loaded safely; see
    :meth:`ModelRegistry.load_model` for ``trusted``."""
    return _registry(client, "load_model").load_model(model, trusted=trusted)


def list_models(*, client: TrackingClient | None = None) -> pd.DataFrame:
    """Registered models as a DataFrame."""
    return _registry(client, "list_models").list_models()


def list_model_versions(name: str, *, client: TrackingClient | None = None) -> pd.DataFrame:
    """Versions of a model as a DataFrame, with the training metrics."""
    return _registry(client, "list_model_versions").list_model_versions(name)


def set_alias(
    name: str,
    alias: str,
    version: int,
    *,
    reason: str | None = None,
    client: TrackingClient | None = None,
) -> ModelVersion:
    """Point an alias at a version (recorded in the alias history)."""
    return _registry(client, "set_alias").set_alias(name, alias, version, reason=reason)


def delete_alias(
    name: str, alias: str, *, reason: str | None = None, client: TrackingClient | None = None
) -> None:
    """Remove an alias (recorded in the alias history)."""
    _registry(client, "delete_alias").delete_alias(name, alias, reason=reason)


def rollback(
    name: str, alias: str, *, reason: str | None = None, client: TrackingClient | None = None
) -> ModelVersion:
    """Move an alias back to its previous version."""
    return _registry(client, "rollback").rollback(name, alias, reason=reason)


def alias_history(
    name: str, alias: str | None = None, *, client: TrackingClient | None = None
) -> pd.DataFrame:
    """Who moved which alias of a model, when, from which version to which, and why."""
    return _registry(client, "alias_history").alias_history(name, alias)


def delete_model_version(name: str, version: int, *, client: TrackingClient | None = None) -> None:
    """Hide a model version for good (refused while an alias points at it)."""
    _registry(client, "delete_model_version").delete_model_version(name, version)


def update_model(
    name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    client: TrackingClient | None = None,
) -> RegisteredModel:
    """Set a model's description and/or add tags."""
    return _registry(client, "update_model").update_model(name, description=description, tags=tags)


def model_card(model: str | ModelVersion, *, client: TrackingClient | None = None) -> ModelCard:
    """The model card of a version (notebook display, ``to_html()``, ``to_markdown()``)."""
    return _registry(client, "model_card").model_card(model)
