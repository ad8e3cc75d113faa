"""Read queries over an open DuckDB connection: snapshots, search, metric history.

Search runs in two steps: the filter (compiled to parameterized SQL) picks and orders run ids
into a temporary table, then one aggregate query per kind pivots params, metrics and tags of
just those runs into ``params.*``, ``metrics.*`` and ``tags.*`` columns.
"""

from __future__ import annotations

import datetime as dt
import json
from types import MappingProxyType
from typing import Any

import duckdb
import pandas as pd

from workbench.entities import ArtifactRef, Dataset, DatasetInput, Experiment, Run, RunStatus
from workbench.store.base import RunSearch

BASE_COLUMNS = (
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


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def experiment_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    name: str | None = None,
    experiment_id: str | None = None,
    include_deleted: bool = False,
) -> list[Experiment]:
    """Experiments (live ones unless ``include_deleted``), optionally by name or id."""
    rows = con.execute(
        """SELECT experiment_id, name, created_at, deleted_at, description FROM wb_experiments
           WHERE ($all OR deleted_at IS NULL) AND ($name IS NULL OR name = $name)
             AND ($id IS NULL OR experiment_id = $id)
           ORDER BY created_at, name""",
        {"all": include_deleted, "name": name, "id": experiment_id},
    ).fetchall()
    return [Experiment(i, n, _aware(c), _aware(d), desc) for i, n, c, d, desc in rows]  # type: ignore[arg-type]


def param_value(text: str | None, kind: str) -> Any:
    """Turn a stored param back into the Python value that was logged."""
    if kind == "null" or text is None:
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text == "True"
    if kind == "json":
        return json.loads(text)
    return text


def run_snapshot(con: duckdb.DuckDBPyConnection, run_id: str) -> Run | None:
    """Everything about one run, or None when there is no such run."""
    row = con.execute(
        """SELECT r.run_id, r.name, e.name, r.experiment_id, r.status, r.start_time, r.end_time,
                  r.parent_id, r.error, r.context
           FROM wb_runs r JOIN wb_experiments e USING (experiment_id) WHERE r.run_id = $id""",
        {"id": run_id},
    ).fetchone()
    if row is None:
        return None
    p = {"id": run_id}
    params = {
        k: param_value(v, t)
        for k, v, t in con.execute(
            "SELECT key, value, value_type FROM wb_params WHERE run_id = $id ORDER BY key", p
        ).fetchall()
    }
    metrics = dict(
        con.execute(
            "SELECT key, latest FROM wb_metric_summary WHERE run_id = $id ORDER BY key", p
        ).fetchall()
    )
    tags = dict(
        con.execute("SELECT key, value FROM wb_tags WHERE run_id = $id ORDER BY key", p).fetchall()
    )
    inputs = tuple(
        DatasetInput(_dataset_from_row(r[1:]), r[0])
        for r in con.execute(
            """SELECT i.context, d.digest, d.name, d.source, d.n_rows, d.n_cols, d.schema, d.profile
               FROM wb_run_inputs i JOIN wb_datasets d USING (digest)
               WHERE i.run_id = $id ORDER BY i.context, d.name""",
            p,
        ).fetchall()
    )
    artifacts = tuple(
        ArtifactRef(*r)
        for r in con.execute(
            "SELECT path, digest, size, media_type FROM wb_artifacts WHERE run_id = $id "
            "ORDER BY path",
            p,
        ).fetchall()
    )
    children = tuple(
        r[0]
        for r in con.execute(
            "SELECT run_id FROM wb_runs WHERE parent_id = $id AND deleted_at IS NULL "
            "ORDER BY start_time",
            p,
        ).fetchall()
    )
    return Run(
        run_id=row[0],
        name=row[1],
        experiment=row[2],
        experiment_id=row[3],
        status=RunStatus(row[4]),
        start_time=_aware(row[5]),  # type: ignore[arg-type]
        end_time=_aware(row[6]),
        parent_id=row[7],
        error=row[8],
        params=MappingProxyType(params),
        metrics=MappingProxyType(metrics),
        tags=MappingProxyType(tags),
        context=MappingProxyType(json.loads(row[9] or "{}")),
        inputs=inputs,
        artifacts=artifacts,
        children=children,
    )


def _dataset_from_row(row: tuple[Any, ...]) -> Dataset:
    digest, name, source, n_rows, n_cols, schema, profile = row
    return Dataset(
        digest,
        name,
        source,
        n_rows,
        n_cols,
        MappingProxyType(json.loads(schema or "{}")),
        MappingProxyType(json.loads(profile or "{}")),
    )


def dataset(con: duckdb.DuckDBPyConnection, digest: str) -> Dataset | None:
    """A dataset by digest."""
    row = con.execute(
        "SELECT digest, name, source, n_rows, n_cols, schema, profile FROM wb_datasets "
        "WHERE digest = $d",
        {"d": digest},
    ).fetchone()
    return None if row is None else _dataset_from_row(row)


def metric_history(
    con: duckdb.DuckDBPyConnection, run_ids: list[str], keys: list[str] | None
) -> pd.DataFrame:
    """All points of the given runs (and keys), ordered by run, key, step, time."""
    df = con.execute(
        """SELECT run_id, key, step, value, timestamp FROM wb_metric_points
           WHERE list_contains($ids, run_id) AND ($keys IS NULL OR list_contains($keys, key))
           ORDER BY run_id, key, step, timestamp""",
        {"ids": run_ids, "keys": keys},
    ).df()
    df["timestamp"] = df["timestamp"].dt.tz_localize("UTC")
    return df


def search_runs(con: duckdb.DuckDBPyConnection, search: RunSearch) -> pd.DataFrame:
    """Runs matching ``search`` as one wide DataFrame, in the requested order."""
    from workbench.store._filter import RunQuery

    query = RunQuery()
    where = query.where(search.filter)
    order = [*query.order_by(list(search.order_by)), "r.start_time DESC", "r.run_id"]
    conditions = ["TRUE"]
    if not search.include_deleted:
        conditions += ["r.deleted_at IS NULL", "e.deleted_at IS NULL"]
    parameters: dict[str, Any] = dict(query.parameters)
    if search.experiments is not None:
        conditions.append("list_contains($__experiments, e.name)")
        parameters["__experiments"] = list(search.experiments)
    limit = "" if search.max_results is None else f"LIMIT {int(search.max_results)}"
    if search.offset:
        limit += f" OFFSET {int(search.offset)}"
    con.execute("DROP TABLE IF EXISTS __selected")
    con.execute(
        f"""CREATE TEMP TABLE __selected AS
            SELECT r.run_id, row_number() OVER (ORDER BY {", ".join(order)}) AS __order
            FROM wb_runs r JOIN wb_experiments e ON e.experiment_id = r.experiment_id
            {query.join_sql()}
            WHERE {" AND ".join(conditions)} AND ({where})
            ORDER BY __order {limit}""",
        parameters,
    )
    try:
        return _wide_frame(con, search.metric_stats)
    finally:
        con.execute("DROP TABLE IF EXISTS __selected")


_DISCOVER_KEYS = """
    SELECT 'p' AS kind, key,
           CASE WHEN bool_and(value_type IN ('int', 'null')) THEN 'TRY_CAST(value AS BIGINT)'
                WHEN bool_and(value_type IN ('int', 'float', 'null')) THEN 'value_num'
                ELSE 'value' END AS expression
    FROM wb_params WHERE run_id IN (SELECT run_id FROM __selected) GROUP BY key
    UNION ALL
    SELECT 'm', key, NULL FROM wb_metric_summary
    WHERE run_id IN (SELECT run_id FROM __selected) GROUP BY key
    UNION ALL
    SELECT 't', key, 'value' FROM wb_tags
    WHERE run_id IN (SELECT run_id FROM __selected) GROUP BY key
    ORDER BY kind, key
"""
_TABLES = {"p": "wb_params", "m": "wb_metric_summary", "t": "wb_tags"}


def _pivot(
    kind: str, keys: list[tuple[str, str | None]], columns: dict[str, str], names: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """A sub-query with one column per (key, column) of one table, for the selected runs.

    ``keys`` pairs each key with the SQL expression of its value (None: use ``columns``).
    SQL columns get neutral aliases, recorded in ``names`` (DuckDB folds the case of column
    names, and keys ``A`` and ``a`` are different params).
    """
    parameters: dict[str, Any] = {}
    selects = []
    for i, (key, value_expression) in enumerate(keys):
        parameters[f"{kind}k{i}"] = key
        for label, expression in columns.items():
            alias = f"__c{len(names)}"
            names[alias] = label.format(key=key)
            selects.append(
                f"any_value({value_expression or expression}) FILTER (WHERE key = ${kind}k{i})"
                f" AS {alias}"
            )
    sql = (
        f"(SELECT run_id, {', '.join(selects)} FROM {_TABLES[kind]} "
        f"WHERE run_id IN (SELECT run_id FROM __selected) GROUP BY run_id)"
    )
    return sql, parameters


def _wide_frame(con: duckdb.DuckDBPyConnection, metric_stats: tuple[str, ...]) -> pd.DataFrame:
    columns = {
        "p": {"params.{key}": "value"},
        "m": {
            ("metrics.{key}" if stat == "latest" else f"{stat}(metrics.{{key}})"): stat
            for stat in metric_stats
        },
        "t": {"tags.{key}": "value"},
    }
    keys: dict[str, list[tuple[str, str | None]]] = {"p": [], "m": [], "t": []}
    for kind, key, expression in con.execute(_DISCOVER_KEYS).fetchall():
        keys[kind].append((key, expression if kind == "p" else None))
    joins: list[str] = []
    extra: list[str] = []
    parameters: dict[str, Any] = {}
    names: dict[str, str] = {}
    for kind, kind_keys in keys.items():
        if kind_keys:
            sub, sub_parameters = _pivot(kind, kind_keys, columns[kind], names)
            joins.append(f"LEFT JOIN {sub} {kind} ON {kind}.run_id = s.run_id")
            extra.append(f"{kind}.* EXCLUDE (run_id)")
            parameters.update(sub_parameters)
    df = con.execute(
        f"""SELECT r.run_id, r.name, e.name AS experiment, r.status, r.start_time, r.end_time,
                   epoch(r.end_time) - epoch(r.start_time) AS duration_s, r.parent_id, r.error
                   {"".join(", " + e for e in extra)}
            FROM __selected s JOIN wb_runs r ON r.run_id = s.run_id
            JOIN wb_experiments e ON e.experiment_id = r.experiment_id
            {" ".join(joins)}
            ORDER BY s.__order""",
        parameters,
    ).df()
    df = df.rename(columns=names)
    for column in ("start_time", "end_time"):
        df[column] = df[column].dt.tz_localize("UTC")
    return df
