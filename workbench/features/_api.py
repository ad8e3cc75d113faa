"""The feature store's functions: each takes ``client=`` like every workbench function.

``client=None`` means the configured store's client (``workbench.connect()``). The CLI, the
dashboard and the model server are meant to be thin layers over these functions.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench._validation import fail
from workbench.features._catalog import RegisteredDefinition, catalog_for
from workbench.features._definitions import Entity, FeatureService, FeatureView, fingerprint
from workbench.features._errors import FeatureNotFoundError
from workbench.features._selection import Selection, output_columns, select
from workbench.tracking.client import TrackingClient, resolve_client

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from workbench.features._catalog import Catalog
    from workbench.features._materialize import MaterializationResult
    from workbench.features._online import OnlineStore
    from workbench.features._quality import ValidationReport
    from workbench.tracking.run import ActiveRun

__all__ = [
    "get_entity",
    "get_feature_history",
    "get_feature_lineage",
    "get_feature_service",
    "get_feature_view",
    "get_historical_features",
    "get_online_features",
    "get_online_store",
    "list_feature_definitions",
    "materialize",
    "materialize_incremental",
    "register_features",
    "validate_feature_view",
]

_KINDS = ("entity", "feature_view", "feature_service")


def _catalog(client: TrackingClient | None, caller: str) -> Catalog:
    return catalog_for(resolve_client(client, caller))


# -- definitions ----------------------------------------------------------------------------------
def register_features(
    *definitions: Entity | FeatureView | FeatureService, client: TrackingClient | None = None
) -> list[RegisteredDefinition]:
    """Store definitions in the workbench store, each as a new version if it changed.

    Entities are registered before views (a view's entities are registered with it), views
    before services. A definition equal to its latest version keeps that version.

    Parameters
    ----------
    *definitions
        :class:`Entity`, :class:`FeatureView` and :class:`FeatureService` objects.
    client
        The workbench client (default: the configured store's).

    Returns
    -------
    list of RegisteredDefinition
        One per definition given, in order: its version and whether it is new.

    Raises
    ------
    BreakingChangeError
        A view drops or retypes a feature, or changes join keys, that a registered model was
        trained with; the message names the model.
    FeatureNotFoundError
        A service lists a feature no registered view has.
    """
    caller = "register_features"
    if not definitions:
        raise fail(
            "definitions", caller, "at least one definition", (), "e.g. register_features(view)."
        )
    return _catalog(client, caller).register(definitions, caller)


def get_entity(
    name: str, version: int | None = None, *, client: TrackingClient | None = None
) -> Entity:
    """A registered entity (its latest version, or ``version``)."""
    definition = _catalog(client, "get_entity").get("entity", name, version).definition
    assert isinstance(definition, Entity)
    return definition


def get_feature_view(
    name: str, version: int | None = None, *, client: TrackingClient | None = None
) -> FeatureView:
    """A registered feature view (its latest version, or ``version``)."""
    definition = _catalog(client, "get_feature_view").get("feature_view", name, version).definition
    assert isinstance(definition, FeatureView)
    return definition


def get_feature_service(
    name: str, version: int | None = None, *, client: TrackingClient | None = None
) -> FeatureService:
    """A registered feature service (its latest version, or ``version``)."""
    catalog = _catalog(client, "get_feature_service")
    definition = catalog.get("feature_service", name, version).definition
    assert isinstance(definition, FeatureService)
    return definition


def get_feature_history(
    name: str,
    *,
    kind: Literal["entity", "feature_view", "feature_service"] = "feature_view",
    client: TrackingClient | None = None,
) -> list[RegisteredDefinition]:
    """Every version of a definition, oldest first (each with its definition and author)."""
    caller = "get_feature_history"
    if kind not in _KINDS:
        raise fail("kind", caller, f"one of {list(_KINDS)}", kind)
    return _catalog(client, caller).history(kind, name)


def list_feature_definitions(
    kind: Literal["entity", "feature_view", "feature_service"] | None = None,
    *,
    history: bool = False,
    client: TrackingClient | None = None,
) -> pd.DataFrame:
    """The catalog: one row per definition (per version with ``history``).

    Columns: kind, name, version, description, created_by, created_at, summary, fingerprint.
    """
    caller = "list_feature_definitions"
    if kind is not None and kind not in _KINDS:
        raise fail("kind", caller, f"one of {list(_KINDS)} or None", kind)
    return _catalog(client, caller).table(kind, history=history)


# -- offline --------------------------------------------------------------------------------------
def _resolve(
    catalog: Catalog, selection: Selection, caller: str
) -> tuple[tuple[str, int] | None, Selection, list[RegisteredDefinition]]:
    """The service (name, version) asked for, the features, and the registered views."""
    service = None
    if selection.service is not None:
        registered = catalog.service(selection.service)
        given = selection.given
        if given is not None and fingerprint(given.to_spec()) != registered.fingerprint:
            raise fail(
                "features",
                caller,
                "a registered feature service",
                given.name,
                f"This FeatureService differs from version {registered.version} of "
                f"{given.name!r} in the store: register it first "
                "(workbench.features.register_features(service)).",
            )
        definition = registered.definition
        assert isinstance(definition, FeatureService)
        selection = Selection(definition.name, definition.projections, definition)
        service = (registered.name, registered.version)
    views = catalog.latest_views([p.view for p in selection.projections])
    for projection, registered_view in zip(selection.projections, views, strict=True):
        view = registered_view.definition
        assert isinstance(view, FeatureView)
        for feature in projection.features:
            view.feature(feature)
    return service, selection, views


def get_historical_features(
    entity_df: pd.DataFrame | pa.Table,
    features: FeatureService | str | Sequence[Any],
    *,
    timestamp: str | None = None,
    full_feature_names: bool = False,
    output: Literal["pandas", "arrow"] = "pandas",
    run: ActiveRun | Literal[False] | None = None,
    client: TrackingClient | None = None,
) -> pd.DataFrame | pa.Table:
    """A point-in-time correct training set: ``entity_df`` with the features asked for.

    For each row and feature: the value of the entity's latest source row at or before the
    row's timestamp and within the view's TTL, else missing; never a value from the future.
    Computed by DuckDB's ``ASOF JOIN`` over the sources (files larger than memory stream).

    Parameters
    ----------
    entity_df
        The rows: the join keys of every view asked for, and a timestamp column (naive times
        are UTC; one time zone per column).
    features
        A :class:`FeatureService` (or the name of a registered one), or a list of
        ``"view:feature"`` references, views and projections (``view[["a", "b"]]``).
    timestamp
        The timestamp column of ``entity_df`` (default: its only datetime column).
    full_feature_names
        Name columns ``"<view>__<feature>"`` (needed when two views share a feature name).
    output
        ``"pandas"`` (the rows of ``entity_df`` in order, with its index, features added; missing
        values are NA) or ``"arrow"`` (a pyarrow Table).
    run
        The run to log the training set to as its ``training`` input, with the feature service
        version and each feature's view version (lineage: run -> features -> sources). Default:
        the active run (``with workbench.start_run()``), if any; False: none.
    client
        The workbench client (default: the configured store's; the run's, when a run is given).

    Raises
    ------
    InvalidParameterError
        Missing or mistyped join keys, times in mixed time zones, features sharing a name.
    FeatureSourceError
        A source that is gone, lacks a column, or has duplicate (key, event time) rows.
    """
    from workbench.features import _offline
    from workbench.tracking.run import active_run

    caller = "get_historical_features"
    if output not in ("pandas", "arrow"):
        raise fail("output", caller, "'pandas' or 'arrow'", output)
    if run is None:
        run = active_run()
    if run is not False and run is not None and client is None:
        client = run._client  # the lineage goes where the run lives
    catalog = _catalog(client, caller)
    service, selection, views = _resolve(catalog, select(features, caller), caller)
    columns = output_columns(selection.projections, full_feature_names, caller)
    given = _column_names(entity_df)
    clashes = sorted({c for _, _, c in columns} & set(given))
    if clashes:
        raise fail(
            "features",
            caller,
            "features whose names are not columns of entity_df",
            clashes,
            "Rename those columns of entity_df, or pass full_feature_names=True.",
        )
    by_view: dict[str, list[tuple[str, str]]] = {}
    for view, feature, column in columns:
        by_view.setdefault(view, []).append((feature, column))
    plans = [_offline.ViewPlan(r, tuple(by_view[r.name])) for r in views]
    keys = list(dict.fromkeys(k for r in views for k in r.definition.join_keys))  # type: ignore[union-attr]
    entities, timestamp = _offline.entity_table(entity_df, keys, timestamp, caller)
    table = _offline.point_in_time_join(entities, plans, caller)
    dtypes = {c: r.definition.feature(f).dtype for r in views for f, c in by_view[r.name]}  # type: ignore[union-attr]
    result = _assemble(entity_df, table, dtypes, output)
    if run is not False and run is not None:
        _log_training_set(run, result, plans, service, timestamp, len(entities))
    return result


def _column_names(entity_df: Any) -> list[str]:
    columns = getattr(entity_df, "column_names", None) or getattr(entity_df, "columns", [])
    return [str(c) for c in columns]


def _assemble(
    entity_df: Any, table: pa.Table, dtypes: dict[str, str], output: str
) -> pd.DataFrame | pa.Table:
    import pandas as pd
    import pyarrow as pa

    from workbench.features._offline import to_pandas_columns

    if output == "arrow":
        base = (
            entity_df
            if isinstance(entity_df, pa.Table)
            else pa.Table.from_pandas(entity_df, preserve_index=False)
        )
        for name in table.column_names:
            base = base.append_column(name, table.column(name))
        return base
    frame = entity_df.to_pandas() if isinstance(entity_df, pa.Table) else entity_df
    added = pd.DataFrame(to_pandas_columns(table, dtypes), index=frame.index)
    return pd.concat([frame, added], axis=1)


def _log_training_set(
    run: ActiveRun,
    result: Any,
    plans: Sequence[Any],
    service: tuple[str, int] | None,
    timestamp: str,
    n_rows: int,
) -> None:
    import pyarrow as pa

    from workbench.features._offline import lineage_payload
    from workbench.store.base import FeatureLineageRecord

    frame = result.to_pandas() if isinstance(result, pa.Table) else result
    name = f"{service[0]}@v{service[1]}" if service else "training_set"
    digest = run.log_input(frame, name=name, context="training")
    run._client.store.record_feature_lineage(
        FeatureLineageRecord(
            run_id=run.run_id,
            digest=digest,
            service=None if service is None else service[0],
            service_version=None if service is None else service[1],
            features=lineage_payload(plans, service, timestamp, n_rows),
            n_rows=n_rows,
        )
    )


def get_feature_lineage(
    run: ActiveRun | str, *, client: TrackingClient | None = None
) -> list[dict[str, Any]]:
    """The training sets a run was given: per set, the dataset digest, the feature service
    version, and each view's version, join keys, TTL and source (run -> features -> sources)."""
    caller = "get_feature_lineage"
    run_id = run if isinstance(run, str) else getattr(run, "run_id", None)
    if not isinstance(run_id, str):
        raise fail("run", caller, "a run or a run id", run)
    store = resolve_client(client, caller).store
    found = []
    for record in store.list_feature_lineage(run_id=run_id):
        payload = json.loads(record.features)
        found.append(
            {
                "run_id": record.run_id,
                "digest": record.digest,
                "service": record.service,
                "service_version": record.service_version,
                "n_rows": record.n_rows,
                "created_at": record.created_at,
                "views": payload.get("views", {}),
                "features": payload.get("features", []),
            }
        )
    return found


# -- quality --------------------------------------------------------------------------------------
def validate_feature_view(
    view: FeatureView | str,
    *,
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    client: TrackingClient | None = None,
) -> ValidationReport:
    """Check a view's source against its expectations (see :meth:`FeatureView.validate`);
    a name means the registered view's latest version."""
    if isinstance(view, str):
        view = get_feature_view(view, client=client)
    if not isinstance(view, FeatureView):
        raise fail(
            "view", "validate_feature_view", "a FeatureView or a registered view's name", view
        )
    return view.validate(start=start, end=end)  # type: ignore[arg-type]


# -- online ---------------------------------------------------------------------------------------
_online_stores: dict[str, OnlineStore] = {}
_online_lock = threading.Lock()


def get_online_store(*, client: TrackingClient | None = None) -> OnlineStore:
    """The online table of the store: ``<store folder>/features/online`` (one per process).

    A model server reads it with ``OnlineStore(path).get_online_features(...)`` and needs
    nothing else (no store connection)."""
    from workbench.features._online import OnlineStore

    store = resolve_client(client, "get_online_store").store
    root = getattr(store, "root", None)
    if root is None:
        raise FeatureNotFoundError(
            f"The store {store.location} has no local folder for the online table."
        )
    path = str(Path(root) / "features" / "online")
    with _online_lock:
        online = _online_stores.get(path)
        if online is None:
            online = _online_stores[path] = OnlineStore(path)
        return online


def _views_to_materialize(
    catalog: Catalog, views: Any, caller: str, *, all_if_none: bool
) -> list[RegisteredDefinition]:
    if views is None and all_if_none:
        names = [r.name for r in catalog.store.list_feature_definitions("feature_view")]
        if not names:
            raise FeatureNotFoundError(
                "No feature views are registered; register one with register_features(view)."
            )
    else:
        if isinstance(views, (str, FeatureView)):
            views = [views]
        if not isinstance(views, Sequence) or not views:
            raise fail("views", caller, "a feature view, its name, or a list of them", views)
        names = []
        for view in views:
            if isinstance(view, FeatureView):
                names.append(view.name)
            elif isinstance(view, str):
                names.append(view)
            else:
                raise fail("views", caller, "feature views or their names", view)
    found = []
    for view, name in zip(views if views is not None else names, names, strict=False):
        registered = catalog.view(name)
        if isinstance(view, FeatureView) and fingerprint(view.to_spec()) != registered.fingerprint:
            raise fail(
                "views",
                caller,
                "registered feature views",
                name,
                f"This FeatureView differs from version {registered.version} in the store: "
                "register it first (register_features(view)).",
            )
        found.append(registered)
    return found


def materialize(
    views: FeatureView | str | Sequence[FeatureView | str],
    start: dt.datetime | str | None,
    end: dt.datetime | str,
    *,
    validate: bool = True,
    client: TrackingClient | None = None,
) -> MaterializationResult:
    """Write each entity's latest values with an event time in ``[start, end]`` to the online
    table, merged with what it holds (the newer event time wins).

    Atomic per call: every view becomes current together, or (on any error, a failed
    validation included) none does, and nothing materialized before is lost.

    Parameters
    ----------
    views
        Registered feature views (objects or names).
    start, end
        The window of event times (naive times are UTC); ``start=None``: from the beginning.
    validate
        Check the window's rows against the views' expectations first and refuse the run if
        any fails (the error carries the report).
    client
        The workbench client (default: the configured store's).
    """
    from workbench.features._materialize import materialize_views

    caller = "materialize"
    catalog = _catalog(client, caller)
    registered = _views_to_materialize(catalog, views, caller, all_if_none=False)
    online = get_online_store(client=catalog.client)
    return materialize_views(
        online, registered, start, end, validate=validate, incremental=False, caller=caller
    )


def materialize_incremental(
    views: FeatureView | str | Sequence[FeatureView | str] | None = None,
    *,
    end: dt.datetime | str | None = None,
    validate: bool = True,
    client: TrackingClient | None = None,
) -> MaterializationResult:
    """Materialize each view from where its last run ended up to ``end`` (default: now); a view
    never materialized starts from the beginning. ``views=None``: every registered view."""
    from workbench.features._materialize import materialize_views

    caller = "materialize_incremental"
    catalog = _catalog(client, caller)
    registered = _views_to_materialize(catalog, views, caller, all_if_none=True)
    online = get_online_store(client=catalog.client)
    if end is None:
        end = dt.datetime.now(dt.UTC)
    return materialize_views(
        online, registered, None, end, validate=validate, incremental=True, caller=caller
    )


def get_online_features(
    entity_rows: Any,
    features: FeatureService | str | Sequence[Any],
    *,
    full_feature_names: bool = False,
    as_of: dt.datetime | None = None,
    client: TrackingClient | None = None,
) -> dict[str, list[Any]]:
    """The materialized features of entities, for serving: a dict of columns.

    Parameters
    ----------
    entity_rows
        The entities: a list of dicts (``[{"driver_id": 1001}]``), a dict of lists, or a
        DataFrame, with the join keys of every view asked for.
    features
        As for :func:`get_historical_features` (a service given by name is read from the store
        once per call; pass the :class:`FeatureService` to skip that).
    full_feature_names
        Name columns ``"<view>__<feature>"``.
    as_of
        The time the views' TTLs are judged at (default: now): a value whose event time is
        older than ``as_of - ttl`` is None, as offline.
    client
        The workbench client (default: the configured store's).

    Returns
    -------
    dict of str to list
        The join key columns as given, then one list per feature (None: no value).
    """
    caller = "get_online_features"
    selection = select(features, caller)
    if selection.service is not None and selection.given is None:
        definition = get_feature_service(selection.service, client=client)
        selection = Selection(definition.name, definition.projections, definition)
    online = get_online_store(client=client)
    if as_of is not None and as_of.tzinfo is not None:
        as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    return online.get_online_features(
        entity_rows, selection, full_feature_names=full_feature_names, as_of=as_of
    )
