"""The one query over runs: filter, order, page, count and (optionally) group nested runs.

``workbench.search_runs``, the Panel runs browser and the JupyterLab sidebar all read runs
through :func:`search_runs`. It works in two steps, in one read transaction, writing nothing:

1. **Select.** The filter and order_by, compiled by :mod:`workbench.store._filter` into
   parameterized SQL over ``wb_runs r`` and ``wb_experiments e``, pick the page's run ids, in
   order, as the CTE ``__selected`` that the next queries start with, counting every match on
   the way (the frame's ``attrs["total"]``). The page is a top-N over the matching runs: only
   the page is ranked. With ``group_nested`` the page holds trees of runs
   (:func:`_select_trees`).
2. **Pivot.** The runs' attributes come from one query; their params, metrics and tags (every
   key they have, or only the requested ``columns``) from one more, one row per value, which
   :func:`_pivot` turns into ``params.*``, ``metrics.*`` and ``tags.*`` columns with Arrow.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.store._filter import RunQuery
from workbench.store.base import RunSearch

__all__ = ["search_runs"]

MAX_DEPTH = 8  # nesting levels walked (a sweep in a pipeline in a run is 3)
_TIE_BREAKERS = ("r.start_time DESC", "r.run_id ASC")  # newest first, then by id
_ORDER_TERM = re.compile(r"^(?P<expr>.*) (?P<dir>ASC|DESC)(?P<nulls> NULLS (?:FIRST|LAST))?$", re.S)
_KINDS = {"params": "p", "metrics": "m", "tags": "t"}
# Param value types as codes, narrowest first: a column takes the widest its values need.
_TYPE_INT, _TYPE_NULL, _TYPE_FLOAT, _TYPE_TEXT = range(4)
_TYPE_CODE = (
    f"CASE v.value_type WHEN 'int' THEN {_TYPE_INT} WHEN 'null' THEN {_TYPE_NULL} "
    f"WHEN 'float' THEN {_TYPE_FLOAT} ELSE {_TYPE_TEXT} END::SMALLINT"
)


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


@dataclass(frozen=True)
class _Selection:
    """The page's runs as the CTE ``__selected`` (``run_id``, ``__order`` from 1, with
    ``group_nested`` also ``depth`` and ``children``; flat, also ``__total``), which each query
    reading their values starts with: no temporary table, so a search writes nothing (a
    catalog write commits, and commits queue behind the ingester's checkpoints)."""

    cte: str
    parameters: dict[str, Any]
    total: int | None  # None: the base query reads it (``__total``), or counts when no row


def search_runs(con: duckdb.DuckDBPyConnection, search: RunSearch) -> pd.DataFrame:
    """Runs matching ``search`` as one wide DataFrame, in the requested order.

    ``attrs["total"]`` is the number of matching runs (top-level trees with ``group_nested``)
    before ``offset`` and ``max_results``; ``max_results=0`` only counts. The queries run in
    one transaction: the page is selected by each, and all must see the same runs.
    """
    compiled = _compile(search)
    with _snapshot(con):
        if search.group_nested:
            selection = _select_trees(con, compiled, search)
        else:
            selection = _select_flat(compiled, search)
        frame, total = _wide_frame(con, search, selection)
        if total is None:
            total = _count(
                con, f"SELECT count(*) FROM ({compiled.matching()}) AS m", compiled.parameters
            )
    frame.attrs["total"] = total
    return frame


@contextlib.contextmanager
def _snapshot(con: Any) -> Iterator[None]:
    """One read transaction around the search's queries (inside one already open, as in
    ``workbench.sql``'s, the queries share that one)."""
    try:
        con.begin()
    except duckdb.TransactionException:  # already in a transaction
        yield
        return
    try:
        yield
    finally:
        con.rollback()  # nothing was written


def _page(search: RunSearch) -> str:
    limit = "" if search.max_results is None else f"LIMIT {int(search.max_results)}"
    return f"{limit} OFFSET {int(search.offset)}" if search.offset else limit


def _count(con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any]) -> int:
    row = con.execute(sql, parameters).fetchone()
    return 0 if row is None else int(row[0])


_NOTHING = """__selected AS (
    SELECT NULL::VARCHAR AS run_id, NULL::BIGINT AS __order, NULL::BIGINT AS __total WHERE FALSE)"""


def _select_flat(c: _Compiled, search: RunSearch) -> _Selection:
    """The page of matching runs (a top-N: only the page is ranked)."""
    if search.max_results == 0:
        return _Selection(_NOTHING, {}, None)
    order = ", ".join(c.order)
    cte = f"""__selected AS (
        WITH m AS MATERIALIZED ({c.matching()}),
        top AS (SELECT *, count(*) OVER () AS __total FROM m ORDER BY {order} {_page(search)})
        SELECT run_id, row_number() OVER (ORDER BY {order}) AS __order, __total FROM top)"""
    return _Selection(cte, c.parameters, None)


def _select_trees(con: duckdb.DuckDBPyConnection, c: _Compiled, search: RunSearch) -> _Selection:
    """A page of trees, and the number of trees (top-level runs) on all pages.

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
    cte = """__selected AS (
        SELECT unnest($__ids::VARCHAR[]) AS run_id, unnest($__depth::INTEGER[]) AS depth,
               unnest($__children::BIGINT[]) AS children, unnest($__order::BIGINT[]) AS __order)"""
    parameters = {"__ids": ids, "__depth": depths, "__children": children}
    return _Selection(cte, {**parameters, "__order": list(range(1, len(ids) + 1))}, total)


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


# The long query: per kind (params, metrics, tags: also the order of the columns), its table
# and its text, value-type code and number in the query's shape.
_KIND_SELECT = (
    ("p", "wb_params", "v.value", _TYPE_CODE, "v.value_num"),
    ("m", "wb_metric_summary", "NULL::VARCHAR", "NULL::SMALLINT", "v.latest"),
    ("t", "wb_tags", "v.value", "NULL::SMALLINT", "NULL::DOUBLE"),
)
_STATS = ("min", "max", "count")  # metric summaries beside ``latest`` (the long query's num)
_EXACT = 2**53  # whole numbers a double holds exactly


def _wanted_keys(columns: tuple[str, ...] | None) -> dict[str, list[str] | None]:
    """Per kind letter, the keys ``columns`` asks for (None: every key the runs have)."""
    if columns is None:
        return dict.fromkeys(_KINDS.values())
    return {
        letter: list(dict.fromkeys(c.split(".", 1)[1] for c in columns if c.startswith(kind + ".")))
        for kind, letter in _KINDS.items()
    }


def _long_values(
    con: Any,
    selection: _Selection,
    wanted: dict[str, list[str] | None],
    metric_stats: tuple[str, ...],
) -> pa.Table:
    """Every value of the selected runs in one query, one row per (kind, key, run): ``kind``
    (0 params, 1 metrics, 2 tags), ``__order`` (the run's row), ``key``, ``text``, ``type``
    (a param's value-type code), ``num`` (a param's number or a metric's latest) and the other
    requested metric summaries. One query, not one per kind: a statement costs milliseconds."""
    selects, parameters = [], dict(selection.parameters)
    for code, (letter, table, text, kind, num) in enumerate(_KIND_SELECT):
        keys = wanted[letter]
        if keys == []:
            continue
        stats = "".join(
            f", {f'v.{stat}' if letter == 'm' and stat in metric_stats else 'NULL'} AS {stat}"
            for stat in _STATS
        )
        condition = ""
        if keys is not None:
            condition = f" WHERE list_contains(${letter}keys, v.key)"
            parameters[f"{letter}keys"] = keys
        selects.append(
            f"SELECT {code}::SMALLINT AS kind, s.__order, v.key, {text} AS text, "
            f"{kind} AS type, {num} AS num{stats} "
            f"FROM __selected s JOIN {table} v ON v.run_id = s.run_id{condition}"
        )
    if not selects:
        return pa.table({})
    sql = f"WITH {selection.cte} {' UNION ALL '.join(selects)}"
    return con.sql(sql, params=parameters).to_arrow_table()


def _whole_numbers(numbers: pa.Array, text: Callable[[], pa.Array]) -> pa.Array:
    """Params logged as ints as int64, from their numbers (exact up to 2**53: no text to
    copy); beyond, parsed from the text as logged; beyond 64 bits, as numbers."""
    extent = pc.max(pc.abs(numbers)).as_py()
    try:
        if extent is None or extent <= _EXACT:
            return pc.cast(numbers, pa.int64())
        return pc.cast(text(), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return numbers


_VALUE_COLUMN = {"value": "text", "latest": "num", "min": "min", "max": "max", "count": "count"}


def _pivot(long: pa.Table, n: int, labels: dict[str, dict[str, str]]) -> dict[str, pd.Series]:
    """The wide columns by label: params, metrics, tags, keys in code-point order within
    each kind; row ``i`` of each is the value of the run at ``__order`` ``i + 1`` (missing
    where the run lacks the key).

    The rows of each (kind, key) are found by a stable radix sort of their codes and taken
    into place with Arrow ``take`` (nulls where a run lacks the key): far cheaper than one
    SQL aggregate per column, which costs DuckDB a hash table each (a page of 57 runs with
    18 keys: 24 ms, half of the search)."""
    if long.num_rows == 0:
        return {}
    long = long.combine_chunks()  # DuckDB's batches are 2,048 rows: take from one array
    column = {name: long.column(name).chunk(0) for name in long.column_names}
    encoded = pc.dictionary_encode(column["key"])
    keys = encoded.dictionary.to_pylist()
    joint = column["kind"].to_numpy().astype(np.int64) * len(keys) + encoded.indices.to_numpy()
    groups = len(_KIND_SELECT) * len(keys)
    joint = joint.astype(np.int16 if groups < 2**15 else np.int32)  # int16: radix sort
    grouped = np.argsort(joint, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(joint, minlength=groups))])
    positions = column["__order"].to_numpy() - 1
    types = pc.fill_null(column["type"].cast(pa.int16()), _TYPE_TEXT).to_numpy()
    columns: dict[str, pd.Series] = {}
    for kind, (letter, *_) in enumerate(_KIND_SELECT):
        for key_code in sorted(range(len(keys)), key=keys.__getitem__):
            g = kind * len(keys) + key_code
            if bounds[g] == bounds[g + 1]:
                continue
            rows = grouped[bounds[g] : bounds[g + 1]]
            scatter = np.full(n, -1, dtype=np.int64)
            scatter[positions[rows]] = rows
            into_place = pa.array(scatter, mask=scatter < 0) if len(rows) < n else scatter
            for label, stat in labels[letter].items():
                if letter == "p":
                    values = _param_column(column, into_place, int(types[rows].max()))
                else:
                    values = column[_VALUE_COLUMN[stat]].take(into_place)
                columns[label.format(key=keys[key_code])] = _series(values)
    return columns


def _param_column(column: dict[str, pa.Array], into_place: Any, widest: int) -> pa.Array:
    """One param's column, typed by the widest value type logged for it: whole numbers,
    numbers, or the text (a logged None has neither number nor text)."""
    if widest <= _TYPE_NULL:
        return _whole_numbers(
            column["num"].take(into_place), lambda: column["text"].take(into_place)
        )
    return column["num" if widest == _TYPE_FLOAT else "text"].take(into_place)


def _series(values: pa.Array) -> pd.Series:
    """A pandas column typed as DuckDB's ``df()`` types it (whole numbers stay whole when
    some are missing)."""
    if pa.types.is_integer(values.type) and values.null_count:
        return pd.Series(pd.array(values.to_pylist(), dtype="Int64"))
    series: pd.Series = values.to_pandas()
    return series


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


def _wide_frame(
    con: duckdb.DuckDBPyConnection, search: RunSearch, selection: _Selection
) -> tuple[pd.DataFrame, int | None]:
    """The page's runs with their params, metrics and tags, and the number of matches when
    the selection leaves it to the page's rows (None: there are none)."""
    labels = _labels(search.metric_stats)
    extra = ", s.depth, s.children" if search.group_nested else ""
    if selection.total is None:
        extra += ", s.__total"
    frame = con.execute(
        f"""WITH {selection.cte}
            SELECT r.run_id, r.name, e.name AS experiment, r.status, r.start_time, r.end_time,
                   epoch(r.end_time) - epoch(r.start_time) AS duration_s, r.parent_id, r.error
                   {extra}
            FROM __selected s JOIN wb_runs r ON r.run_id = s.run_id
            JOIN wb_experiments e ON e.experiment_id = r.experiment_id
            ORDER BY s.__order""",
        selection.parameters,
    ).df()
    total = selection.total
    if total is None:
        total = int(frame["__total"].iloc[0]) if len(frame) else None
        frame = frame.drop(columns="__total")
    columns: dict[str, pd.Series] = {}
    if len(frame):
        wanted = _wanted_keys(search.columns)
        long = _long_values(con, selection, wanted, search.metric_stats)
        columns = _pivot(long, len(frame), labels)
    if columns:
        wide = pd.DataFrame(columns)
        wide.index = frame.index
        frame = pd.concat([frame, wide], axis=1)
    for column in ("start_time", "end_time"):
        frame[column] = frame[column].dt.tz_localize("UTC")
    if search.columns is not None:
        frame = _requested(frame, search)
    return frame, total


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
