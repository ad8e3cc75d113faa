"""The one query over runs: filter, order, page, count and (optionally) group nested runs.

``workbench.search_runs``, the Panel runs browser and the JupyterLab sidebar all read runs
through :func:`search_runs`. It works in two steps:

1. **Select.** The filter and order_by, compiled by :mod:`workbench.store._filter` into
   parameterized SQL over ``wb_runs r`` and ``wb_experiments e``, pick the page's run ids, in
   order, into the temporary table ``__selected``, counting every match on the way (the
   frame's ``attrs["total"]``). The page is a top-N over the matching runs: only the page is
   ranked. With ``group_nested`` the page holds trees of runs (:func:`_select_trees`).
2. **Pivot.** One aggregate query per kind turns the params, metrics and tags of just those runs
   (every key they have, or only the requested ``columns``) into ``params.*``, ``metrics.*``
   and ``tags.*`` columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.store._filter import RunQuery
from workbench.store.base import RunSearch

if TYPE_CHECKING:
    import duckdb

__all__ = ["search_runs"]

MAX_DEPTH = 8  # nesting levels walked (a sweep in a pipeline in a run is 3)
_TIE_BREAKERS = ("r.start_time DESC", "r.run_id ASC")  # newest first, then by id
_ORDER_TERM = re.compile(r"^(?P<expr>.*) (?P<dir>ASC|DESC)(?P<nulls> NULLS (?:FIRST|LAST))?$", re.S)
_KINDS = {"params": "p", "metrics": "m", "tags": "t"}


@dataclass(frozen=True)
class _Compiled:
    """One search compiled: ``keys`` are select items ``<expr> AS __o<i>`` and ``order`` sorts
    on those aliases (the first ``n_user`` terms are the user's, the rest tie-breakers)."""

    scope: str  # experiments and deletion, without the filter
    where: str  # the filter
    joins: str
    keys: list[str]
    order: list[str]
    n_user: int
    parameters: dict[str, Any]

    @property
    def order_columns(self) -> list[str]:
        """The sort keys' aliases (``__o<i>``), in ``order``'s order."""
        return [term.split(" ")[0] for term in self.order]

    def matching(self, *, flag: bool = False) -> str:
        """SQL of the matching runs: run_id, parent_id and the sort keys ``__o<i>``.

        With ``flag`` every run in scope is selected, and ``__match`` says whether it matches
        the filter (the grouped view needs the ancestors of matching runs too).
        """
        match = f", coalesce(({self.where}), FALSE) AS __match" if flag else ""
        condition = self.scope if flag else f"{self.scope} AND ({self.where})"
        return (
            f"SELECT r.run_id, r.parent_id, {', '.join(self.keys)}{match} "
            "FROM wb_runs r JOIN wb_experiments e ON e.experiment_id = r.experiment_id "
            f"{self.joins} WHERE {condition}"
        )


def _compile(search: RunSearch) -> _Compiled:
    query = RunQuery()
    where = query.where(search.filter)
    user = query.order_by(list(search.order_by))
    keys, order = [], []
    for i, term in enumerate([*user, *_TIE_BREAKERS]):
        match = _ORDER_TERM.match(term)
        expression, direction, nulls = (
            (match["expr"], match["dir"], match["nulls"] or "") if match else (term, "ASC", "")
        )
        keys.append(f"{expression} AS __o{i}")
        order.append(f"__o{i} {direction}{nulls}")
    conditions = ["TRUE"]
    if not search.include_deleted:
        conditions += ["r.deleted_at IS NULL", "e.deleted_at IS NULL"]
    parameters: dict[str, Any] = dict(query.parameters)
    if search.experiments is not None:
        conditions.append("list_contains($__experiments, e.name)")
        parameters["__experiments"] = list(search.experiments)
    return _Compiled(
        " AND ".join(conditions), where, query.join_sql(), keys, order, len(user), parameters
    )


def search_runs(con: duckdb.DuckDBPyConnection, search: RunSearch) -> pd.DataFrame:
    """Runs matching ``search`` as one wide DataFrame, in the requested order.

    ``attrs["total"]`` is the number of matching runs (top-level trees with ``group_nested``)
    before ``offset`` and ``max_results``; ``max_results=0`` only counts.
    """
    compiled = _compile(search)
    con.execute("DROP TABLE IF EXISTS __selected")
    try:
        if search.group_nested:
            total = _select_trees(con, compiled, search)
        else:
            total = _select_flat(con, compiled, search)
        frame = _wide_frame(con, search)
    finally:
        con.execute("DROP TABLE IF EXISTS __selected")
    frame.attrs["total"] = total
    return frame


def _page(search: RunSearch) -> str:
    limit = "" if search.max_results is None else f"LIMIT {int(search.max_results)}"
    return f"{limit} OFFSET {int(search.offset)}" if search.offset else limit


def _count(con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any]) -> int:
    row = con.execute(sql, parameters).fetchone()
    return 0 if row is None else int(row[0])


def _select_flat(con: duckdb.DuckDBPyConnection, c: _Compiled, search: RunSearch) -> int:
    """Select the page of matching runs; return the number of matching runs."""
    if search.max_results == 0:
        con.execute("CREATE TEMP TABLE __selected (run_id VARCHAR, __order BIGINT)")
        return _count(con, f"SELECT count(*) FROM ({c.matching()}) AS matching", c.parameters)
    order = ", ".join(c.order)
    con.execute(
        f"""CREATE TEMP TABLE __selected AS
        WITH m AS MATERIALIZED ({c.matching()}),
        top AS (SELECT *, count(*) OVER () AS __total FROM m ORDER BY {order} {_page(search)})
        SELECT run_id, row_number() OVER (ORDER BY {order}) AS __order, __total FROM top""",
        c.parameters,
    )
    row = con.execute("SELECT any_value(__total), count(*) FROM __selected").fetchone()
    if row is not None and row[1]:
        return int(row[0])
    return _count(con, f"SELECT count(*) FROM ({c.matching()}) AS matching", c.parameters)


def _select_trees(con: duckdb.DuckDBPyConnection, c: _Compiled, search: RunSearch) -> int:
    """Select a page of trees; return the number of trees (top-level runs) on all pages.

    A tree is on the pages when any of its runs matches the filter (a parent whose child
    matches is shown with that child; the child is not promoted to the top level). Trees are
    ordered by their representative: the top-level run itself when it matches and has the
    first sort key, else its first matching descendant in the requested order (a sweep sorts
    by its best trial); trees in which no run has the key come last, in either direction.
    Each top-level row is followed by its matching descendants (at most ``max_children``),
    depth first, each under its nearest shown ancestor (``depth`` counts shown levels);
    ``children`` is the number of matching descendants of a top-level row.

    Only nested runs are walked up to find their top-level run, and only the page's trees are
    walked down, so the cost stays that of a top-N.
    """
    every_tree = not (search.filter or "").strip() and c.n_user == 0
    ctes = _all_trees(c) if every_tree else _matching_trees(c)
    if search.max_results == 0:
        rows: list[tuple[Any, ...]] = []
        total = _count(con, f"WITH RECURSIVE {ctes} SELECT count(*) FROM tops", c.parameters)
    else:
        rows, total = _tree_rows(con, c, ctes, search)
    ids, depths, children = _tree_order(rows)
    con.execute(
        """CREATE TEMP TABLE __selected AS
        SELECT unnest($ids::VARCHAR[]) AS run_id, unnest($depth::INTEGER[]) AS depth,
               unnest($children::BIGINT[]) AS children, unnest($order::BIGINT[]) AS __order""",
        {"ids": ids, "depth": depths, "children": children, "order": list(range(1, len(ids) + 1))},
    )
    return total


def _all_trees(c: _Compiled) -> str:
    """CTEs ``s`` (runs in scope, all matching) and ``tops`` (top-level runs) without a filter
    or order_by: the trees are the top-level runs."""
    return f"""s AS MATERIALIZED (SELECT *, TRUE AS __match FROM ({c.matching()}) AS matching),
        tops AS (
            SELECT * FROM s
            WHERE parent_id IS NULL OR parent_id NOT IN (SELECT run_id FROM s))"""


def _matching_trees(c: _Compiled) -> str:
    """CTEs ``s`` (runs in scope, ``__match``) and ``tops`` (one row per tree with a matching
    run: the top-level run's id and the representative's user sort keys, then the top-level
    run's tie-breakers)."""
    names = c.order_columns
    user_keys = "".join(f", {n}" for n in names[: c.n_user])
    keyed = f"{names[0]} IS NOT NULL" if c.n_user else "TRUE"
    best = ", ".join(c.order[: c.n_user]) if c.n_user else "depth"
    ties = ", ".join(f"r.{n}" for n in names[c.n_user :])
    tree_keys = "".join(f"t.{n}, " for n in names[: c.n_user])
    return f"""s AS MATERIALIZED ({c.matching(flag=True)}),
        up(run_id, ancestor, depth) AS (
            SELECT c.run_id, c.parent_id, 1 FROM s c JOIN s p ON p.run_id = c.parent_id
            UNION ALL
            SELECT up.run_id, a.parent_id, up.depth + 1 FROM up
            JOIN s a ON a.run_id = up.ancestor JOIN s p ON p.run_id = a.parent_id
            WHERE up.depth < {MAX_DEPTH}),
        nested AS MATERIALIZED (  -- each nested run's top-level run: its deepest ancestor
            SELECT run_id, ancestor AS root_id, depth FROM up
            JOIN (SELECT run_id, max(depth) AS depth FROM up GROUP BY run_id) deepest
            USING (run_id, depth)),
        keyed AS MATERIALIZED (
            SELECT run_id AS root_id{user_keys} FROM s
            WHERE __match AND {keyed} AND run_id NOT IN (SELECT run_id FROM nested)),
        others AS (
            SELECT root_id{user_keys} FROM (
                SELECT root_id{user_keys},
                       row_number() OVER (PARTITION BY root_id ORDER BY {best}, depth) AS __rn
                FROM (
                    SELECT n.root_id, n.depth{user_keys} FROM nested n JOIN s USING (run_id)
                    WHERE s.__match
                    UNION ALL
                    SELECT run_id, 0{user_keys} FROM s
                    WHERE __match AND NOT ({keyed}) AND run_id NOT IN (SELECT run_id FROM nested)
                ) AS candidates
                WHERE root_id NOT IN (SELECT root_id FROM keyed)) AS ranked
            WHERE __rn = 1),
        tops AS (
            SELECT {tree_keys}r.run_id, {ties}
            FROM (SELECT * FROM keyed UNION ALL SELECT * FROM others) t
            JOIN s r ON r.run_id = t.root_id)"""


def _tree_rows(
    con: duckdb.DuckDBPyConnection, c: _Compiled, ctes: str, search: RunSearch
) -> tuple[list[tuple[Any, ...]], int]:
    """The page's trees: (run_id, root_id, shown_parent, depth, n_descendants) ordered by
    depth, then tree, then query order; and the number of trees."""
    order = ", ".join(c.order)
    names = list(dict.fromkeys(c.order_columns))
    sql = f"""WITH RECURSIVE {ctes},
        top AS (SELECT *, count(*) OVER () AS __total FROM tops ORDER BY {order} {_page(search)}),
        page AS MATERIALIZED (  -- ranked after the top-N: a rank over all rows would sort them
            SELECT run_id, __total, row_number() OVER (ORDER BY {order}) AS __rank FROM top),
        d(run_id, root_id, depth, shown, shown_parent, shown_depth) AS (
            SELECT run_id, run_id, 0, TRUE, NULL::VARCHAR, 0 FROM page
            UNION ALL
            SELECT s.run_id, d.root_id, d.depth + 1, s.__match,
                   CASE WHEN d.shown THEN d.run_id ELSE d.shown_parent END,
                   CASE WHEN d.shown THEN d.shown_depth + 1 ELSE d.shown_depth END
            FROM s JOIN d ON s.parent_id = d.run_id WHERE d.depth < {MAX_DEPTH})
        SELECT run_id, root_id, shown_parent, shown_depth, __total, n_descendants, __n FROM (
            SELECT s.run_id, d.root_id, d.shown_parent, d.shown_depth, p.__total,
                   count(*) OVER (PARTITION BY d.root_id) - 1 AS n_descendants,
                   row_number() OVER (PARTITION BY d.root_id ORDER BY d.depth, {order}) AS __n,
                   d.depth AS __depth, p.__rank{"".join(f", s.{n}" for n in names)}
            FROM d JOIN s USING (run_id) JOIN page p ON p.run_id = d.root_id
            WHERE d.depth = 0 OR s.__match) AS ranked
        WHERE __depth = 0 OR __n <= {int(search.max_children) + 1}
        ORDER BY __depth, __rank, {order}"""
    rows = con.execute(sql, c.parameters).fetchall()
    if rows:
        return [(r, root, shown, depth, n) for r, root, shown, depth, _, n, _ in rows], rows[0][4]
    total = _count(con, f"WITH RECURSIVE {ctes} SELECT count(*) FROM tops", c.parameters)
    return [], total


def _tree_order(rows: list[tuple[Any, ...]]) -> tuple[list[str], list[int], list[int]]:
    """Run ids, depths and descendant counts in display order: each top-level run, then its
    descendants depth first under their nearest shown ancestor, siblings in query order.
    ``rows`` (run_id, root_id, shown_parent, depth, n_descendants) are ordered by depth, then
    query order."""
    children: dict[str, list[str]] = {}
    depth_of: dict[str, int] = {}
    roots: list[tuple[str, int]] = []
    for run_id, root_id, shown_parent, depth, n in rows:
        depth_of[run_id] = int(depth)
        if run_id == root_id:
            roots.append((run_id, int(n)))
        else:
            children.setdefault(str(shown_parent), []).append(run_id)
    ids: list[str] = []
    depths: list[int] = []
    counts: list[int] = []

    def visit(run_id: str) -> None:
        for child in children.get(run_id, []):
            ids.append(child)
            depths.append(depth_of[child])
            counts.append(0)
            visit(child)

    for root, n in roots:
        ids.append(root)
        depths.append(0)
        counts.append(n)
        visit(root)
    return ids, depths, counts


_TABLES = {"p": "wb_params", "m": "wb_metric_summary", "t": "wb_tags"}
_PARAM_TYPE = """CASE WHEN bool_and(value_type IN ('int', 'null')) THEN 'TRY_CAST(value AS BIGINT)'
                WHEN bool_and(value_type IN ('int', 'float', 'null')) THEN 'value_num'
                ELSE 'value' END"""


def _discover_keys(
    con: duckdb.DuckDBPyConnection, columns: tuple[str, ...] | None
) -> dict[str, list[tuple[str, str | None]]]:
    """The keys to pivot per kind (``p``, ``m``, ``t``), each with the SQL expression of its
    value for params: every key of the selected runs, or only those named in ``columns`` (then
    only params are looked up, for the type of their values)."""
    wanted: dict[str, list[str] | None] = {"p": None, "m": None, "t": None}
    if columns is not None:
        for kind, letter in _KINDS.items():
            wanted[letter] = [c.split(".", 1)[1] for c in columns if c.startswith(kind + ".")]
    keys: dict[str, list[tuple[str, str | None]]] = {"p": [], "m": [], "t": []}
    selects, parameters = [], {}
    for letter, table in _TABLES.items():
        if letter != "p" and wanted[letter] is not None:
            keys[letter] = [(key, None) for key in dict.fromkeys(wanted[letter] or ())]
            continue
        if wanted[letter] == []:
            continue
        expression = _PARAM_TYPE if letter == "p" else "NULL"
        condition = ""
        if wanted[letter] is not None:
            condition = f" AND list_contains(${letter}keys, key)"
            parameters[f"{letter}keys"] = wanted[letter]
        selects.append(
            f"SELECT '{letter}' AS kind, key, {expression} AS expression FROM {table} "
            f"WHERE run_id IN (SELECT run_id FROM __selected){condition} GROUP BY key"
        )
    if selects:
        sql = " UNION ALL ".join(selects) + " ORDER BY kind, key"
        for kind, key, expression in con.execute(sql, parameters).fetchall():
            keys[kind].append((key, expression))
    return keys


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
    listed = ", ".join(f"${name}" for name in parameters)
    sql = (
        f"(SELECT run_id, {', '.join(selects)} FROM {_TABLES[kind]} "
        f"WHERE run_id IN (SELECT run_id FROM __selected) AND key IN ({listed}) GROUP BY run_id)"
    )
    return sql, parameters


def _labels(metric_stats: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Per kind, the column label of each pivoted value (``{key}`` is the key)."""
    return {
        "p": {"params.{key}": "value"},
        "m": {
            ("metrics.{key}" if stat == "latest" else f"{stat}(metrics.{{key}})"): stat
            for stat in metric_stats
        },
        "t": {"tags.{key}": "value"},
    }


def _wide_frame(con: duckdb.DuckDBPyConnection, search: RunSearch) -> pd.DataFrame:
    labels = _labels(search.metric_stats)
    joins: list[str] = []
    extra: list[str] = []
    parameters: dict[str, Any] = {}
    names: dict[str, str] = {}
    for kind, kind_keys in _discover_keys(con, search.columns).items():
        if kind_keys:
            before = len(names)
            sub, sub_parameters = _pivot(kind, kind_keys, labels[kind], names)
            joins.append(f"LEFT JOIN {sub} {kind} ON {kind}.run_id = s.run_id")
            extra += [f"{kind}.{alias}" for alias in list(names)[before:]]  # standard SQL
            parameters.update(sub_parameters)
    tree = ", s.depth, s.children" if search.group_nested else ""
    frame = con.execute(
        f"""SELECT r.run_id, r.name, e.name AS experiment, r.status, r.start_time, r.end_time,
                   epoch(r.end_time) - epoch(r.start_time) AS duration_s, r.parent_id, r.error
                   {tree}{"".join(", " + e for e in extra)}
            FROM __selected s JOIN wb_runs r ON r.run_id = s.run_id
            JOIN wb_experiments e ON e.experiment_id = r.experiment_id
            {" ".join(joins)}
            ORDER BY s.__order""",
        parameters,
    ).df()
    frame = frame.rename(columns=names)
    for column in ("start_time", "end_time"):
        frame[column] = frame[column].dt.tz_localize("UTC")
    if search.columns is not None:
        frame = _requested(frame, search)
    return frame


def _requested(frame: pd.DataFrame, search: RunSearch) -> pd.DataFrame:
    """Exactly the requested columns after the base (and tree) columns, in the order asked
    (a metric brings one column per statistic); keys no selected run has are all-None."""
    assert search.columns is not None
    labels = _labels(search.metric_stats)
    fixed = [*RunSearch.RUN_COLUMNS, *(RunSearch.TREE_COLUMNS if search.group_nested else ())]
    wanted: list[str] = []
    for column in search.columns:
        kind, _, key = column.partition(".")
        if kind not in _KINDS or not key:
            continue  # a base column: always there
        for label in labels[_KINDS[kind]]:
            name = label.format(key=key)
            if name not in wanted:
                wanted.append(name)
    for name in wanted:
        if name not in frame.columns:
            frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[[*fixed, *wanted]]
