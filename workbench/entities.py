"""Immutable snapshots of what a store holds: the vocabulary every layer shares.

* tracking: :class:`Experiment`, :class:`Run` (with :class:`RunStatus`), :class:`Dataset`,
  :class:`DatasetInput`, :class:`ArtifactRef`;
* registry: :class:`ModelVersion`, :class:`RegisteredModel`, :class:`AliasEvent`, and
  :class:`NewModelVersion` (what the registry asks a store to write);
* serving: :class:`DeploymentRecord` (one model server process).

Stores return these; they never change after they are built (nested JSON values are read-only
mappings and tuples: :func:`freeze`, :func:`thaw`). Mutating handles (the active run) are separate
types in :mod:`workbench.tracking`. This module sits at the bottom of the package: it imports
nothing from workbench but :mod:`workbench.signature` (for type hints and example data).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.signature import ModelSignature

__all__ = [
    "DEPLOYMENT_STATES",
    "AliasEvent",
    "ArtifactRef",
    "Dataset",
    "DatasetInput",
    "DeploymentRecord",
    "Experiment",
    "ModelVersion",
    "NewModelVersion",
    "RegisteredModel",
    "Run",
    "RunStatus",
    "freeze",
    "thaw",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_STATUS_COLOURS = {"running": "#1f77b4", "finished": "#2ca02c", "failed": "#d62728"}


class RunStatus(enum.StrEnum):
    """Lifecycle of a run: ``running`` until it ends as finished, failed or killed."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    created_at: dt.datetime
    deleted_at: dt.datetime | None = None
    description: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class Dataset:
    """A dataset identified by the hash of its content, with its schema and a small profile."""

    digest: str
    name: str
    source: str | None
    n_rows: int | None
    n_cols: int | None
    schema: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    profile: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class DatasetInput:
    """A dataset used by a run, and in which role (``training``, ``validation``, ...)."""

    dataset: Dataset
    context: str


@dataclass(frozen=True)
class ArtifactRef:
    """A file a run logged: its path inside the run and its content digest."""

    path: str
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Run:
    """A snapshot of one run: identity, status, params, latest metrics, tags, inputs, artifacts."""

    run_id: str
    name: str
    experiment: str
    experiment_id: str
    status: RunStatus
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    parent_id: str | None = None
    error: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    inputs: tuple[DatasetInput, ...] = ()
    artifacts: tuple[ArtifactRef, ...] = ()
    children: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> dt.timedelta | None:
        """Wall time from start to end (``None`` while running)."""
        return None if self.end_time is None else self.end_time - self.start_time

    def __repr__(self) -> str:
        return (
            f"Run(run_id={self.run_id!r}, name={self.name!r}, experiment={self.experiment!r}, "
            f"status={self.status.value!r}, params={len(self.params)}, "
            f"metrics={dict(self.metrics)!r})"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def _repr_html_(self) -> str:
        from workbench._html import render

        duration = self.duration
        sections = [
            ("Params", self.params),
            ("Metrics (latest)", {k: f"{v:.6g}" for k, v in self.metrics.items()}),
            ("Tags", self.tags),
            (
                "Inputs",
                {
                    i.dataset.name: (
                        f"{i.context} · {i.dataset.n_rows} rows · {i.dataset.digest[:12]}"
                    )
                    for i in self.inputs
                },
            ),
            ("Artifacts", {a.path: f"{a.media_type} · {a.size} B" for a in self.artifacts}),
        ]
        return render(
            "run.html.j2",
            run=self,
            colour=_STATUS_COLOURS.get(self.status.value, "#7f7f7f"),
            started=f"{self.start_time:%Y-%m-%d %H:%M:%S}",
            seconds=None if duration is None else duration.total_seconds(),
            sections=sections,
        )


# -- registry ---------------------------------------------------------------------------------


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
        from workbench.signature import example_data

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


# -- deployments ------------------------------------------------------------------------------

#: ``running`` (its process is alive), ``stopped`` (stopped cleanly), ``failed`` (could not
#: load its models), ``dead`` (its process ended without stopping it: killed or crashed).
DEPLOYMENT_STATES = ("running", "stopped", "failed", "dead")


@dataclass(frozen=True)
class DeploymentRecord:
    """What the store keeps about one deployment (a server process serving a model URI)."""

    deployment_id: str
    model_uri: str
    host: str
    port: int
    url: str
    machine: str
    pid: int
    pid_started: float
    status: str
    started_at: dt.datetime
    stopped_at: dt.datetime | None = None
    policy: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable form (times as ISO strings)."""
        return {
            "deployment_id": self.deployment_id,
            "model_uri": self.model_uri,
            "status": self.status,
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "machine": self.machine,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "stopped_at": None if self.stopped_at is None else self.stopped_at.isoformat(),
            "policy": json.loads(json.dumps(dict(self.policy), default=str)),
        }
