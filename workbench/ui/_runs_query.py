"""Paged reads for the runs browser: one page of runs, the total, and the available columns.

``search_runs`` has no offset: reading page 1,000 of 100,000 runs through it means building the
first 50,000 rows. So the browser pages in SQL (``LIMIT``/``OFFSET`` and ``count(*) OVER ()``)
through the public read-only ``client.sql`` over the documented views (``runs``,
``experiments``, ``params``, ``metrics``, ``tags``), compiling the user's filter and order_by
with the same compiler as ``search_runs`` so both accept and mean the same language. Only the
page's runs and the chosen columns are pivoted.

With ``group_nested`` the pages hold top-level runs (matching runs whose parent does not match);
each is followed by its matching descendants (at most ``max_children``), drawn indented.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.store._filter import compile_over_views  # the one filter-language compiler

if TYPE_CHECKING:
    from workbench.client import Workbench

__all__ = [
    "BASE_COLUMNS",
    "RunsPage",
    "RunsQuery",
    "default_columns",
    "fetch_page",
    "list_columns",
    "list_experiment_names",
]

BASE_COLUMNS = ("name", "experiment", "status", "start_time", "duration_s")
KINDS = ("params", "metrics", "tags")
MAX_DEFAULT_PER_KIND = 5


@dataclass(frozen=True)
class RunsQuery:
    """What the browser shows: experiments, filter and order_by in the filter language."""

    experiments: tuple[str, ...] = ()
    filter: str = ""
    order_by: str = ""
    group_nested: bool = True
    max_children: int = 50


@dataclass(frozen=True)
class RunsPage:
    """One page of runs (``frame``), the number of rows paged over and the page count."""

    frame: pd.DataFrame
    total: int
    page: int
    page_size: int
    columns: tuple[str, ...] = ()
    hidden_children: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def first_row(self) -> int:
        """1-based index of the page's first top-level row (0 when empty)."""
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.page_size)


_BASE_SQL = {
    "name": "r.name",
    "experiment": "e.name",
    "status": "r.status",
    "start_time": "r.start_time",
    "end_time": "r.end_time",
    "duration_s": "r.duration_s",
}


def _matching(query: RunsQuery) -> tuple[str, list[str], dict[str, Any]]:
    """SQL of the matching runs (run_id, parent_id, base columns, sort keys ``__o<i>``), the
    ORDER BY terms over those sort keys, and the parameters."""
    compiled = compile_over_views(query.filter, query.order_by)
    where, keys, order, joins = compiled.where, compiled.sort_keys, compiled.order, compiled.joins
    parameters: dict[str, Any] = dict(compiled.parameters)
    experiments = "TRUE"
    if query.experiments:
        experiments = "list_contains($__experiments, e.name)"
        parameters["__experiments"] = list(query.experiments)
    base = ", ".join(f"{sql} AS {name}" for name, sql in _BASE_SQL.items())
    sql = (
        f"SELECT r.run_id, r.parent_id, {base}, {', '.join(keys)} "
        "FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
        f"{joins} WHERE {experiments} AND ({where})"
    )
    return sql, order, parameters


def _page_rows(
    client: Workbench, query: RunsQuery, offset: int, limit: int
) -> tuple[pd.DataFrame, int]:
    """The page's top-level runs and (grouped) their matching descendants, and the number of
    top-level rows. Columns: run_id, parent_id, root_id, depth, n_descendants, base columns.

    One statement: the matching set is computed once (materialized), the page is a top-N over
    it, and descendants are found by a recursive walk from the page's runs only.
    """
    matching, order, parameters = _matching(query)
    roots = "TRUE"
    if query.group_nested:
        roots = "parent_id IS NULL OR parent_id NOT IN (SELECT run_id FROM m)"
    walk = (
        "UNION ALL SELECT m.run_id, d.root_id, d.depth + 1 FROM m JOIN d "
        "ON m.parent_id = d.run_id WHERE d.depth < 8"
        if query.group_nested
        else ""
    )
    order_sql = ", ".join(order)
    sql = f"""WITH RECURSIVE
        m AS MATERIALIZED ({matching}),
        page AS MATERIALIZED (
            SELECT run_id, count(*) OVER () AS __total FROM m WHERE {roots}
            ORDER BY {order_sql} LIMIT {int(limit)} OFFSET {int(offset)}),
        d(run_id, root_id, depth) AS (SELECT run_id, run_id, 0 FROM page {walk})
        SELECT m.* EXCLUDE ({", ".join(o.split(" ")[0] for o in order)}),
               d.root_id, d.depth, p.__total,
               count(*) OVER (PARTITION BY d.root_id) - 1 AS n_descendants,
               row_number() OVER (PARTITION BY d.root_id ORDER BY d.depth, {order_sql}) AS __n
        FROM d JOIN m USING (run_id) JOIN page p ON p.run_id = d.root_id
        QUALIFY d.depth = 0 OR __n <= {int(query.max_children) + 1}
        ORDER BY d.depth, {order_sql}"""
    frame = client.sql(sql, **parameters)
    if frame.empty:
        total = client.sql(
            f"WITH m AS ({matching}) SELECT count(*) AS n FROM m WHERE {roots}", **parameters
        )
        return frame, int(total["n"].iloc[0])
    return frame, int(frame["__total"].iloc[0])


def _tree_order(frame: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(run_id, depth, descendants) in display order: each top-level run, then its descendants
    depth-first, siblings in query order. ``frame`` is ordered by depth, then query order."""
    children: dict[str, list[str]] = {}
    depth_of: dict[str, int] = {}
    roots: list[str] = []
    counts: dict[str, int] = {}
    for run_id, parent_id, depth, n in frame[
        ["run_id", "parent_id", "depth", "n_descendants"]
    ].itertuples(index=False):
        depth_of[run_id] = int(depth)
        if depth == 0:
            roots.append(run_id)
            counts[run_id] = int(n)
        else:
            children.setdefault(str(parent_id), []).append(run_id)
    rows: list[tuple[str, int, int]] = []

    def visit(run_id: str) -> None:
        for child in children.get(run_id, []):
            rows.append((child, depth_of[child], 0))
            visit(child)

    for root in roots:
        rows.append((root, 0, counts[root]))
        visit(root)
    return rows


def _values(client: Workbench, run_ids: list[str], columns: Sequence[str]) -> pd.DataFrame:
    """The chosen params/metrics/tags of ``run_ids``: one row per run, indexed by run id."""
    result = pd.DataFrame(index=pd.Index(run_ids, name="run_id"))
    wanted = {k: [c.split(".", 1)[1] for c in columns if c.startswith(k + ".")] for k in KINDS}
    sources = {
        "params": "SELECT 'params' AS kind, run_id, key, value AS text, value_num AS num, "
        "value_type FROM params",
        "metrics": "SELECT 'metrics' AS kind, run_id, key, NULL AS text, value AS num, "
        "'float' AS value_type FROM metrics",
        "tags": "SELECT 'tags' AS kind, run_id, key, value AS text, NULL AS num, "
        "'str' AS value_type FROM tags",
    }
    selects, parameters = [], {"__ids": run_ids}
    for kind, keys in wanted.items():
        if keys:
            parameters[f"__{kind}"] = keys
            selects.append(
                f"{sources[kind]} WHERE list_contains($__{kind}, key) "
                "AND run_id IN (SELECT unnest($__ids))"
            )
    if selects:
        values = client.sql(" UNION ALL ".join(selects), **parameters)
        for (value_kind, key), part in values.groupby(["kind", "key"], sort=False):
            cells = [
                _cell(t, n, vt)
                for t, n, vt in part[["text", "num", "value_type"]].itertuples(index=False)
            ]
            result[f"{value_kind}.{key}"] = pd.Series(
                cells, index=part["run_id"].to_numpy(), dtype=object
            )
    for column in columns:
        if column not in result.columns and column not in BASE_COLUMNS:
            result[column] = None
    return result


def _cell(text: Any, number: Any, value_type: Any) -> Any:
    if value_type in ("int", "float") and number is not None and not pd.isna(number):
        return int(number) if value_type == "int" else float(number)
    if value_type == "null":
        return None
    return None if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)


def fetch_page(
    client: Workbench,
    query: RunsQuery,
    *,
    page: int,
    page_size: int,
    columns: Sequence[str],
) -> RunsPage:
    """Page ``page`` (1-based) of the runs ``query`` selects, with ``columns``.

    The frame has ``run_id``, ``parent_id``, ``depth`` (0 for top-level rows), ``children``
    (matching descendants of top-level rows) and the requested columns, in display order.
    A page past the end is clamped to the last page.
    """
    page = max(1, int(page))
    found, total = _page_rows(client, query, (page - 1) * page_size, page_size)
    if found.empty and total and page > 1:
        page = max(1, math.ceil(total / page_size))
        found, total = _page_rows(client, query, (page - 1) * page_size, page_size)
    fixed = ["run_id", "parent_id", "depth", "children"]
    order = [c for c in columns if c not in fixed]
    if found.empty:
        return RunsPage(
            pd.DataFrame(columns=[*fixed, *order]), total, page, page_size, tuple(order)
        )
    rows = _tree_order(found)
    ids = [r for r, _, _ in rows]
    hidden = {
        str(root): int(n) - int((found["root_id"] == root).sum() - 1)
        for root, n in found.loc[found["depth"] == 0, ["run_id", "n_descendants"]].itertuples(
            index=False
        )
    }
    base = found.set_index("run_id").reindex(ids)
    values = _values(client, ids, order)
    frame = pd.DataFrame(
        {
            "run_id": ids,
            "parent_id": base["parent_id"].to_numpy(),
            "depth": [d for _, d, _ in rows],
            "children": [n for _, _, n in rows],
        }
    )
    for column in order:
        source = base if column in BASE_COLUMNS else values.reindex(ids)
        frame[column] = source[column].to_numpy() if column in source else None
    hidden = {r: n for r, n in hidden.items() if n > 0}
    return RunsPage(frame, total, page, page_size, tuple(order), hidden)


def list_columns(client: Workbench, query: RunsQuery | None = None) -> dict[str, list[str]]:
    """The columns a user can show: base attributes and every params/metrics/tags key.

    Keys are those of the query's experiments (all experiments when none is chosen).
    """
    experiments = list(query.experiments) if query and query.experiments else None
    scope = (
        "WHERE run_id IN (SELECT run_id FROM runs WHERE list_contains($__experiments, experiment))"
        if experiments
        else ""
    )
    parameters = {"__experiments": experiments} if experiments else {}
    keys = client.sql(
        f"SELECT 'params' AS kind, key FROM (SELECT DISTINCT key FROM params {scope}) "
        f"UNION ALL SELECT 'metrics', key FROM (SELECT DISTINCT key FROM metrics {scope}) "
        f"UNION ALL SELECT 'tags', key FROM (SELECT DISTINCT key FROM tags {scope}) "
        "ORDER BY 1, 2",
        **parameters,
    )
    result: dict[str, list[str]] = {"attributes": list(BASE_COLUMNS)}
    for kind in KINDS:
        result[kind] = [f"{kind}.{k}" for k in keys.loc[keys["kind"] == kind, "key"]]
    return result


def default_columns(available: Mapping[str, Sequence[str]]) -> list[str]:
    """Base attributes, then the first few params and metrics (internal tags left out)."""
    chosen = list(available.get("attributes", BASE_COLUMNS))
    chosen += list(available.get("params", []))[:MAX_DEFAULT_PER_KIND]
    chosen += list(available.get("metrics", []))[:MAX_DEFAULT_PER_KIND]
    return chosen


def list_experiment_names(client: Workbench) -> list[str]:
    """Names of the live experiments, sorted."""
    frame = client.sql("SELECT name FROM experiments ORDER BY name")
    return [str(n) for n in frame["name"]]
