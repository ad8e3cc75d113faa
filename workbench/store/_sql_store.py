"""What the local and the team store share: every read and change is SQL run on a connection.

Both stores run the same SQL modules (``_ops.READS``, ``_registry_sql``, ``_deployments_sql``,
and the experiment changes below); they differ in *where* a connection comes from. A subclass
provides two hooks:

* ``_read(op, *args)``: run the read ``_ops.READS[op]`` (the local store may ask the process
  hosting the file; the team store asks the server);
* ``_change(change, *args, lock=None)``: run ``change(con, *args)`` as one transaction that
  sees this process's own logged data first; ``lock`` names what must not change concurrently
  on another machine (the team store takes an advisory lock on it; the local store's file lock
  already serializes every change).
"""

from __future__ import annotations

import abc
import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench._who import who
from workbench.exceptions import ConflictError, ExperimentNotFoundError
from workbench.store import _deployments_sql, _ops, _read, _registry_sql
from workbench.store._spool import Spool
from workbench.store.base import (
    DamageRecord,
    FeatureDefinitionRecord,
    FeatureLineageRecord,
    NewFeatureDefinition,
    RunSearch,
    Store,
    StoreHealth,
)

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

#: ``lock`` of ``_change``: (kind, name); the team store locks ``hashtextextended(name, kind)``.
#: The shipper creates experiments under the same lock as ``create_experiment``.
EXPERIMENT_LOCK, MODEL_LOCK = 0, 1
#: Feature definitions (schema 6) lock ``kind:name``.
FEATURE_LOCK = 2


class SqlStore(Store):
    """A :class:`Store` whose reads and changes are the shared SQL modules (see the module)."""

    spool: Spool  # this machine's journals of the store

    @abc.abstractmethod
    def _read(self, op: str, *args: Any) -> Any:
        """Run the read ``_ops.READS[op](con, *args)`` and return its result."""

    @abc.abstractmethod
    def _change(
        self, change: Callable[..., Any], *args: Any, lock: tuple[int, str] | None = None
    ) -> Any:
        """Run ``change(con, *args)`` in one transaction, after this process's own journals."""

    # -- reads ---------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        return self._read("get_run", run_id)  # type: ignore[no-any-return]

    def search_runs(self, search: RunSearch) -> pd.DataFrame:
        return self._read("search_runs", search)  # type: ignore[no-any-return]

    def get_metric_history(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> pd.DataFrame:
        keys = None if keys is None else list(keys)
        return self._read("get_metric_history", list(run_ids), keys)  # type: ignore[no-any-return]

    def get_dataset(self, digest: str) -> Dataset:
        return self._read("get_dataset", digest)  # type: ignore[no-any-return]

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        return self._read("list_experiments", include_deleted)  # type: ignore[no-any-return]

    def doctor(self) -> StoreHealth:
        """What a health check of the store finds: damaged journal bytes, pending journals."""
        damage = self.sql(
            "SELECT journal, start_offset, end_offset, reason, copy, found_at "
            "FROM wb_spool_damage ORDER BY found_at"
        )
        journals = self.spool.journals()
        return StoreHealth(
            location=self.location,
            read_only=self.read_only,
            journals=len(journals),
            journal_bytes=sum(self.spool.pending_bytes(p, 0) for p in journals),
            damage=tuple(DamageRecord(*row) for row in damage.itertuples(index=False)),
        )

    # -- experiments and runs ------------------------------------------------------------------
    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        return self._change(  # type: ignore[no-any-return]
            create_experiment, name, description, lock=(EXPERIMENT_LOCK, name)
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> Experiment:
        return self._change(  # type: ignore[no-any-return]
            rename_experiment, experiment_id, new_name, lock=(EXPERIMENT_LOCK, new_name)
        )

    def set_experiment_deleted(self, experiment_id: str, deleted: bool) -> None:
        self._change(set_experiment_deleted, experiment_id, deleted)

    def set_run_deleted(self, run_id: str, deleted: bool) -> None:
        self._change(set_run_deleted, run_id, deleted)

    # -- registry ------------------------------------------------------------------------------
    # One transaction per change, under the model's lock: version numbers are assigned
    # atomically, whichever machine registers.
    def create_model_version(self, new: NewModelVersion) -> ModelVersion:
        return self._change(  # type: ignore[no-any-return]
            _registry_sql.create_version, new, _ops.utcnow(), lock=(MODEL_LOCK, new.name)
        )

    def get_model_version(self, name: str, version: int | None = None) -> ModelVersion:
        return self._read("get_model_version", name, version)  # type: ignore[no-any-return]

    def get_model_alias(self, name: str, alias: str) -> int:
        return self._read("get_model_alias", name, alias)  # type: ignore[no-any-return]

    def list_models(self) -> list[RegisteredModel]:
        return self._read("list_models")  # type: ignore[no-any-return]

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        return self._read("list_model_versions", name)  # type: ignore[no-any-return]

    def update_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        return self._change(  # type: ignore[no-any-return]
            _registry_sql.update_model, name, description, tags, lock=(MODEL_LOCK, name)
        )

    def delete_model_version(self, name: str, version: int) -> None:
        self._change(
            _registry_sql.delete_version, name, version, _ops.utcnow(), lock=(MODEL_LOCK, name)
        )

    def set_model_alias(
        self, name: str, alias: str, version: int, *, actor: str | None, reason: str | None
    ) -> AliasEvent | None:
        return self._change(  # type: ignore[no-any-return]
            _registry_sql.set_alias,
            *(name, alias, version, actor, reason, _ops.utcnow()),
            lock=(MODEL_LOCK, name),
        )

    def delete_model_alias(
        self, name: str, alias: str, *, actor: str | None, reason: str | None
    ) -> AliasEvent:
        return self._change(  # type: ignore[no-any-return]
            _registry_sql.delete_alias,
            *(name, alias, actor, reason, _ops.utcnow()),
            lock=(MODEL_LOCK, name),
        )

    def rollback_model_alias(
        self, name: str, alias: str, *, actor: str | None, reason: str | None
    ) -> AliasEvent:
        return self._change(  # type: ignore[no-any-return]
            _registry_sql.rollback_alias,
            *(name, alias, actor, reason, _ops.utcnow()),
            lock=(MODEL_LOCK, name),
        )

    def get_alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        return self._read("get_alias_history", name, alias)  # type: ignore[no-any-return]

    # -- deployments -----------------------------------------------------------------------------
    def create_deployment(self, record: DeploymentRecord) -> None:
        self._change(_deployments_sql.insert_deployment, record)

    def set_deployment_status(self, deployment_id: str, status: str) -> bool:
        return self._change(  # type: ignore[no-any-return]
            _deployments_sql.set_deployment_status, deployment_id, status, _ops.utcnow()
        )

    def list_deployments(self) -> list[DeploymentRecord]:
        return self._read("list_deployments", self.read_only)  # type: ignore[no-any-return]

    def get_deployment(self, deployment_id: str) -> DeploymentRecord:
        return self._read("get_deployment", deployment_id, self.read_only)  # type: ignore[no-any-return]

    # == feature definitions (schema 6) ========================================================
    # Changes run as one transaction under the definition's lock (version numbers gap-free per
    # kind and name on either backend); reads are plain SELECTs through ``sql``, which both
    # backends run (the local store at the process hosting the file), so no read op is added.
    def create_feature_definition(self, new: NewFeatureDefinition) -> FeatureDefinitionRecord:
        return self._change(  # type: ignore[no-any-return]
            create_feature_definition,
            new,
            _ops.utcnow(),
            lock=(FEATURE_LOCK, f"{new.kind}:{new.name}"),
        )

    def list_feature_definitions(
        self, kind: str | None = None, name: str | None = None, *, history: bool = False
    ) -> list[FeatureDefinitionRecord]:
        where, parameters = [], {}
        if kind is not None:
            where.append("d.kind = $kind")
            parameters["kind"] = kind
        if name is not None:
            where.append("d.name = $name")
            parameters["name"] = name
        if not history:
            where.append(
                "d.version = (SELECT max(x.version) FROM wb_feature_definitions x "
                "WHERE x.kind = d.kind AND x.name = d.name)"
            )
        frame = self.sql(
            f"SELECT {_DEFINITION_COLUMNS} FROM wb_feature_definitions d "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} "
            "ORDER BY d.kind, d.name, d.version",
            parameters,
        )
        return [_definition(row) for row in frame.itertuples(index=False)]

    def record_feature_lineage(self, record: FeatureLineageRecord) -> None:
        self._change(record_feature_lineage, record, _ops.utcnow())

    def list_feature_lineage(
        self, *, run_id: str | None = None, registered: bool = False
    ) -> list[FeatureLineageRecord]:
        where, parameters = [], {}
        if run_id is not None:
            where.append("l.run_id = $run")
            parameters["run"] = run_id
        if registered:
            where.append("m.name IS NOT NULL")
        frame = self.sql(
            "SELECT l.run_id, l.digest, l.service, l.service_version, l.features, l.n_rows, "
            "l.created_at, m.name AS model, m.version AS model_version "
            "FROM wb_feature_lineage l "
            f"{'JOIN' if registered else 'LEFT JOIN'} wb_model_versions m "
            "ON m.run_id = l.run_id AND m.deleted_at IS NULL "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} "
            "ORDER BY l.created_at, l.run_id, l.digest, m.name, m.version",
            parameters,
        )
        if not registered:  # one record per training set, whatever models its run gave
            frame = frame.drop_duplicates(["run_id", "digest"])
        return [
            FeatureLineageRecord(
                run_id=str(row.run_id),
                digest=str(row.digest),
                service=_text(row.service),
                service_version=_int(row.service_version),
                features=str(row.features),
                n_rows=_int(row.n_rows),
                created_at=_utc(row.created_at),
                model=_text(row.model) if registered else None,
                model_version=_int(row.model_version) if registered else None,
            )
            for row in frame.itertuples(index=False)
        ]


# -- the experiment changes, as functions of a connection --------------------------------------
def create_experiment(con: Any, name: str, description: str | None) -> Experiment:
    if _read.experiment_rows(con, name=name):
        raise ConflictError(
            f"An experiment named {name!r} already exists. Log to it with "
            f"start_run(experiment={name!r}), or choose another name."
        )
    con.execute(
        "INSERT INTO wb_experiments VALUES ($id, $name, $now, NULL, $d, $by)",
        {"id": uuid.uuid4().hex, "name": name, "now": _ops.utcnow(), "d": description, "by": who()},
    )
    return _read.experiment_rows(con, name=name)[0]


def rename_experiment(con: Any, experiment_id: str, new_name: str) -> Experiment:
    _require_experiment(con, experiment_id)
    if _read.experiment_rows(con, name=new_name):
        raise ConflictError(
            f"An experiment named {new_name!r} already exists; "
            "choose another name or delete that one first."
        )
    con.execute(
        "UPDATE wb_experiments SET name = $n WHERE experiment_id = $id",
        {"n": new_name, "id": experiment_id},
    )
    return _read.experiment_rows(con, experiment_id=experiment_id, include_deleted=True)[0]


def set_experiment_deleted(con: Any, experiment_id: str, deleted: bool) -> None:
    exp = _require_experiment(con, experiment_id)
    if not deleted and _read.experiment_rows(con, name=exp.name):
        raise ConflictError(
            f"Cannot restore experiment {exp.name!r}: a live experiment has that name "
            "now. Rename one of them first with rename_experiment()."
        )
    con.execute(
        "UPDATE wb_experiments SET deleted_at = $t WHERE experiment_id = $id",
        {"t": _ops.utcnow() if deleted else None, "id": experiment_id},
    )


def set_run_deleted(con: Any, run_id: str, deleted: bool) -> None:
    found = con.execute(
        "UPDATE wb_runs SET deleted_at = $t WHERE run_id = $id RETURNING run_id",
        {"t": _ops.utcnow() if deleted else None, "id": run_id},
    ).fetchall()
    if not found:
        raise _ops.run_not_found(run_id)


def _require_experiment(con: Any, experiment_id: str) -> Experiment:
    rows = _read.experiment_rows(con, experiment_id=experiment_id, include_deleted=True)
    if not rows:
        raise ExperimentNotFoundError(f"No experiment with id {experiment_id!r}.")
    return rows[0]


# == feature definitions (schema 6), as functions of a connection ===============================
_DEFINITION_COLUMNS = (
    "d.kind, d.name, d.version, d.fingerprint, d.spec, d.description, d.created_by, d.created_at"
)


def create_feature_definition(
    con: Any, new: NewFeatureDefinition, now: dt.datetime
) -> FeatureDefinitionRecord:
    key = {"k": new.kind, "n": new.name}
    latest = con.execute(
        f"SELECT {_DEFINITION_COLUMNS} FROM wb_feature_definitions d "
        "WHERE d.kind = $k AND d.name = $n ORDER BY d.version DESC LIMIT 1",
        key,
    ).fetchall()
    current = _definition(latest[0]) if latest else None
    if current is not None and current.fingerprint == new.fingerprint:
        return current
    version = current.version if current is not None else 0
    if version != new.parent_version:
        raise ConflictError(
            f"The {new.kind.replace('_', ' ')} {new.name!r} changed while it was being "
            f"registered: version {version} is the latest now, not {new.parent_version}. "
            "Register it again (the check against the models that use it runs again)."
        )
    con.execute(
        "INSERT INTO wb_feature_definitions (kind, name, version, fingerprint, spec, "
        "description, created_by, created_at) VALUES ($k, $n, $v, $f, $s, $d, $by, $t)",
        {
            **key,
            "v": version + 1,
            "f": new.fingerprint,
            "s": new.spec,
            "d": new.description,
            "by": new.created_by,
            "t": now,
        },
    )
    return FeatureDefinitionRecord(
        new.kind,
        new.name,
        version + 1,
        new.fingerprint,
        new.spec,
        new.description,
        new.created_by,
        now.replace(tzinfo=dt.UTC),
    )


def record_feature_lineage(con: Any, record: FeatureLineageRecord, now: dt.datetime) -> None:
    con.execute(
        "INSERT INTO wb_feature_lineage (run_id, digest, service, service_version, features, "
        "n_rows, created_at) VALUES ($r, $d, $s, $v, $f, $n, $t) "
        "ON CONFLICT (run_id, digest) DO NOTHING",
        {
            "r": record.run_id,
            "d": record.digest,
            "s": record.service,
            "v": record.service_version,
            "f": record.features,
            "n": record.n_rows,
            "t": now,
        },
    )


def _definition(row: Any) -> FeatureDefinitionRecord:
    kind, name, version, fingerprint, spec, description, created_by, created_at = row
    return FeatureDefinitionRecord(
        str(kind),
        str(name),
        int(version),
        str(fingerprint),
        str(spec),
        _text(description),
        _text(created_by),
        _utc(created_at),  # type: ignore[arg-type]
    )


def _missing(value: Any) -> bool:
    """None, or the NaN / NA / NaT a DataFrame holds for a NULL."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA
        return True


def _text(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _utc(value: Any) -> dt.datetime | None:
    """A stored (naive UTC) time, from a row or a DataFrame, as an aware datetime."""
    if _missing(value):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
