"""Point-in-time correct training sets: ``get_historical_features``.

For every entity row (join keys and a timestamp) and every feature asked for, the value of the
latest source row of that entity at or before the row's timestamp, if it is within the view's TTL
(``event_time >= timestamp - ttl``); otherwise missing. Never a value from after the timestamp.
When a source has a created-timestamp column, rows of the same entity and event time are
corrections: the one created last counts.

One DuckDB query does it: the entity rows ``ASOF LEFT JOIN`` each view's source on the join keys
and ``entity.ts >= source.ts``, over the sources' files directly (``_engine``). Before it runs,
each view is checked for what would make the answer wrong or ambiguous: missing or mistyped join
keys, entity timestamps that are not one time zone, and duplicate (key, event time) rows (checked
once per source state and cached in the process).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench._validation import fail
from workbench.features._engine import connect, describe, time_expression
from workbench.features._errors import FeatureSourceError
from workbench.features._sources import quote
from workbench.features._types import DTYPES, fits, kind_of_sql

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from workbench.features._catalog import RegisteredDefinition
    from workbench.features._definitions import FeatureView

__all__ = ["ViewPlan", "check_duplicates", "entity_table", "point_in_time_join"]

ROW = "__wb_row"
TS = "__wb_ts"
CREATED = "__wb_created"

# Sources found free of duplicate (key, event time) rows: (view fingerprint, source identity).
_no_duplicates: set[tuple[str, tuple[Any, ...]]] = set()
_no_duplicates_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class ViewPlan:
    """One view's part of a join: the registered view and (feature, output column) pairs."""

    registered: RegisteredDefinition
    features: tuple[tuple[str, str], ...]

    @property
    def view(self) -> FeatureView:
        return self.registered.definition  # type: ignore[return-value]


# -- the entity rows ------------------------------------------------------------------------------
def entity_table(
    entity_df: Any, keys: Sequence[str], timestamp: str | None, caller: str
) -> tuple[pa.Table, str]:
    """The join keys, the timestamp as naive UTC (``__wb_ts``) and the row number (``__wb_row``)
    of ``entity_df`` as an Arrow table; and the timestamp column's name."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if isinstance(entity_df, pa.Table):
        names = entity_df.column_names
    elif isinstance(entity_df, pd.DataFrame):
        names = [str(c) for c in entity_df.columns]
    else:
        raise fail(
            "entity_df",
            caller,
            "a pandas DataFrame or a pyarrow Table",
            entity_df,
            "One row per example: the join keys and the time the label was observed.",
        )
    timestamp = _timestamp_column(entity_df, names, timestamp, caller)
    missing = [k for k in keys if k not in names]
    if missing:
        raise fail(
            "entity_df",
            caller,
            f"a table with the join keys {list(keys)} and a timestamp column",
            f"columns {names}",
            f"It lacks {missing}: add them (rename a column with df.rename(columns={{...}}) if "
            "it is there under another name).",
        )
    columns: dict[str, Any] = {}
    for key in keys:
        columns[key] = _arrow_column(entity_df, key)
    columns[TS] = _utc_times(entity_df, timestamp, caller)
    columns[ROW] = pa.array(np.arange(len(entity_df), dtype=np.int64))
    return pa.table(columns), timestamp


def _arrow_column(frame: Any, name: str) -> pa.ChunkedArray | pa.Array:
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame.column(name)
    series = frame[name]
    try:
        return pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise fail(
            f"join key column {name!r}",
            "get_historical_features",
            "one type of value (all integers, or all strings)",
            f"dtype {series.dtype}",
            f"({str(exc).splitlines()[0]}). Convert it, e.g. df[{name!r}].astype('int64').",
        ) from None


def _timestamp_column(frame: Any, names: list[str], timestamp: str | None, caller: str) -> str:
    import pyarrow as pa

    if timestamp is not None:
        if timestamp not in names:
            raise fail(
                "timestamp",
                caller,
                f"a column of entity_df ({names})",
                timestamp,
                "Name the column that says when each row's label was observed.",
            )
        return timestamp
    if isinstance(frame, pa.Table):
        found = [f.name for f in frame.schema if pa.types.is_timestamp(f.type)]
    else:
        found = [str(c) for c in frame.columns if _looks_like_times(frame[c])]
        if not found:
            found = [n for n in ("event_timestamp", "timestamp") if n in names]
    if len(found) == 1:
        return str(found[0])
    raise fail(
        "timestamp",
        caller,
        "the name of entity_df's timestamp column",
        None,
        f"entity_df has {'several' if found else 'no'} datetime columns ({found}); name the "
        "one that says when each row's label was observed: timestamp='...'.",
    )


def _looks_like_times(series: pd.Series) -> bool:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return True
    if series.dtype == object and len(series):
        first = series.dropna().head(1)
        return bool(len(first)) and isinstance(
            first.iloc[0], (pd.Timestamp, __import__("datetime").datetime)
        )
    return False


def _utc_times(frame: Any, column: str, caller: str) -> pa.Array | pa.ChunkedArray:
    """The timestamp column as naive UTC instants (its original unit kept)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(frame, pa.Table):
        values = frame.column(column)
        if not pa.types.is_timestamp(values.type):
            raise _not_times(column, str(values.type), caller)
        if values.null_count:
            raise _null_times(column, values.null_count, caller)
        if values.type.tz is not None:
            values = pc.cast(values, pa.timestamp(values.type.unit, tz="UTC")).cast(
                pa.timestamp(values.type.unit)
            )
        return values
    series = frame[column]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = _object_times(series, column, caller)
    if series.isna().any():
        raise _null_times(column, int(series.isna().sum()), caller)
    return pa.Array.from_pandas(series)


def _object_times(series: pd.Series, column: str, caller: str) -> pd.Series:
    """A column of Python datetimes / Timestamps: one time zone (or none), or an error."""
    import datetime as dt

    import pandas as pd

    values = series.dropna()
    if not all(isinstance(v, dt.datetime) for v in values):
        raise _not_times(column, str(series.dtype), caller)
    zones = sorted({str(v.tzinfo) if v.tzinfo is not None else "no time zone" for v in values})
    if len(zones) > 1:
        raise fail(
            f"timestamp column {column!r}",
            caller,
            "times in one time zone (or all without one)",
            f"a mix of {zones[:5]}",
            f"Convert them to UTC first: entity_df[{column!r}] = "
            f"pd.to_datetime(entity_df[{column!r}], utc=True).",
        )
    if zones == ["no time zone"]:
        return pd.to_datetime(series)
    return pd.to_datetime(series, utc=True).dt.tz_localize(None)


def _not_times(column: str, dtype: str, caller: str) -> Exception:
    return fail(
        f"timestamp column {column!r}",
        caller,
        "datetimes",
        f"dtype {dtype}",
        f"Parse it first: entity_df[{column!r}] = pd.to_datetime(entity_df[{column!r}], utc=True).",
    )


def _null_times(column: str, count: int, caller: str) -> Exception:
    return fail(
        f"timestamp column {column!r}",
        caller,
        "a time on every row",
        f"{count} missing",
        "A row without a time cannot be joined point in time: drop those rows or fill them.",
    )


# -- one view's rows ------------------------------------------------------------------------------
def view_rows(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    features: Sequence[tuple[str, str]],
    *,
    where: str = "",
) -> tuple[str, dict[str, str]]:
    """SQL for the view's rows as join keys, ``__wb_ts``, ``__wb_created`` (if any) and each
    feature cast to its type under its output name; and the source's column types."""
    relation = view.source.relation(con, view=view.name)
    types = describe(con, relation)
    source = view.source
    needed = {
        **{k: "join key" for k in view.join_keys},
        source.timestamp: "event timestamp",
        **({source.created_timestamp: "created timestamp"} if source.created_timestamp else {}),
        **{name: "feature" for name, _ in features},
    }
    missing = [f"{role} {column!r}" for column, role in needed.items() if column not in types]
    if missing:
        raise FeatureSourceError(
            f"The source of feature view {view.name!r} ({source.describe()}) lacks "
            f"{', '.join(missing)}. Its columns: {list(types)}. Fix the source, or register a "
            "new version of the view that matches it."
        )
    for column in (source.timestamp, source.created_timestamp):
        if column and kind_of_sql(types[column]) not in ("timestamp", "date"):
            raise FeatureSourceError(
                f"Column {column!r} of the source of feature view {view.name!r} is "
                f"{types[column]}, not a timestamp. Give the view a QuerySource that parses it "
                f"(e.g. strptime({column}, '%Y-%m-%d %H:%M:%S')), or fix the files."
            )
    selected = [quote(k) for k in view.join_keys]
    selected.append(f"{time_expression(source.timestamp, types[source.timestamp])} AS {TS}")
    if source.created_timestamp:
        created = source.created_timestamp
        selected.append(f"{time_expression(created, types[created])} AS {CREATED}")
    for name, column in features:
        declared = view.feature(name).dtype
        if not fits(declared, types[name]):
            raise FeatureSourceError(
                f"Feature {view.name}:{name} is declared {declared}, but the source column "
                f"{name!r} is {types[name]}. Fix the source or the declaration; "
                f"view.validate() lists every such problem."
            )
        selected.append(f"CAST({quote(name)} AS {DTYPES[declared].sql}) AS {quote(column)}")
    sql = f"SELECT {', '.join(selected)} FROM {relation} AS s"
    return (f"{sql} WHERE {where}" if where else sql), types


def latest_correction(sql: str, view: FeatureView) -> str:
    """``sql`` keeping, of rows with the same keys and event time, the one created last."""
    if not view.source.created_timestamp:
        return sql
    keys = ", ".join(quote(k) for k in view.join_keys)
    return (
        f"SELECT * FROM ({sql}) QUALIFY row_number() OVER "
        f"(PARTITION BY {keys}, {TS} ORDER BY {CREATED} DESC NULLS LAST) = 1"
    )


def check_duplicates(
    con: duckdb.DuckDBPyConnection, plan: ViewPlan, rows_sql: str, *, cache: bool = True
) -> None:
    """Refuse a source with more than one row per (keys, event time[, created time])."""
    view = plan.view
    identity = view.source.identity()
    key = (plan.registered.fingerprint, identity) if identity is not None else None
    if key is not None and cache:
        with _no_duplicates_lock:
            if key in _no_duplicates:
                return
    columns = [*(quote(k) for k in view.join_keys), TS]
    if view.source.created_timestamp:
        columns.append(CREATED)
    listed = ", ".join(columns)
    found = con.sql(
        f"SELECT {listed}, count(*) AS n, count(*) OVER () AS groups FROM ({rows_sql}) "
        f"GROUP BY {listed} HAVING count(*) > 1 ORDER BY n DESC LIMIT 3"
    ).fetchall()
    if not found:
        if key is not None:
            with _no_duplicates_lock:
                _no_duplicates.add(key)
        return
    names = [*view.join_keys, view.source.timestamp]
    if view.source.created_timestamp:
        names.append(view.source.created_timestamp)
    examples = "; ".join(
        ", ".join(f"{n}={v}" for n, v in zip(names, row[: len(names)], strict=True))
        + f" ({row[-2]} rows)"
        for row in found
    )
    fix = (
        "Rows with the same created time are ambiguous too: remove the duplicates."
        if view.source.created_timestamp
        else "Remove the duplicates from the source, or name the column that says when each "
        "row was written (created_timestamp='...') so that the latest correction wins."
    )
    raise FeatureSourceError(
        f"The source of feature view {view.name!r} has {found[0][-1]} (key, event time) "
        f"values with more than one row, e.g. {examples}. A point-in-time join needs one row "
        f"per entity and event time. {fix}"
    )


# -- the join -------------------------------------------------------------------------------------
def point_in_time_join(entities: pa.Table, plans: Sequence[ViewPlan], caller: str) -> pa.Table:
    """The feature columns (output names) for each entity row, in the rows' order."""

    with connect() as con:
        con.register("__wb_entities", entities)
        low, high = con.execute(f"SELECT min({TS}), max({TS}) FROM __wb_entities").fetchall()[0]
        entity_types = describe(con, "__wb_entities")
        ctes = ["e AS (SELECT * FROM __wb_entities)"]
        joins, selected = [], [f"e.{ROW}"]
        for i, plan in enumerate(plans):
            view = plan.view
            where = f"{TS} <= $high"
            if view.ttl is not None:
                where += f" AND {TS} >= $low - to_microseconds({_micros(view.ttl)})"
            rows_sql, source_types = view_rows(con, view, plan.features)
            _check_entity_keys(view, entity_types, source_types, caller)
            check_duplicates(con, plan, rows_sql)
            pruned = f"SELECT * FROM ({rows_sql}) WHERE {where}"
            ctes.append(f"v{i} AS ({latest_correction(pruned, view)})")
            on = " AND ".join(f"e.{quote(k)} = v{i}.{quote(k)}" for k in view.join_keys)
            joins.append(f"ASOF LEFT JOIN v{i} ON {on} AND e.{TS} >= v{i}.{TS}")
            for _, column in plan.features:
                value = f"v{i}.{quote(column)}"
                if view.ttl is not None:
                    value = (
                        f"CASE WHEN v{i}.{TS} >= e.{TS} - to_microseconds({_micros(view.ttl)}) "
                        f"THEN {value} END"
                    )
                selected.append(f"{value} AS {quote(column)}")
        query = (
            f"WITH {', '.join(ctes)} SELECT {', '.join(selected)} FROM e {' '.join(joins)} "
            f"ORDER BY e.{ROW}"
        )
        parameters = {"high": high}
        if any(p.view.ttl is not None for p in plans):
            parameters["low"] = low
        result = con.sql(query, params=parameters).to_arrow_table()
    table: pa.Table = result.drop_columns([ROW])
    return table


def _micros(ttl: Any) -> int:
    return (
        int(ttl.total_seconds() * 1_000_000 + 0.5)
        if ttl.microseconds == 0
        else (ttl.days * 86_400_000_000 + ttl.seconds * 1_000_000 + ttl.microseconds)
    )


def _check_entity_keys(
    view: FeatureView, types: dict[str, str], source_types: dict[str, str], caller: str
) -> None:
    """Each join key of entity_df has the kind of value the view's source keys have."""
    for entity in view.entities:
        for key, declared in zip(entity.join_keys, entity.key_dtypes, strict=True):
            given = kind_of_sql(types[key])
            expected = kind_of_sql(source_types.get(key, types[key]))
            if declared is not None:
                expected = DTYPES[declared].kind
            if given != expected and not {given, expected} <= {"integer", "float"}:
                raise fail(
                    f"join key column {key!r}",
                    caller,
                    f"{expected} values, as entity {entity.name!r} and the source of "
                    f"feature view {view.name!r} have them",
                    f"{types[key]} values",
                    f"Convert it, e.g. entity_df[{key!r}] = entity_df[{key!r}]"
                    f".astype({_astype(expected)!r}).",
                )


def _astype(kind: str) -> str:
    return {"integer": "int64", "float": "float64", "string": "str", "bool": "bool"}.get(
        kind, "int64"
    )


# -- the output -----------------------------------------------------------------------------------
def to_pandas_columns(table: pa.Table, dtypes: dict[str, str]) -> dict[str, Any]:
    """Arrow feature columns as pandas arrays of each feature's declared type (missing: NA)."""
    import pandas as pd
    import pyarrow as pa

    mapper = {
        pa.int64(): pd.Int64Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    out: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        if dtypes[name] == "timestamp":
            series = column.to_pandas()
            out[name] = pd.to_datetime(series).dt.tz_localize("UTC").array
        else:
            out[name] = column.to_pandas(types_mapper=mapper.get).array
    return out


def lineage_payload(
    plans: Sequence[ViewPlan],
    service: tuple[str, int] | None,
    timestamp: str,
    n_rows: int,
) -> str:
    """What a run's training set was made of, as JSON (``wb_feature_lineage.features``)."""
    return json.dumps(
        {
            "service": None if service is None else {"name": service[0], "version": service[1]},
            "timestamp": timestamp,
            "entity_rows": n_rows,
            "views": {
                p.view.name: {
                    "version": p.registered.version,
                    "fingerprint": p.registered.fingerprint,
                    "join_keys": list(p.view.join_keys),
                    "ttl_seconds": None if p.view.ttl is None else p.view.ttl.total_seconds(),
                    "source": p.view.source.to_spec(),
                }
                for p in plans
            },
            "features": [
                {
                    "view": p.view.name,
                    "feature": name,
                    "column": column,
                    "dtype": p.view.feature(name).dtype,
                }
                for p in plans
                for name, column in p.features
            ],
        },
        sort_keys=True,
    )
