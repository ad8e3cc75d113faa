"""The definitions: entities, features, feature views and feature services.

Each is a frozen value written in Python (in a notebook cell or a module) and checked when it is
made; :func:`~workbench.features.register_features` stores it as a version in the workbench
store. A definition is stored as its *spec*, canonical JSON, and identified by the SHA-256 of
that text (its fingerprint): registering the same definition again changes nothing, an edited one
is the next version.

* :class:`Entity`: what features describe, and the join keys that identify one (``driver_id``).
* :class:`Feature`: a typed column and its expectations (nullability, range, categories).
* :class:`FeatureView`: features of one or more entities read from one source, with the
  source's event time and a time to live (TTL).
* :class:`FeatureService`: the named set of features one model is given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench._validation import check_name, fail
from workbench.features._sources import DataFrameSource, Source, source_from_spec
from workbench.features._types import DTYPES, dtype_name

if TYPE_CHECKING:
    from workbench.features._quality import ValidationReport

__all__ = [
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureView",
    "FeatureViewProjection",
    "canonical",
    "fingerprint",
]

_RESERVED_PREFIX = "__wb_"


def canonical(spec: Mapping[str, Any]) -> str:
    """``spec`` as canonical JSON: sorted keys, no spaces (the text that is versioned)."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)


def fingerprint(spec: Mapping[str, Any]) -> str:
    """The SHA-256 of the canonical JSON of ``spec``."""
    return hashlib.sha256(canonical(spec).encode()).hexdigest()


def _check_identifier(value: Any, caller: str, *, name: str) -> str:
    check_name(value, caller, name=name)
    if ":" in value or value.startswith(_RESERVED_PREFIX):
        raise fail(
            name,
            caller,
            f"a name without ':' that does not start with {_RESERVED_PREFIX!r}",
            value,
            "':' separates a view from a feature in references such as 'driver_stats:trips'.",
        )
    return str(value)


def _tags(value: Any, caller: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise fail("tags", caller, "a dict of str to str", value)
    return dict(sorted(value.items()))


# -- entities --------------------------------------------------------------------------------
@dataclass(frozen=True, init=False)
class Entity:
    """What features describe (a driver, a customer), and the join keys that identify one.

    Parameters
    ----------
    name
        The entity's name (``"driver"``).
    join_keys
        The columns that identify one: a name, a list of names, or a dict of name to type
        (``{"driver_id": "int64"}``; typed keys are checked in sources and entity rows). By
        default the entity's name.
    description, tags
        For people and catalogs.

    Examples
    --------
    >>> driver = Entity("driver", join_keys={"driver_id": "int64"})
    """

    name: str
    join_keys: tuple[str, ...]
    key_dtypes: tuple[str | None, ...]
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        join_keys: str | Sequence[str] | Mapping[str, Any] | None = None,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        caller = "Entity"
        _check_identifier(name, caller, name="name")
        if join_keys is None:
            join_keys = [name]
        elif isinstance(join_keys, str):
            join_keys = [join_keys]
        if isinstance(join_keys, Mapping):
            keys = [str(k) for k in join_keys]
            dtypes: list[str | None] = [
                dtype_name(t, caller, name=f"type of join key {k!r}") for k, t in join_keys.items()
            ]
        elif isinstance(join_keys, Sequence):
            keys, dtypes = list(join_keys), [None] * len(join_keys)
        else:
            raise fail("join_keys", caller, "a key name, a list of names or a dict", join_keys)
        if not keys:
            raise fail("join_keys", caller, "at least one column name", join_keys)
        for key in keys:
            _check_identifier(key, caller, name="join_keys")
        if len(set(keys)) != len(keys):
            raise fail("join_keys", caller, "distinct column names", join_keys)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "join_keys", tuple(keys))
        object.__setattr__(self, "key_dtypes", tuple(dtypes))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", _tags(tags, caller))

    def to_spec(self) -> dict[str, Any]:
        """The entity as JSON-ready data."""
        return {
            "name": self.name,
            "join_keys": [[k, t] for k, t in zip(self.join_keys, self.key_dtypes, strict=True)],
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Entity:
        """The entity a stored spec describes."""
        keys = {k: t for k, t in spec["join_keys"]}
        typed = all(t is not None for t in keys.values())
        return cls(
            spec["name"],
            keys if typed else list(keys),
            description=spec.get("description"),
            tags=spec.get("tags"),
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.features._display import entity_bundle

        return entity_bundle(self)


# -- features ----------------------------------------------------------------------------------
@dataclass(frozen=True, init=False)
class Feature:
    """A typed feature column and its expectations.

    Parameters
    ----------
    name
        The column in the source (and in training sets).
    dtype
        One of ``int64``, ``int32``, ``float64``, ``float32``, ``string``, ``bool``,
        ``timestamp`` (or a Python/numpy/pandas spelling of one).
    nullable
        Whether a missing value is allowed in the source.
    ge, gt, le, lt
        Bounds every present value must keep (>=, >, <=, <).
    isin
        The allowed values (categories).
    description
        For people and catalogs.

    Examples
    --------
    >>> Feature("conv_rate", "float64", nullable=False, ge=0, le=1)
    Feature(name='conv_rate', dtype='float64', ...)
    """

    name: str
    dtype: str
    nullable: bool = True
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    isin: tuple[Any, ...] | None = None
    description: str | None = None

    def __init__(
        self,
        name: str,
        dtype: Any,
        *,
        nullable: bool = True,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        lt: float | None = None,
        isin: Iterable[Any] | None = None,
        description: str | None = None,
    ) -> None:
        caller = "Feature"
        _check_identifier(name, caller, name="name")
        dtype = dtype_name(dtype, caller)
        if not isinstance(nullable, bool):
            raise fail("nullable", caller, "True or False", nullable)
        kind = DTYPES[dtype].kind
        for bound_name, bound in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)):
            if bound is None:
                continue
            if kind not in ("integer", "float"):
                raise fail(
                    bound_name,
                    caller,
                    f"None for a {dtype} feature (bounds are for numbers)",
                    bound,
                )
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise fail(bound_name, caller, "a number or None", bound)
            if not math.isfinite(bound):
                raise fail(bound_name, caller, "a finite number or None", bound)
        allowed: tuple[Any, ...] | None = None
        if isin is not None:
            if isinstance(isin, (str, bytes)) or not isinstance(isin, Iterable):
                raise fail("isin", caller, "a list of allowed values", isin)
            allowed = tuple(isin)
            if not allowed:
                raise fail("isin", caller, "a non-empty list of allowed values", isin)
            try:
                json.dumps(list(allowed), allow_nan=False)
            except (TypeError, ValueError):
                raise fail(
                    "isin", caller, "a list of plain values (str, int, float, bool)", isin
                ) from None
        for value_name, value in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)):
            object.__setattr__(self, value_name, value)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "nullable", nullable)
        object.__setattr__(self, "isin", allowed)
        object.__setattr__(self, "description", description)

    def expectations(self) -> list[str]:
        """The expectations as short text (``not null``, ``>= 0``, ``in ['a', 'b']``)."""
        found = [] if self.nullable else ["not null"]
        for op, value in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt)):
            if value is not None:
                found.append(f"{op} {value:g}")
        if self.isin is not None:
            found.append(f"in {list(self.isin)!r}")
        return found

    def to_spec(self) -> dict[str, Any]:
        """The feature as JSON-ready data."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "nullable": self.nullable,
            "ge": self.ge,
            "gt": self.gt,
            "le": self.le,
            "lt": self.lt,
            "isin": None if self.isin is None else list(self.isin),
            "description": self.description,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Feature:
        """The feature a stored spec describes."""
        return cls(
            spec["name"],
            spec["dtype"],
            nullable=spec["nullable"],
            ge=spec.get("ge"),
            gt=spec.get("gt"),
            le=spec.get("le"),
            lt=spec.get("lt"),
            isin=spec.get("isin"),
            description=spec.get("description"),
        )


# -- feature views --------------------------------------------------------------------------------
@dataclass(frozen=True, init=False)
class FeatureView:
    """Features of one or more entities, read from one source with its event time.

    Parameters
    ----------
    name
        The view's name; features are referred to as ``"<view>:<feature>"``.
    entities
        The entities (their join keys must be columns of the source).
    source
        A :class:`FileSource`, :class:`QuerySource` or :class:`DataFrameSource`.
    features
        The :class:`Feature` columns the view offers.
    ttl
        How long a value stays valid after its event time (a ``timedelta``, or seconds); a
        training row older than that gets a missing value. None: values never expire.
    description, tags
        For people and catalogs.

    Examples
    --------
    >>> stats = FeatureView(
    ...     "driver_stats",
    ...     entities=[driver],
    ...     source=FileSource("data/driver_stats/", timestamp="event_ts"),
    ...     features=[Feature("conv_rate", "float64", ge=0, le=1), Feature("trips", "int64")],
    ...     ttl=timedelta(days=7),
    ... )
    """

    name: str
    entities: tuple[Entity, ...]
    source: Source
    features: tuple[Feature, ...]
    ttl: dt.timedelta | None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        *,
        entities: Sequence[Entity] | Entity,
        source: Source,
        features: Sequence[Feature],
        ttl: dt.timedelta | float | None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        caller = f"FeatureView({name!r})" if isinstance(name, str) else "FeatureView"
        _check_identifier(name, caller, name="name")
        if isinstance(entities, Entity):
            entities = [entities]
        if not isinstance(entities, Sequence) or not entities:
            raise fail("entities", caller, "a list of at least one Entity", entities)
        for entity in entities:
            if not isinstance(entity, Entity):
                raise fail("entities", caller, "a list of Entity objects", entity)
        if not isinstance(source, Source):
            raise fail(
                "source",
                caller,
                "a FileSource, QuerySource or DataFrameSource",
                source,
                "e.g. source=FileSource('data/stats.parquet', timestamp='event_ts').",
            )
        if not isinstance(features, Sequence) or not features:
            raise fail("features", caller, "a list of at least one Feature", features)
        for feature in features:
            if not isinstance(feature, Feature):
                raise fail(
                    "features", caller, "a list of Feature objects", feature,
                    "e.g. Feature('trips', 'int64').",
                )  # fmt: skip
        ttl = _check_ttl(ttl, caller)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "entities", tuple(entities))
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "features", tuple(features))
        object.__setattr__(self, "ttl", ttl)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", _tags(tags, caller))
        self._check_columns(caller)

    def _check_columns(self, caller: str) -> None:
        keys = self.join_keys
        if len(set(keys)) != len(keys):
            raise fail(
                "entities",
                caller,
                "entities with distinct join keys",
                [e.name for e in self.entities],
            )
        names = [f.name for f in self.features]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise fail("features", caller, "features with distinct names", repeated)
        special = {*keys, self.source.timestamp, self.source.created_timestamp or ""}
        clash = sorted(special & set(names))
        if clash:
            raise fail(
                "features",
                caller,
                "features other than the join keys and timestamp columns",
                clash,
                "Join keys and timestamps come with every row already; leave them out.",
            )

    @property
    def join_keys(self) -> tuple[str, ...]:
        """The join keys of all the view's entities, in order."""
        return tuple(k for e in self.entities for k in e.join_keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of the view's features, in order."""
        return tuple(f.name for f in self.features)

    def feature(self, name: str) -> Feature:
        """One feature by name; FeatureNotFoundError listing the view's features."""
        for feature in self.features:
            if feature.name == name:
                return feature
        from workbench.features._errors import FeatureNotFoundError

        raise FeatureNotFoundError(
            f"Feature view {self.name!r} has no feature {name!r}. Its features: "
            f"{list(self.feature_names)}."
        )

    def __getitem__(self, names: str | Sequence[str]) -> FeatureViewProjection:
        """Some of the view's features, for a :class:`FeatureService`: ``view[["a", "b"]]``."""
        if isinstance(names, str):
            names = [names]
        for name in names:
            self.feature(name)
        return FeatureViewProjection(self.name, tuple(names))

    def validate(
        self, *, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> ValidationReport:
        """Check the source against the view's expectations and report every violation.

        Types, nullability, ranges and allowed values of each feature, the join keys and event
        time present, and one row per entity and event time (per created time, when the source
        has one). Only rows with an event time in ``[start, end]`` when given. Does not raise
        on violations: see :meth:`ValidationReport.raise_for_violations`.
        """
        from workbench.features._quality import validate_view

        return validate_view(self, start=start, end=end)

    def to_spec(self) -> dict[str, Any]:
        """The view as JSON-ready data (what is versioned)."""
        return {
            "name": self.name,
            "entities": [e.to_spec() for e in self.entities],
            "source": self.source.to_spec(),
            "features": [f.to_spec() for f in self.features],
            "ttl_seconds": None if self.ttl is None else self.ttl.total_seconds(),
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, data: Any = None) -> FeatureView:
        """The view a stored spec describes (``data``: the rows of a DataFrame source)."""
        ttl = spec.get("ttl_seconds")
        return cls(
            spec["name"],
            entities=[Entity.from_spec(e) for e in spec["entities"]],
            source=source_from_spec(spec["source"], data=data),
            features=[Feature.from_spec(f) for f in spec["features"]],
            ttl=None if ttl is None else dt.timedelta(seconds=ttl),
            description=spec.get("description"),
            tags=spec.get("tags"),
        )

    @property
    def in_memory(self) -> bool:
        """Whether the rows live in this process only (a DataFrame source)."""
        return isinstance(self.source, DataFrameSource)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.features._display import view_bundle

        return view_bundle(self)


def _check_ttl(ttl: Any, caller: str) -> dt.timedelta | None:
    if ttl is None:
        return None
    if isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        if not math.isfinite(ttl):
            raise fail("ttl", caller, "a positive timedelta, a number of seconds, or None", ttl)
        ttl = dt.timedelta(seconds=ttl)
    if not isinstance(ttl, dt.timedelta):
        raise fail("ttl", caller, "a positive timedelta, a number of seconds, or None", ttl)
    if ttl <= dt.timedelta(0):
        raise fail(
            "ttl",
            caller,
            "a positive timedelta, or None for values that never expire",
            ttl,
            "A TTL of zero (or less) would expire every value the moment it happens, so every "
            "training row would get missing values. Use e.g. ttl=timedelta(days=1).",
        )
    if ttl % dt.timedelta(microseconds=1):
        raise fail("ttl", caller, "a whole number of microseconds", ttl)
    return ttl


# -- feature services -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureViewProjection:
    """Some features of one view (``view[["a", "b"]]``), as a feature service lists them."""

    view: str
    features: tuple[str, ...]


@dataclass(frozen=True, init=False)
class FeatureService:
    """The named set of features one model is given.

    Parameters
    ----------
    name
        The service's name (often the model's).
    features
        Feature views (all their features), projections (``view[["a", "b"]]``) or references
        ``"view:feature"``, in the order the model sees them.
    description, tags
        For people and catalogs.

    Examples
    --------
    >>> FeatureService("eta_model", [driver_stats[["conv_rate"]], "trips:count_7d"])
    """

    name: str
    projections: tuple[FeatureViewProjection, ...]
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        features: Sequence[FeatureView | FeatureViewProjection | str],
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        caller = f"FeatureService({name!r})" if isinstance(name, str) else "FeatureService"
        _check_identifier(name, caller, name="name")
        if isinstance(features, (str, FeatureView)) or not isinstance(features, Sequence):
            features = [features]  # type: ignore[list-item]
        if not features:
            raise fail("features", caller, "a non-empty list of views or features", features)
        merged: dict[str, list[str]] = {}
        for item in features:
            for projection in _projections(item, caller):
                names = merged.setdefault(projection.view, [])
                names += [n for n in projection.features if n not in names]
        projections = tuple(FeatureViewProjection(v, tuple(f)) for v, f in merged.items())
        _check_collisions(projections, caller)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "projections", projections)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", _tags(tags, caller))

    @property
    def feature_refs(self) -> tuple[str, ...]:
        """The service's features as ``"view:feature"`` references, in order."""
        return tuple(f"{p.view}:{f}" for p in self.projections for f in p.features)

    def to_spec(self) -> dict[str, Any]:
        """The service as JSON-ready data (what is versioned)."""
        return {
            "name": self.name,
            "features": [{"view": p.view, "features": list(p.features)} for p in self.projections],
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureService:
        """The service a stored spec describes."""
        return cls(
            spec["name"],
            [FeatureViewProjection(p["view"], tuple(p["features"])) for p in spec["features"]],
            description=spec.get("description"),
            tags=spec.get("tags"),
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.features._display import service_bundle

        return service_bundle(self)


def parse_ref(ref: Any, caller: str) -> tuple[str, str]:
    """``"view:feature"`` as (view, feature)."""
    if isinstance(ref, str) and ref.count(":") == 1:
        view, feature = ref.split(":")
        if view.strip() and feature.strip():
            return view.strip(), feature.strip()
    raise fail(
        "features",
        caller,
        "references 'view:feature', feature views, projections or a feature service",
        ref,
        "e.g. features=['driver_stats:conv_rate', 'driver_stats:trips'].",
    )


def _projections(item: Any, caller: str) -> list[FeatureViewProjection]:
    if isinstance(item, FeatureView):
        return [FeatureViewProjection(item.name, item.feature_names)]
    if isinstance(item, FeatureViewProjection):
        return [item]
    view, feature = parse_ref(item, caller)
    return [FeatureViewProjection(view, (feature,))]


def _check_collisions(projections: Sequence[FeatureViewProjection], caller: str) -> None:
    seen: dict[str, str] = {}
    for projection in projections:
        for feature in projection.features:
            other = seen.setdefault(feature, projection.view)
            if other != projection.view:
                raise fail(
                    "features",
                    caller,
                    "features with distinct names",
                    feature,
                    f"Feature {feature!r} is in both views {other!r} and {projection.view!r}. "
                    "Keep one of them, or rename one in its view.",
                )
