"""The storage interface every backend implements, and the contract it promises.

Contract (checked by :class:`workbench.testing.StoreContract`):

* **Durability.** When ``write_batch`` returns, the batch survives the death of the calling
  process (``kill -9``); a batch is applied exactly once even if it is written or ingested again.
* **Visibility.** After ``sync()`` returns, every batch written before it is visible to reads.
  Read methods call ``sync()`` themselves, so a reader always sees all durable data.
* **Concurrency.** Any number of threads and processes may write and read one store at once;
  no call waits on another process for longer than the lock timeout, after which it raises
  :class:`~workbench.exceptions.StoreBusyError`.
* **Snapshots.** Returned entities are immutable; DataFrames are fresh copies.
* **Liveness.** Runs whose process died without ending them are reported ``killed``.
* **Registry.** Registry writes are synchronous (durable and visible when they return). Version
  numbers are assigned atomically: per model name they are 1, 2, 3, ... with no gaps and no
  duplicates, whatever the number of writing processes, and are never reused after a delete.
  The alias history is append-only. Checked by :class:`workbench.testing.registry_contract.
  RegistryContract`.
* **Feature definitions** (schema 6). Synchronous like the registry. Versions per (kind, name)
  are 1, 2, 3, ... with no gaps; a stored version is never rewritten; registering the latest
  version's fingerprint again adds nothing. Checked by ``tests/features/test_store_contract.py``.
"""

from __future__ import annotations

import abc
import datetime as dt
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from workbench import _liveness

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import (
        AliasEvent,
        Dataset,
        DeploymentRecord,
        Experiment,
        ModelVersion,
        NewModelVersion,
        RegisteredModel,
        Run,
    )
    from workbench.store.artifacts import ArtifactStore
    from workbench.store.batch import Batch

__all__ = [
    "DamageRecord",
    "FeatureDefinitionRecord",
    "FeatureLineageRecord",
    "NewFeatureDefinition",
    "ProcessInfo",
    "RunSearch",
    "Store",
    "StoreHealth",
]


@dataclass(frozen=True)
class ProcessInfo:
    """Identifies the process that owns running runs, so dead owners can be detected."""

    proc_id: str
    host: str
    pid: int
    pid_started: float

    @classmethod
    def current(cls) -> ProcessInfo:
        host, pid = socket.gethostname(), os.getpid()
        started = _liveness.start_time(pid)
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:8]}", host, pid, started)


@dataclass(frozen=True)
class DamageRecord:
    """Damaged journal bytes found, kept aside and skipped by an ingest."""

    journal: str
    start: int
    end: int
    reason: str
    copy: str
    found_at: dt.datetime


@dataclass(frozen=True)
class StoreHealth:
    """What a health check of a store finds (``workbench doctor``)."""

    location: str
    read_only: bool
    journals: int  # journals not fully ingested yet
    journal_bytes: int
    damage: tuple[DamageRecord, ...]

    def __str__(self) -> str:
        mode = " (read-only)" if self.read_only else ""
        lines = [
            f"store      {self.location}{mode}",
            f"journals   {self.journals} waiting to be ingested ({self.journal_bytes:,} bytes)",
            f"damage     {len(self.damage)} damaged range(s) found in journals and skipped",
        ]
        lines += [
            f"  {d.found_at:%Y-%m-%d %H:%M:%S}  {d.journal} bytes {d.start}-{d.end}: {d.reason}"
            f"\n    kept in {d.copy}"
            for d in self.damage
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class RunSearch:
    """What ``search_runs`` asks a store for (already validated by the client).

    The one query over runs: ``workbench.search_runs``, the Panel runs browser and the
    JupyterLab sidebar all page, sort and filter through it.

    Attributes
    ----------
    experiments
        Experiment names to search (None: all).
    filter, order_by
        Text in the filter language (docs/filter.md). Every order_by item sorts with nulls
        last in either direction; ties are broken newest first, then by run id.
    max_results, offset
        The page: skip ``offset`` matching rows, return at most ``max_results`` (None: all;
        0: none, only the total).
    include_deleted
        Also soft-deleted runs and runs of soft-deleted experiments.
    metric_stats
        The summaries of each metric to return (``latest``, ``min``, ``max``, ``count``).
    columns
        The ``params.<key>``, ``metrics.<key>`` and ``tags.<key>`` columns to return, in this
        order and whether or not any run has them (None: every key the returned runs have).
        Run attributes (``run_id``, ``name``, ...) always come first.
    group_nested
        Page over trees instead of runs: a top-level run is on the pages when it or one of its
        descendants matches, followed by its matching descendants (at most ``max_children``);
        adds the columns ``depth`` (0 for top-level runs) and ``children`` (matching
        descendants of a top-level run). Trees sort by their best matching run.
    """

    #: The run attributes every result starts with, in this order.
    RUN_COLUMNS: ClassVar[tuple[str, ...]] = (
        "run_id",
        "name",
        "experiment",
        "status",
        "start_time",
        "end_time",
        "duration_s",
        "parent_id",
        "error",
    )
    #: The columns ``group_nested`` adds after them.
    TREE_COLUMNS: ClassVar[tuple[str, ...]] = ("depth", "children")

    experiments: tuple[str, ...] | None = None
    filter: str | None = None
    order_by: tuple[str, ...] = ()
    max_results: int | None = None
    offset: int = 0
    include_deleted: bool = False
    metric_stats: tuple[str, ...] = ("latest",)
    columns: tuple[str, ...] | None = None
    group_nested: bool = False
    max_children: int = 50


class Store(abc.ABC):
    """Where runs, metrics, datasets, models and deployments live: what a backend implements.

    The module docstring has the contract. A backend implements the 34 abstract members below
    (33 methods and the ``artifacts`` property), in six groups:

    * **writes and processes** (5): ``write_batch``, ``sync``, ``heartbeat``, ``retire``,
      ``artifacts``;
    * **experiments and soft deletion** (5): ``create_experiment``, ``list_experiments``,
      ``rename_experiment``, ``set_experiment_deleted``, ``set_run_deleted``;
    * **reads** (5): ``get_run``, ``search_runs``, ``get_metric_history``, ``get_dataset``,
      ``sql``;
    * **registry** (11, synchronous): ``create_model_version``, ``get_model_version``,
      ``get_model_alias``, ``list_models``, ``list_model_versions``, ``update_model``,
      ``delete_model_version``, ``set_model_alias``, ``delete_model_alias``,
      ``rollback_model_alias``, ``get_alias_history``;
    * **deployments** (4, synchronous): ``create_deployment``, ``set_deployment_status``,
      ``list_deployments``, ``get_deployment``;
    * **feature definitions** (4, synchronous; at the end of the class):
      ``create_feature_definition``, ``list_feature_definitions``, ``record_feature_lineage``,
      ``list_feature_lineage``.

    The concrete methods (``get_experiment``, ``doctor``, ``close``, ...) are derived from those
    or optional. Arguments and results are the public entities of
    :mod:`workbench.entities`, :class:`~workbench.store.batch.Batch` and :class:`RunSearch`; a
    backend imports nothing else from workbench but :mod:`workbench.exceptions` and
    :mod:`workbench.store.artifacts`. docs/store.md ("Writing a store backend") is the guide;
    :class:`workbench.testing.StoreContract` and
    :class:`workbench.testing.RegistryContract` are the conformance suites.
    """

    #: Human-readable location (a path or ``:memory:``).
    location: str
    #: Whether the store was opened without write access: reads work, changes raise
    #: :class:`~workbench.exceptions.ReadOnlyStoreError`.
    read_only: bool = False

    # -- writes ----------------------------------------------------------------------------
    @abc.abstractmethod
    def write_batch(self, batch: Batch) -> None:
        """Accept a batch durably; it becomes visible to reads after the next ``sync``."""

    @abc.abstractmethod
    def sync(self, *, block: bool = True) -> bool:
        """Make every durable batch visible. With ``block=False``, return False if busy."""

    @abc.abstractmethod
    def heartbeat(self, process: ProcessInfo) -> None:
        """Record that ``process`` is alive and may own running runs."""

    @abc.abstractmethod
    def retire(self, process: ProcessInfo) -> None:
        """Record that ``process`` ended cleanly (its heartbeat stops on purpose)."""

    @property
    @abc.abstractmethod
    def artifacts(self) -> ArtifactStore:
        """The content-addressed file store beside the database."""

    # -- experiments and soft deletion ------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        """Create an experiment; a live experiment with that name is a ConflictError."""

    @abc.abstractmethod
    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        """All experiments, oldest first."""

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> Experiment:
        """Give an experiment a new (unused) name."""

    @abc.abstractmethod
    def set_experiment_deleted(self, experiment_id: str, deleted: bool) -> None:
        """Soft-delete or restore an experiment."""

    @abc.abstractmethod
    def set_run_deleted(self, run_id: str, deleted: bool) -> None:
        """Soft-delete or restore a run."""

    # -- reads -----------------------------------------------------------------------------
    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """One run as an immutable snapshot; RunNotFoundError if unknown."""

    @abc.abstractmethod
    def search_runs(self, search: RunSearch) -> pd.DataFrame:
        """Runs matching ``search`` as a wide DataFrame (params.*, metrics.*, tags.* columns).

        The frame's ``attrs["total"]`` is the number of matching runs (of trees, with
        ``group_nested``) before ``offset`` and ``max_results``; see :class:`RunSearch`.
        """

    @abc.abstractmethod
    def get_metric_history(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Every point of the given runs' metrics: run_id, key, step, value, timestamp."""

    @abc.abstractmethod
    def get_dataset(self, digest: str) -> Dataset:
        """A dataset by content digest."""

    @abc.abstractmethod
    def sql(self, query: str, parameters: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one read-only SELECT over the documented views."""

    # -- registry ----------------------------------------------------------------------------
    # Synchronous, unlike run logging: each call is durable and visible when it returns.
    @abc.abstractmethod
    def create_model_version(self, new: NewModelVersion) -> ModelVersion:
        """Register the next version of ``new.name``, creating the model on first use.

        The version number is assigned atomically (unique and gap-free per name across
        processes). RunNotFoundError if ``new.run_id`` is unknown.
        """

    @abc.abstractmethod
    def get_model_version(self, name: str, version: int | None = None) -> ModelVersion:
        """One live version (the latest when ``version`` is None); ModelNotFoundError if none."""

    @abc.abstractmethod
    def get_model_alias(self, name: str, alias: str) -> int:
        """The version ``alias`` points at; ModelNotFoundError if the alias is not set."""

    @abc.abstractmethod
    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""

    @abc.abstractmethod
    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every live version of a model, oldest first."""

    @abc.abstractmethod
    def update_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Set a model's description and/or merge ``tags`` into its tags."""

    @abc.abstractmethod
    def delete_model_version(self, name: str, version: int) -> None:
        """Hide a version for good (its number is not reused); ConflictError while aliased."""

    @abc.abstractmethod
    def set_model_alias(
        self, name: str, alias: str, version: int, *, actor: str | None, reason: str | None
    ) -> AliasEvent | None:
        """Point ``alias`` at ``version`` and append to the history (None if already there)."""

    @abc.abstractmethod
    def delete_model_alias(
        self, name: str, alias: str, *, actor: str | None, reason: str | None
    ) -> AliasEvent:
        """Remove ``alias``, recording it in the history."""

    @abc.abstractmethod
    def rollback_model_alias(
        self, name: str, alias: str, *, actor: str | None, reason: str | None
    ) -> AliasEvent:
        """Move ``alias`` back to its previous target (from the history); ConflictError if none."""

    @abc.abstractmethod
    def get_alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The append-only alias history of a model (one alias or all), oldest first."""

    # -- deployments ---------------------------------------------------------------------------
    # Model servers (workbench.serving). Synchronous like the registry. A ``running`` deployment
    # whose process is gone is returned (and kept) as ``dead``.
    @abc.abstractmethod
    def create_deployment(self, record: DeploymentRecord) -> None:
        """Record a server that started; ConflictError if its id is taken."""

    @abc.abstractmethod
    def set_deployment_status(self, deployment_id: str, status: str) -> bool:
        """Mark a running deployment ``stopped`` or ``dead``; False if it was not running."""

    @abc.abstractmethod
    def list_deployments(self) -> list[DeploymentRecord]:
        """Every deployment, newest first, with dead processes reported as ``dead``."""

    @abc.abstractmethod
    def get_deployment(self, deployment_id: str) -> DeploymentRecord:
        """One deployment; NotFoundError if unknown."""

    # -- derived conveniences (implemented once, on the primitives) ---------------------------
    def get_experiment(self, name_or_id: str, *, include_deleted: bool = False) -> Experiment:
        """An experiment by name (live ones first) or by id."""
        from workbench.exceptions import ExperimentNotFoundError

        experiments = self.list_experiments(include_deleted=include_deleted)
        for exp in sorted(experiments, key=lambda e: e.deleted):
            if name_or_id in (exp.name, exp.experiment_id):
                return exp
        names = sorted(e.name for e in experiments if not e.deleted)
        raise ExperimentNotFoundError(
            f"No experiment named {name_or_id!r}. Existing experiments: {names}. "
            "Runs create their experiment on first use: start_run(experiment=...)."
        )

    def count_runs(self, search: RunSearch) -> int:
        """How many runs (trees, with ``group_nested``) match, whatever the page asked."""
        counted = self.search_runs(replace(search, max_results=0, offset=0, columns=()))
        return int(counted.attrs["total"])

    def doctor(self) -> StoreHealth:
        """A health check: journals waiting, damage found (stores without journals: none)."""
        return StoreHealth(self.location, self.read_only, 0, 0, ())

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing open
        """Release resources; the store may not be used afterwards."""

    def for_child_process(self) -> tuple[str, dict[str, str]]:
        """How another process opens this store: the location to give it (never holding a
        password) and what its environment needs beside this process's (a team store's
        password, as ``PGPASSWORD`` where libpq reads it: a command line is visible to every
        user of the machine, an environment only to its owner). Model servers, sweep
        workers and notebook kernels are opened this way."""
        return self.location, {}

    # == feature definitions (schema 6) ========================================================
    # The feature store's catalog (workbench.features): versioned definitions of entities,
    # feature views and feature services, and which run was given which training set.
    # Synchronous like the registry: durable and visible when a call returns.
    @abc.abstractmethod
    def create_feature_definition(self, new: NewFeatureDefinition) -> FeatureDefinitionRecord:
        """Store the next version of ``new.kind``/``new.name``; the latest one if its fingerprint
        is ``new.fingerprint`` already. ConflictError if the latest version is no longer
        ``new.parent_version`` (another process registered one meanwhile)."""

    @abc.abstractmethod
    def list_feature_definitions(
        self, kind: str | None = None, name: str | None = None, *, history: bool = False
    ) -> list[FeatureDefinitionRecord]:
        """The latest version of each definition (every version with ``history``), by kind,
        name and version; only those of ``kind`` and/or ``name`` when given."""

    @abc.abstractmethod
    def record_feature_lineage(self, record: FeatureLineageRecord) -> None:
        """Record that a run was given a training set (once per run and dataset digest)."""

    @abc.abstractmethod
    def list_feature_lineage(
        self, *, run_id: str | None = None, registered: bool = False
    ) -> list[FeatureLineageRecord]:
        """Training sets given to runs (of ``run_id`` only, when given), oldest first. With
        ``registered``, only those of runs a live model version was registered from, one record
        per such model version (``model`` and ``model_version`` set)."""

    def get_feature_definition(
        self, kind: str, name: str, version: int | None = None
    ) -> FeatureDefinitionRecord:
        """One version of a definition (the latest when ``version`` is None); NotFoundError
        naming the versions or definitions there are."""
        from workbench.exceptions import NotFoundError

        versions = self.list_feature_definitions(kind, name, history=True)
        if not versions:
            known = sorted(r.name for r in self.list_feature_definitions(kind))
            label = kind.replace("_", " ")
            raise NotFoundError(
                f"No {label} named {name!r} is registered. Registered: {known}. Register it "
                "with workbench.features.register_features(...)."
            )
        if version is None:
            return versions[-1]
        for record in versions:
            if record.version == version:
                return record
        raise NotFoundError(
            f"The {kind.replace('_', ' ')} {name!r} has no version {version}; its versions: "
            f"{[r.version for r in versions]}."
        )


# == feature definitions (schema 6) ============================================================
@dataclass(frozen=True)
class NewFeatureDefinition:
    """A definition to store as the next version of its kind and name.

    ``spec`` is the definition as canonical JSON and ``fingerprint`` its digest; ``parent_version``
    is the latest version the caller checked the new one against (0: it saw none).
    """

    kind: str  # "entity", "feature_view" or "feature_service"
    name: str
    spec: str
    fingerprint: str
    parent_version: int
    description: str | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class FeatureDefinitionRecord:
    """One stored version of a feature definition."""

    kind: str
    name: str
    version: int
    fingerprint: str
    spec: str
    description: str | None
    created_by: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class FeatureLineageRecord:
    """A training set a run was given: its dataset digest, the feature service version (None for
    a plain list of features) and each feature with its view's version, as JSON."""

    run_id: str
    digest: str
    service: str | None
    service_version: int | None
    features: str
    n_rows: int | None = None
    created_at: dt.datetime | None = None
    #: Set by ``list_feature_lineage(registered=True)``: the model version trained by the run.
    model: str | None = None
    model_version: int | None = None
