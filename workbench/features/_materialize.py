"""Materialization: the latest value per entity, from a view's source into the online table.

``materialize(views, start, end)`` reads each view's rows with an event time in ``[start, end]``,
keeps each entity's latest row (the last-created one among corrections with equal event time),
merges them with what the online table holds (a newer event time wins, so materializing an older
window never overwrites newer values) and replaces the view's file. All views of one call become
current together, in one swap of the manifest (``_online``): a failure at any point leaves the
online table exactly as it was. ``materialize_incremental`` starts each view where its last run
ended.

Quality at the door: by default each view's rows in the window are validated first
(``_quality``) and a view that fails refuses the whole run, with the report.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.features._engine import connect, describe, utc_naive
from workbench.features._errors import FeatureValidationError
from workbench.features._offline import CREATED, TS, ViewPlan, check_duplicates, view_rows
from workbench.features._quality import ValidationReport, validate_view
from workbench.features._sources import quote
from workbench.features._types import kind_of_sql

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.features._catalog import RegisteredDefinition
    from workbench.features._definitions import FeatureView
    from workbench.features._online import OnlineStore, _Writer

__all__ = ["MaterializationResult", "MaterializedView", "materialize_views"]

N = "__wb_n"


@dataclass(frozen=True)
class MaterializedView:
    """What one view's materialization did."""

    view: str
    version: int
    start: dt.datetime | None
    end: dt.datetime
    rows_read: int
    entities_updated: int
    entities_total: int
    seconds: float


@dataclass(frozen=True)
class MaterializationResult:
    """One materialization run: each view's numbers, and the validation reports."""

    location: str
    views: tuple[MaterializedView, ...]
    reports: tuple[ValidationReport, ...]

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{v.view} v{v.version}: {v.entities_updated:,} updated / {v.entities_total:,}"
            for v in self.views
        )
        return f"MaterializationResult({parts})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.features._display import materialization_bundle

        return materialization_bundle(self)


def materialize_views(
    online: OnlineStore,
    views: Sequence[RegisteredDefinition],
    start: Any,
    end: Any,
    *,
    validate: bool,
    incremental: bool,
    caller: str,
) -> MaterializationResult:
    """Materialize ``views`` in one run (see the module)."""
    high = utc_naive(end, caller, name="end")
    low = None if start is None else utc_naive(start, caller, name="start")
    if low is not None and low > high:
        from workbench._validation import fail

        raise fail("start", caller, f"at or before end ({high})", low)
    done, reports = [], []
    with online.writing() as writer:
        for registered in views:
            view: FeatureView = registered.definition  # type: ignore[assignment]
            began = time.perf_counter()
            entry = writer.entry(view.name)
            window_start = low
            if incremental and entry is not None and entry.get("watermark"):
                window_start = dt.datetime.fromisoformat(entry["watermark"])
            if validate:
                report = validate_view(view, start=window_start, end=high)
                reports.append(report)
                if not report.passed:
                    raise FeatureValidationError(
                        f"Materialization refused; nothing was written to the online table "
                        f"(it is as it was). {report}\nFix the source, or pass validate=False "
                        "to materialize anyway (duplicates are refused even then).",
                        report=report,
                    )
            table, rows_read, updated = _latest(view, registered, writer, window_start, high)
            watermark = high
            if entry is not None and entry.get("watermark"):
                watermark = max(high, dt.datetime.fromisoformat(entry["watermark"]))
            runs = list((entry or {}).get("runs", []))[-49:]
            runs.append(
                {
                    "start": None if window_start is None else window_start.isoformat(),
                    "end": high.isoformat(),
                    "at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
                    "version": registered.version,
                    "rows_read": rows_read,
                    "entities_updated": updated,
                }
            )
            total = table.num_rows if table is not None else int((entry or {}).get("rows", 0))
            writer.stage(
                view.name,
                table,
                {
                    "version": registered.version,
                    "fingerprint": registered.fingerprint,
                    "join_keys": list(view.join_keys),
                    "key_kinds": _key_kinds(view, table, writer),
                    "features": {f.name: f.dtype for f in view.features},
                    "ttl_seconds": None if view.ttl is None else view.ttl.total_seconds(),
                    "rows": total,
                    "watermark": watermark.isoformat(),
                    "runs": runs,
                },
            )
            done.append(
                MaterializedView(
                    view.name,
                    registered.version,
                    window_start,
                    high,
                    rows_read,
                    updated,
                    total,
                    time.perf_counter() - began,
                )
            )
    return MaterializationResult(str(online.path), tuple(done), tuple(reports))


def _latest(
    view: FeatureView,
    registered: RegisteredDefinition,
    writer: _Writer,
    low: dt.datetime | None,
    high: dt.datetime,
) -> tuple[pa.Table | None, int, int]:
    """The view's new table (None: unchanged), the rows read and the entities updated."""
    features = [(f.name, f.name) for f in view.features]
    keys = ", ".join(quote(k) for k in view.join_keys)
    created = view.source.created_timestamp is not None
    order = f"{{'t': {TS}, 'c': {CREATED}}}" if created else TS
    with connect() as con:
        rows_sql, _ = view_rows(con, view, features)
        where = f"{TS} <= $high" + (f" AND {TS} >= $low" if low is not None else "")
        window = f"SELECT * FROM ({rows_sql}) WHERE {where}"
        parameters = {"high": high, **({"low": low} if low is not None else {})}
        check_duplicates(con, ViewPlan(registered, tuple(features)), _bound(window, parameters))
        values = [f"arg_max_null({TS}, {order}) AS {TS}"]
        if created:
            values.append(f"arg_max_null({CREATED}, {order}) AS {CREATED}")
        values += [f"arg_max_null({quote(n)}, {order}) AS {quote(n)}" for n, _ in features]
        latest = (
            f"SELECT {keys}, {', '.join(values)}, count(*) AS {N} FROM ({window}) GROUP BY {keys}"
        )
        con.execute(f"CREATE TEMP TABLE __wb_latest AS {latest}", parameters)
        row = con.execute(f"SELECT count(*), coalesce(sum({N}), 0) FROM __wb_latest").fetchall()[0]
        updated, rows_read = int(row[0]), int(row[1])
        old = writer.current(view.name)
        if updated == 0 and old is not None:
            return None, rows_read, 0
        columns = [*view.join_keys, TS, *([CREATED] if created else []), *(n for n, _ in features)]
        listed = ", ".join(quote(c) for c in columns)
        new = f"SELECT {listed} FROM __wb_latest"
        merged = old is not None and old.column_names[: len(view.join_keys)] == list(view.join_keys)
        if merged:
            assert old is not None
            con.register("__wb_old", old)
            old_types = describe(con, "__wb_old")
            new_types = describe(con, "__wb_latest")
            kept = [
                quote(c) if old_types.get(c) == new_types[c] else f"NULL::{new_types[c]}"
                for c in columns
            ]
            union = f"{new} UNION ALL SELECT {', '.join(kept)} FROM __wb_old"
            picked = [
                f"arg_max_null({quote(c)}, {order}) AS {quote(c)}"
                for c in columns[len(view.join_keys) :]
            ]
            query = f"SELECT {keys}, {', '.join(picked)} FROM ({union}) GROUP BY {keys}"
        else:
            query = new
        table = con.sql(
            f"SELECT * REPLACE (CAST({TS} AS TIMESTAMP) AS {TS}) FROM ({query})"
        ).to_arrow_table()
    return table, rows_read, updated


def _bound(sql: str, parameters: dict[str, Any]) -> str:
    """``sql`` with its ``$low``/``$high`` parameters written in (for a query run without them)."""
    for name, value in parameters.items():
        sql = sql.replace(f"${name}", f"TIMESTAMP '{value.isoformat(sep=' ')}'")
    return sql


def _key_kinds(view: FeatureView, table: pa.Table | None, writer: _Writer) -> dict[str, str]:
    if table is None:
        entry = writer.entry(view.name) or {}
        return dict(entry.get("key_kinds", {}))
    import pyarrow as pa

    kinds = {}
    for key in view.join_keys:
        arrow = table.schema.field(key).type
        if pa.types.is_integer(arrow):
            kinds[key] = "integer"
        elif (
            pa.types.is_string(arrow)
            or pa.types.is_large_string(arrow)
            or pa.types.is_string_view(arrow)
        ):
            kinds[key] = "string"
        else:
            kinds[key] = kind_of_sql(str(arrow))
    return kinds
