"""Immutable snapshots of the registry: model versions, models, alias history entries.

Stores return these and they never change; nested JSON values are read-only mappings and tuples.
:class:`NewModelVersion` is what the registry asks a store to write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from workbench.registry._signature import ModelSignature, example_data

__all__ = ["AliasEvent", "ModelVersion", "NewModelVersion", "RegisteredModel", "freeze", "thaw"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON-like value: dicts become mappings, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain, JSON-serializable form of a frozen value."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model: where its file is, what it takes, where it came from.

    ``lineage`` is what the training run looked like when the version was registered: ``run``
    (id, name, experiment, status, times), ``params``, ``metrics``, ``tags``, ``inputs``
    (datasets with their content digests), ``code`` (git commit, branch, dirty flag, notebook)
    and ``environment`` (python, platform, package versions, host, user).
    """

    name: str
    version: int
    run_id: str
    artifact_digest: str
    flavor: str
    signature: ModelSignature | None
    input_example: Mapping[str, Any] | None
    description: str | None
    tags: Mapping[str, str]
    created_at: dt.datetime
    aliases: tuple[str, ...] = ()
    lineage: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    artifact_path: str = ""
    created_by: str | None = None

    @property
    def uri(self) -> str:
        """The URI of exactly this version (``name/3``)."""
        return f"{self.name}/{self.version}"

    @property
    def metrics(self) -> Mapping[str, float]:
        """The training run's latest metrics at registration."""
        metrics: Mapping[str, float] = self.lineage.get("metrics", _EMPTY)
        return metrics

    @property
    def params(self) -> Mapping[str, Any]:
        """The training run's params."""
        params: Mapping[str, Any] = self.lineage.get("params", _EMPTY)
        return params

    def input_example_data(self) -> Any:
        """The stored input example as the model takes it (DataFrame or array), or None."""
        if self.input_example is None:
            return None
        return example_data(self.input_example, self.signature)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable form (times as ISO strings)."""
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "artifact_digest": self.artifact_digest,
            "flavor": self.flavor,
            "aliases": list(self.aliases),
            "description": self.description,
            "tags": thaw(self.tags),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "signature": None if self.signature is None else self.signature.to_dict(),
            "input_example": thaw(self.input_example),
            "lineage": thaw(self.lineage),
        }

    def __repr__(self) -> str:
        aliases = f", aliases={list(self.aliases)!r}" if self.aliases else ""
        return (
            f"ModelVersion(name={self.name!r}, version={self.version}, flavor={self.flavor!r}, "
            f"run_id={self.run_id!r}{aliases})"
        )


@dataclass(frozen=True)
class RegisteredModel:
    """A model name with its versions summarized."""

    name: str
    description: str | None
    tags: Mapping[str, str]
    created_at: dt.datetime
    latest_version: int | None
    versions: int
    aliases: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class AliasEvent:
    """One entry of the append-only alias history.

    ``action`` is ``set``, ``delete`` or ``rollback``; ``from_version`` is None when the alias
    did not exist before, ``to_version`` None when it was deleted.
    """

    seq: int
    name: str
    alias: str
    action: str
    from_version: int | None
    to_version: int | None
    actor: str | None
    reason: str | None
    changed_at: dt.datetime


@dataclass(frozen=True)
class NewModelVersion:
    """What :meth:`Store.create_model_version` writes (the store assigns the version number).

    When ``record_artifact`` is set, the file is also recorded as an artifact of the run, at
    ``models/<name>/v<version>/model<suffix>``; otherwise ``artifact_path`` names the run's
    existing artifact.
    """

    name: str
    run_id: str
    artifact_digest: str
    artifact_size: int
    flavor: str
    media_type: str
    suffix: str
    record_artifact: bool
    artifact_path: str | None = None
    signature: ModelSignature | None = None
    input_example: Mapping[str, Any] | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    lineage: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    created_by: str | None = None
