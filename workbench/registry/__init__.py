"""The model registry: versions, aliases with history and rollback, lineage, safe loading, cards.

Register a model trained in a run, point an alias at it, and load it back::

    import workbench as wb

    with wb.start_run("churn") as run:
        model = LogisticRegression().fit(X, y)
    wb.register_model("churn", run=run, model=model, input_example=X)   # churn/1
    wb.set_alias("churn", "champion", 1, reason="best AUC")
    model = wb.load_model("churn@champion")       # skops: only trusted types are loaded
    wb.rollback("churn", "champion")               # back to the previous champion
    wb.model_card("churn@champion")                # renders in a notebook; .to_html()

This package never imports a UI library.
"""

from __future__ import annotations

from workbench.entities import AliasEvent, ModelVersion, RegisteredModel
from workbench.registry._api import (
    alias_history,
    delete_alias,
    delete_model_version,
    get_model_version,
    list_model_versions,
    list_models,
    load_model,
    model_card,
    register_model,
    rollback,
    set_alias,
    update_model,
)
from workbench.registry._models import ModelRegistry
from workbench.registry._serializers import (
    PickleSerializer,
    Serializer,
    SkopsSerializer,
    get_serializer,
    list_serializers,
    register_serializer,
)
from workbench.registry._uri import ModelRef, parse_model_uri
from workbench.registry.card import GateOutcome, ModelCard, register_gate_provider
from workbench.signature import ColumnSpec, ModelSignature, infer_signature

__all__ = [
    "AliasEvent",
    "ColumnSpec",
    "GateOutcome",
    "ModelCard",
    "ModelRef",
    "ModelRegistry",
    "ModelSignature",
    "ModelVersion",
    "PickleSerializer",
    "RegisteredModel",
    "Serializer",
    "SkopsSerializer",
    "alias_history",
    "delete_alias",
    "delete_model_version",
    "get_model_version",
    "get_serializer",
    "infer_signature",
    "list_model_versions",
    "list_models",
    "list_serializers",
    "load_model",
    "model_card",
    "parse_model_uri",
    "register_gate_provider",
    "register_model",
    "register_serializer",
    "rollback",
    "set_alias",
    "update_model",
]
