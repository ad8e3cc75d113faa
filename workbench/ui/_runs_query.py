"""Paged reads for the runs browser: one page of runs, the total, and the available columns.

``search_runs`` has no offset: reading page 1,000 of 100,000 runs through it means building the
first 50,000 rows. So the browser pages in SQL (``LIMIT``/``OFFSET`` and ``count(*) OVER ()``)
through the public read-only ``client.sql`` over the documented views (``runs``,
``experiments``, ``params``, ``metrics``, ``tags``), compiling the user's filter and order_by
with the same compiler as ``search_runs`` so both accept and mean the same language. Only the
page's runs and the chosen columns are pivoted.

With ``group_nested`` the pages hold trees: a top-level run that matches or has a matching
descendant, followed by its matching descendants (at most ``max_children``), drawn indented;
the total counts those top-level runs. Trees sort by their best matching run (see
:func:`_grouped_rows`).
"""

from __future__ import annotations

import json
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


def _matching(query: RunsQuery, *, flag: bool = False) -> tuple[str, list[str], dict[str, Any]]:
    """SQL of the matching runs (run_id, parent_id, base columns, sort keys ``__o<i>``), the
    ORDER BY terms over those sort keys, and the parameters.

    With ``flag`` the SQL selects every run of the experiments and says in ``__match`` whether
    it matches the filter (the grouped view needs the parents of matching runs too); it then
    leaves out the base columns (see :func:`_base_columns`).
    """
    compiled = compile_over_views(query.filter, query.order_by)
    where, keys, order, joins = compiled.where, compiled.sort_keys, compiled.order, compiled.joins
    parameters: dict[str, Any] = dict(compiled.parameters)
    experiments = "TRUE"
    if query.experiments:
        experiments = "list_contains($__experiments, e.name)"
        parameters["__experiments"] = list(query.experiments)
    base = "".join(f", {sql} AS {name}" for name, sql in _BASE_SQL.items())
    match = f", coalesce(({where}), FALSE) AS __match" if flag else ""
    condition = experiments if flag else f"{experiments} AND ({where})"
    sql = (
        f"SELECT r.run_id, r.parent_id{'' if flag else base}, {', '.join(keys)}{match} "
        "FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
        f"{joins} WHERE {condition}"
    )
    return sql, order, parameters


def _base_columns() -> str:
    """The base columns over ``runs r JOIN experiments e``."""
    return ", ".join(f"{sql} AS {name}" for name, sql in _BASE_SQL.items())


# The tie-breakers compile_over_views appends to every order_by (newest first, then run id).
_TIE_BREAKERS = len(compile_over_views(None, None).order)


def _page_rows(
    client: Workbench, query: RunsQuery, offset: int, limit: int
) -> tuple[pd.DataFrame, int]:
    """The page's top-level runs and (grouped) their matching descendants, and the number of
    top-level rows. Columns: run_id, parent_id, root_id, depth, n_descendants, base columns.

    One statement: the matching set is computed once (materialized) and the page is a top-N
    over it.
    """
    every_tree = not query.filter.strip() and not query.order_by.strip()
    if query.group_nested and not every_tree:
        return _grouped_rows(client, query, offset, limit)
    matching, order, parameters = _matching(query)
    if query.group_nested:  # every run matches: the trees are the top-level runs, in order
        return _top_level_rows(client, query, matching, order, parameters, offset, limit)
    order_sql = ", ".join(order)
    sql = f"""WITH m AS MATERIALIZED ({matching})
        SELECT m.* EXCLUDE ({", ".join(o.split(" ")[0] for o in order)}),
               m.run_id AS root_id, 0 AS depth, m.parent_id AS shown_parent,
               count(*) OVER () AS __total, 0 AS n_descendants
        FROM m ORDER BY {order_sql} LIMIT {int(limit)} OFFSET {int(offset)}"""
    frame = client.sql(sql, **parameters)
    if frame.empty:
        total = client.sql(f"WITH m AS ({matching}) SELECT count(*) AS n FROM m", **parameters)
        return frame, int(total["n"].iloc[0])
    return frame, int(frame["__total"].iloc[0])


def _top_level_rows(
    client: Workbench,
    query: RunsQuery,
    matching: str,
    order: list[str],
    parameters: dict[str, Any],
    offset: int,
    limit: int,
) -> tuple[pd.DataFrame, int]:
    """The grouped view when every run matches (no filter, no order_by): a top-N over the
    top-level runs, then a walk down from the page's runs only."""
    order_sql = ", ".join(order)
    sql = f"""WITH RECURSIVE
        m AS MATERIALIZED ({matching}),
        top AS (
            SELECT *, count(*) OVER () AS __total FROM m
            WHERE parent_id IS NULL OR parent_id NOT IN (SELECT run_id FROM m)
            ORDER BY {order_sql} LIMIT {int(limit)} OFFSET {int(offset)}),
        page AS MATERIALIZED (  -- ranked after the top-N: a rank over all rows would sort them
            SELECT run_id, __total, row_number() OVER (ORDER BY {order_sql}) AS __rank
            FROM top),
        d(run_id, root_id, depth) AS (
            SELECT run_id, run_id, 0 FROM page
            UNION ALL SELECT m.run_id, d.root_id, d.depth + 1 FROM m JOIN d
            ON m.parent_id = d.run_id WHERE d.depth < 8)
        SELECT m.* EXCLUDE ({", ".join(o.split(" ")[0] for o in order)}),
               d.root_id, m.parent_id AS shown_parent, d.depth, p.__total, p.__rank,
               count(*) OVER (PARTITION BY d.root_id) - 1 AS n_descendants,
               row_number() OVER (PARTITION BY d.root_id ORDER BY d.depth, {order_sql}) AS __n
        FROM d JOIN m USING (run_id) JOIN page p ON p.run_id = d.root_id
        QUALIFY d.depth = 0 OR __n <= {int(query.max_children) + 1}
        ORDER BY d.depth, p.__rank, {order_sql}"""
    frame = client.sql(sql, **parameters)
    if frame.empty:
        total = client.sql(
            f"WITH m AS ({matching}) SELECT count(*) AS n FROM m "
            "WHERE parent_id IS NULL OR parent_id NOT IN (SELECT run_id FROM m)",
            **parameters,
        )
        return frame, int(total["n"].iloc[0])
    return frame, int(frame["__total"].iloc[0])


def _grouped_rows(
    client: Workbench, query: RunsQuery, offset: int, limit: int
) -> tuple[pd.DataFrame, int]:
    """Rows of the grouped view: a page of trees, each a top-level run with its matching
    descendants.

    A tree is on the pages when any of its runs matches the filter (a parent whose child
    matches is shown with that child, the child is not promoted to the top level), so the
    total is the number of top-level runs matching, with or without a filter. Trees are
    ordered by their representative: the top-level run itself when it matches and has the
    first sort key, else its first matching descendant in the requested order (a sweep sorts
    by its best trial); trees in which no run has the key come last, in either direction.
    A descendant whose parent does not match hangs under its nearest shown ancestor
    (``shown_parent``; ``depth`` counts shown levels).

    Only nested runs are walked to find their top-level run (``up``), and only the page's
    trees are walked down for display (``d``), so the cost stays that of a top-N.
    """
    scope, order, parameters = _matching(query, flag=True)
    names = [o.split(" ")[0] for o in order]
    n_user = len(order) - _TIE_BREAKERS
    order_sql = ", ".join(order)
    user_keys = "".join(f", {n}" for n in names[:n_user])
    keyed = f"{names[0]} IS NOT NULL" if n_user else "TRUE"
    best = ", ".join(order[:n_user]) if n_user else "depth"
    ties = ", ".join(f"r.{n}" for n in names[n_user:])
    sql = f"""WITH RECURSIVE
        s AS MATERIALIZED ({scope}),
        up(run_id, ancestor, depth) AS (
            SELECT c.run_id, c.parent_id, 1 FROM s c JOIN s p ON p.run_id = c.parent_id
            UNION ALL
            SELECT up.run_id, a.parent_id, up.depth + 1 FROM up
            JOIN s a ON a.run_id = up.ancestor JOIN s p ON p.run_id = a.parent_id
            WHERE up.depth < 8),
        nested AS MATERIALIZED (
            SELECT run_id, arg_max(ancestor, depth) AS root_id, max(depth) AS depth
            FROM up GROUP BY run_id),
        keyed AS MATERIALIZED (
            SELECT run_id AS root_id{user_keys} FROM s
            WHERE __match AND {keyed} AND run_id NOT IN (SELECT run_id FROM nested)),
        others AS (
            SELECT root_id{user_keys} FROM (
                SELECT n.root_id, n.depth{user_keys} FROM nested n JOIN s USING (run_id)
                WHERE s.__match
                UNION ALL
                SELECT run_id, 0{user_keys} FROM s
                WHERE __match AND NOT ({keyed}) AND run_id NOT IN (SELECT run_id FROM nested))
            WHERE root_id NOT IN (SELECT root_id FROM keyed)
            QUALIFY row_number() OVER (PARTITION BY root_id ORDER BY {best}, depth) = 1),
        tops AS (
            SELECT t.* EXCLUDE (root_id), r.run_id, {ties}
            FROM (SELECT * FROM keyed UNION ALL SELECT * FROM others) t
            JOIN s r ON r.run_id = t.root_id),
        top AS (
            SELECT *, count(*) OVER () AS __total FROM tops
            ORDER BY {order_sql} LIMIT {int(limit)} OFFSET {int(offset)}),
        page AS MATERIALIZED (  -- ranked after the top-N: a rank over all rows would sort them
            SELECT run_id, __total, row_number() OVER (ORDER BY {order_sql}) AS __rank
            FROM top),
        d(run_id, root_id, depth, shown, shown_parent, shown_depth) AS (
            SELECT run_id, run_id, 0, TRUE, NULL::VARCHAR, 0 FROM page
            UNION ALL
            SELECT s.run_id, d.root_id, d.depth + 1, s.__match,
                   CASE WHEN d.shown THEN d.run_id ELSE d.shown_parent END,
                   CASE WHEN d.shown THEN d.shown_depth + 1 ELSE d.shown_depth END
            FROM s JOIN d ON s.parent_id = d.run_id WHERE d.depth < 8)
        SELECT s.run_id, s.parent_id, {_base_columns()}, d.root_id, d.shown_parent,
               d.shown_depth AS depth, p.__total, p.__rank,
               count(*) OVER (PARTITION BY d.root_id) - 1 AS n_descendants,
               row_number() OVER (PARTITION BY d.root_id ORDER BY d.depth, {order_sql}) AS __n
        FROM d JOIN s USING (run_id) JOIN page p ON p.run_id = d.root_id
        JOIN runs r ON r.run_id = d.run_id JOIN experiments e ON e.experiment_id = r.experiment_id
        WHERE d.depth = 0 OR s.__match
        QUALIFY d.depth = 0 OR __n <= {int(query.max_children) + 1}
        ORDER BY d.depth, p.__rank, {order_sql}"""
    frame = client.sql(sql, **parameters)
    if frame.empty:
        counted = sql.rsplit("page AS MATERIALIZED", 1)[0].rstrip().rstrip(",")
        total = client.sql(f"{counted} SELECT count(*) AS n FROM tops", **parameters)
        return frame, int(total["n"].iloc[0])
    return frame, int(frame["__total"].iloc[0])


def _tree_order(frame: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(run_id, depth, descendants) in display order: each top-level run, then its descendants
    depth-first under their nearest shown ancestor, siblings in query order. ``frame`` is
    ordered by depth, then query order."""
    children: dict[str, list[str]] = {}
    depth_of: dict[str, int] = {}
    roots: list[str] = []
    counts: dict[str, int] = {}
    for run_id, parent_id, root_id, depth, n in frame[
        ["run_id", "shown_parent", "root_id", "depth", "n_descendants"]
    ].itertuples(index=False):
        depth_of[run_id] = int(depth)
        if run_id == root_id:
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
        for root, n in found.loc[
            found["run_id"] == found["root_id"], ["run_id", "n_descendants"]
        ].itertuples(index=False)
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

    Keys are those of the query's experiments (all experiments when none is chosen). Params
    and metrics come most useful first: the objectives of the sweeps in scope, then the keys
    most runs carry, then by name. ``internal`` lists the keys workbench itself logs for its
    own bookkeeping (the settings of a sweep's parent run such as ``params.directions``,
    ``workbench.*`` keys): they can be shown but are never among :func:`default_columns`.
    """
    experiments = list(query.experiments) if query and query.experiments else None
    scope = "WHERE list_contains($__experiments, r.experiment)" if experiments else ""
    parameters = {"__experiments": experiments} if experiments else {}
    within = (
        "WHERE run_id IN (SELECT run_id FROM runs r "
        "WHERE list_contains($__experiments, r.experiment))"
        if experiments
        else ""
    )
    # Counted without joining every value to its run: the few sweep parents are a small set.
    keys = client.sql(
        f"""WITH parents AS MATERIALIZED (
            SELECT run_id FROM tags WHERE key = '{_KIND_TAG}' AND value = '{_SWEEP_KIND}'),
        found AS (
            SELECT 'params' AS kind, key, run_id FROM params {within}
            UNION ALL SELECT 'metrics', key, run_id FROM metrics {within}
            UNION ALL SELECT 'tags', key, run_id FROM tags {within})
        SELECT kind, key,
               count(*) - count(*) FILTER (WHERE run_id IN (SELECT run_id FROM parents)) AS n
        FROM found GROUP BY kind, key ORDER BY kind, n DESC, key""",
        **parameters,
    )
    objectives = _sweep_objectives(client, scope, parameters)
    result: dict[str, list[str]] = {"attributes": list(BASE_COLUMNS)}
    internal: list[str] = []
    for kind in KINDS:
        rows = keys.loc[keys["kind"] == kind]
        ranked = list(zip(rows["key"].astype(str), rows["n"].astype(int), strict=True))
        if kind == "metrics":  # objectives first, in their order; the sort is stable
            ranked.sort(
                key=lambda item: (
                    objectives.index(item[0]) if item[0] in objectives else len(objectives)
                )
            )
        result[kind] = [f"{kind}.{key}" for key, _ in ranked]
        internal += [
            f"{kind}.{key}"
            for key, n in ranked
            if key.startswith("workbench.") or (kind != "tags" and n == 0 and key not in objectives)
        ]
    result["internal"] = internal
    return result


_KIND_TAG = "workbench.kind"
_SWEEP_KIND = "sweep"  # the parent run of a sweep: its params are the sweep's settings


def _sweep_objectives(client: Workbench, scope: str, parameters: Mapping[str, Any]) -> list[str]:
    """The metric names the sweeps in scope log their objective values under, in order."""
    frame = client.sql(
        f"""SELECT p.value FROM runs r
            JOIN tags k ON k.run_id = r.run_id AND k.key = '{_KIND_TAG}'
                AND k.value = '{_SWEEP_KIND}'
            JOIN params p ON p.run_id = r.run_id AND p.key = 'metric_names'
            {scope} ORDER BY r.start_time DESC""",
        **parameters,
    )
    names: list[str] = []
    for text in frame["value"]:
        try:
            value = json.loads(str(text))
        except ValueError:
            value = [text]
        for name in value if isinstance(value, list) else [value]:
            if str(name) not in names:
                names.append(str(name))
    return names


def default_columns(available: Mapping[str, Sequence[str]]) -> list[str]:
    """Base attributes, then the key metrics, then the user's params (at most a few each).

    Keys workbench logs for itself (``available["internal"]``: a sweep's ``directions``,
    ``workbench.*`` keys) are never chosen; the order is that of :func:`list_columns`.
    """
    internal = set(available.get("internal", ()))
    chosen = list(available.get("attributes", BASE_COLUMNS))
    for kind in ("metrics", "params"):
        keys = [c for c in available.get(kind, []) if c not in internal]
        chosen += keys[:MAX_DEFAULT_PER_KIND]
    return chosen


def list_experiment_names(client: Workbench) -> list[str]:
    """Names of the live experiments, sorted."""
    frame = client.sql("SELECT name FROM experiments ORDER BY name")
    return [str(n) for n in frame["name"]]
