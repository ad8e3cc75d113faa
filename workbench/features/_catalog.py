"""The versioned definitions of one store: registering, loading, and the guard on models.

Definitions are stored through the :class:`~workbench.store.Store` methods of schema 6 (both
backends run the same SQL). Registering:

* entities first (those a view uses are registered with it), then views, then services;
* a definition whose spec did not change keeps its version; a changed one is the next version;
* a view that would drop or retype a feature, or change the join keys, that a *registered model*
  was trained with is refused, naming the model (the run's training-set lineage says which
  features it was given: :meth:`Catalog.breaking_changes`).

A :class:`~workbench.features.DataFrameSource` keeps its rows in this process only: the catalog
remembers the rows of each view registered here, so loading the view by name here gets them back.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench._validation import fail
from workbench._who import who
from workbench.features._definitions import (
    Entity,
    FeatureService,
    FeatureView,
    canonical,
    fingerprint,
)
from workbench.features._errors import BreakingChangeError, FeatureNotFoundError
from workbench.features._sources import DataFrameSource
from workbench.store.base import FeatureDefinitionRecord, NewFeatureDefinition

if TYPE_CHECKING:
    import pandas as pd

    from workbench.store.base import Store
    from workbench.tracking.client import TrackingClient

__all__ = ["Catalog", "RegisteredDefinition", "catalog_for"]

KINDS = {Entity: "entity", FeatureView: "feature_view", FeatureService: "feature_service"}
_LABELS = {"entity": "entity", "feature_view": "feature view", "feature_service": "feature service"}

# The rows of DataFrame sources registered in this process: view name -> (fingerprint, data).
_frames: dict[str, tuple[str, Any]] = {}
_frames_lock = threading.Lock()


@dataclass(frozen=True)
class RegisteredDefinition:
    """One stored version of a definition: what it is, who registered it and when."""

    kind: str
    name: str
    version: int
    fingerprint: str
    definition: Entity | FeatureView | FeatureService
    description: str | None
    created_by: str | None
    created_at: dt.datetime
    #: Whether this registration stored a new version (False: the definition was unchanged).
    created: bool = False

    @property
    def spec(self) -> dict[str, Any]:
        """The definition as stored (JSON-ready)."""
        return self.definition.to_spec()

    def __repr__(self) -> str:
        state = "new" if self.created else "unchanged"
        return f"<{_LABELS[self.kind]} {self.name!r} version {self.version} ({state})>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.features._display import registered_bundle

        return registered_bundle(self)


class Catalog:
    """The feature definitions of one workbench store (see the module)."""

    def __init__(self, client: TrackingClient) -> None:
        self.client = client
        self.store: Store = client.store

    # -- registering ---------------------------------------------------------------------------
    def register(self, definitions: Sequence[Any], caller: str) -> list[RegisteredDefinition]:
        for item in definitions:
            if type(item) not in KINDS:
                raise fail(
                    "definitions",
                    caller,
                    "Entity, FeatureView or FeatureService objects",
                    item,
                    "Make them with workbench.features.Entity(...), FeatureView(...), "
                    "FeatureService(...).",
                )
        entities: dict[str, Entity] = {}
        for item in definitions:
            for entity in [item] if isinstance(item, Entity) else getattr(item, "entities", ()):
                entities.setdefault(entity.name, entity)
        done: dict[tuple[str, str], RegisteredDefinition] = {}
        for entity in entities.values():
            done["entity", entity.name] = self._store(entity)
        views = [d for d in definitions if isinstance(d, FeatureView)]
        for view in views:
            done["feature_view", view.name] = self._store(view)
        for service in (d for d in definitions if isinstance(d, FeatureService)):
            self._check_service(service)
            done["feature_service", service.name] = self._store(service)
        return [done[KINDS[type(d)], d.name] for d in definitions]

    def _store(self, definition: Entity | FeatureView | FeatureService) -> RegisteredDefinition:
        kind = KINDS[type(definition)]
        spec = definition.to_spec()
        digest = fingerprint(spec)
        versions = self.store.list_feature_definitions(kind, definition.name)
        latest = versions[-1] if versions else None
        if latest is not None and latest.fingerprint == digest:
            self._remember(definition, digest)
            return self._registered(latest, definition, created=False)
        if isinstance(definition, FeatureView) and latest is not None:
            self._refuse_breaking(definition, latest.version + 1)
        record = self.store.create_feature_definition(
            NewFeatureDefinition(
                kind=kind,
                name=definition.name,
                spec=canonical(spec),
                fingerprint=digest,
                parent_version=0 if latest is None else latest.version,
                description=definition.description,
                created_by=who(),
            )
        )
        self._remember(definition, digest)
        created = latest is None or record.version > latest.version
        return self._registered(record, definition, created=created)

    @staticmethod
    def _remember(definition: Any, digest: str) -> None:
        if isinstance(definition, FeatureView) and isinstance(definition.source, DataFrameSource):
            with _frames_lock:
                _frames[definition.name] = (digest, definition.source.data)

    def _check_service(self, service: FeatureService) -> None:
        for projection in service.projections:
            view = self.view(projection.view).definition
            assert isinstance(view, FeatureView)
            for feature in projection.features:
                if feature not in view.feature_names:
                    raise FeatureNotFoundError(
                        f"Feature service {service.name!r} lists {projection.view}:{feature}, "
                        f"but feature view {projection.view!r} has no feature {feature!r}. "
                        f"Its features: {list(view.feature_names)}."
                    )

    # -- the guard on registered models ----------------------------------------------------------
    def breaking_changes(self, view: FeatureView) -> list[str]:
        """How registering ``view`` would break registered models: one line per model version."""
        problems = []
        for record in self.store.list_feature_lineage(registered=True):
            payload = json.loads(record.features)
            used = [f for f in payload.get("features", ()) if f["view"] == view.name]
            if not used:
                continue
            reasons = []
            keys = payload.get("views", {}).get(view.name, {}).get("join_keys")
            if keys is not None and list(keys) != list(view.join_keys):
                reasons.append(f"changes the join keys from {keys} to {list(view.join_keys)}")
            for item in used:
                name = item["feature"]
                if name not in view.feature_names:
                    reasons.append(f"removes feature {name!r}")
                elif view.feature(name).dtype != item["dtype"]:
                    reasons.append(
                        f"changes feature {name!r} from {item['dtype']} to "
                        f"{view.feature(name).dtype}"
                    )
            if reasons:
                given = (
                    f"feature service {record.service!r} version {record.service_version}"
                    if record.service
                    else "a list of features"
                )
                problems.append(
                    f"model {record.model!r} version {record.model_version} (trained by run "
                    f"{record.run_id} on {given}): it {', '.join(reasons)}"
                )
        return problems

    def _refuse_breaking(self, view: FeatureView, version: int) -> None:
        problems = self.breaking_changes(view)
        if problems:
            models = "\n  ".join(problems)
            raise BreakingChangeError(
                f"Feature view {view.name!r} cannot be registered as version {version}; it "
                f"would break registered models:\n  {models}\nKeep the features and join keys "
                "these models use (add new features beside them), register the changed view "
                "under a new name, or delete those model versions first "
                "(workbench.delete_model_version(name, version))."
            )

    # -- loading ---------------------------------------------------------------------------------
    def _record(self, kind: str, name: str, version: int | None) -> FeatureDefinitionRecord:
        if not isinstance(name, str) or not name:
            raise fail("name", f"get_{kind}", f"the name of a registered {_LABELS[kind]}", name)
        versions = self.store.list_feature_definitions(kind, name, history=version is not None)
        if not versions:
            known = [r.name for r in self.store.list_feature_definitions(kind)]
            close = [n for n in known if n.lower() == name.lower()]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise FeatureNotFoundError(
                f"No {_LABELS[kind]} named {name!r} is registered.{hint} Registered: "
                f"{known[:20]}. Register it with workbench.features.register_features(...)."
            )
        if version is None:
            return versions[-1]
        for record in versions:
            if record.version == version:
                return record
        raise FeatureNotFoundError(
            f"The {_LABELS[kind]} {name!r} has no version {version}; its versions: "
            f"{[r.version for r in versions]}."
        )

    def _load(self, record: FeatureDefinitionRecord) -> RegisteredDefinition:
        spec = json.loads(record.spec)
        definition: Entity | FeatureView | FeatureService
        if record.kind == "entity":
            definition = Entity.from_spec(spec)
        elif record.kind == "feature_view":
            data = None
            if spec["source"]["type"] == "dataframe":
                with _frames_lock:
                    remembered = _frames.get(record.name)
                if remembered is not None and remembered[0] == record.fingerprint:
                    data = remembered[1]
            definition = FeatureView.from_spec(spec, data=data)
        else:
            definition = FeatureService.from_spec(spec)
        return self._registered(record, definition, created=False)

    @staticmethod
    def _registered(
        record: FeatureDefinitionRecord, definition: Any, *, created: bool
    ) -> RegisteredDefinition:
        return RegisteredDefinition(
            kind=record.kind,
            name=record.name,
            version=record.version,
            fingerprint=record.fingerprint,
            definition=definition,
            description=record.description,
            created_by=record.created_by,
            created_at=record.created_at,
            created=created,
        )

    def get(self, kind: str, name: str, version: int | None = None) -> RegisteredDefinition:
        return self._load(self._record(kind, name, version))

    def view(self, name: str, version: int | None = None) -> RegisteredDefinition:
        return self.get("feature_view", name, version)

    def latest_views(self, names: Sequence[str]) -> list[RegisteredDefinition]:
        """The latest versions of views (one read of the store for all of them)."""
        latest = {r.name: r for r in self.store.list_feature_definitions("feature_view")}
        found = []
        for name in names:
            record = latest.get(name)
            found.append(self._load(record) if record is not None else self.view(name))
        return found

    def service(self, name: str, version: int | None = None) -> RegisteredDefinition:
        return self.get("feature_service", name, version)

    def history(self, kind: str, name: str) -> list[RegisteredDefinition]:
        self._record(kind, name, None)  # the error naming what exists
        return [
            self._load(r) for r in self.store.list_feature_definitions(kind, name, history=True)
        ]

    def table(self, kind: str | None, *, history: bool) -> pd.DataFrame:
        import pandas as pd

        records = self.store.list_feature_definitions(kind, history=history)
        columns = ["kind", "name", "version", "description", "created_by", "created_at"]
        rows = []
        for record in records:
            spec = json.loads(record.spec)
            rows.append(
                {
                    **{c: getattr(record, c) for c in columns},
                    "summary": _summary(record.kind, spec),
                    "fingerprint": record.fingerprint,
                }
            )
        return pd.DataFrame(rows, columns=[*columns, "summary", "fingerprint"])


def _summary(kind: str, spec: Mapping[str, Any]) -> str:
    if kind == "entity":
        return "join keys " + ", ".join(k for k, _ in spec["join_keys"])
    if kind == "feature_view":
        features = ", ".join(f["name"] for f in spec["features"])
        return f"{len(spec['features'])} features ({features}) from {spec['source']['type']}"
    refs = [f"{p['view']}:{f}" for p in spec["features"] for f in p["features"]]
    return f"{len(refs)} features: {', '.join(refs)}"


_catalogs: dict[int, Catalog] = {}
_catalogs_lock = threading.Lock()


def catalog_for(client: TrackingClient) -> Catalog:
    """The catalog of ``client``'s store (one per client)."""
    with _catalogs_lock:
        catalog = _catalogs.get(id(client))
        if catalog is None or catalog.client is not client:
            catalog = _catalogs[id(client)] = Catalog(client)
        return catalog
