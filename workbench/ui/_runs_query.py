"""Paged reads for the runs browser: one page of runs, the total, and the available columns.

A page is one call of the core query, ``search_runs`` with ``offset``, ``max_results``,
``order_by``, only the ``columns`` shown, and ``group_nested`` for trees of nested runs (a
top-level run that matches or has a matching descendant, followed by its matching
descendants, at most ``max_children``; trees sort by their best matching run); the total
comes with the page (``frame.attrs["total"]``). The filter language and its errors are those
of ``search_runs``. The column lists are read with the public read-only ``sql`` over the
documented views.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

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


def _search(
    client: Workbench, query: RunsQuery, page: int, page_size: int, columns: Sequence[str]
) -> pd.DataFrame:
    return client.search_runs(
        list(query.experiments) or None,
        query.filter or None,
        query.order_by or None,
        page_size,
        offset=(page - 1) * page_size,
        columns=[c for c in columns if c.split(".", 1)[0] in KINDS],
        group_nested=query.group_nested,
        max_children=query.max_children,
    )


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
    fixed = ["run_id", "parent_id", "depth", "children"]
    order = [c for c in columns if c not in fixed]
    found = _search(client, query, page, page_size, order)
    total = int(found.attrs["total"])
    if found.empty and total and page > 1:
        page = max(1, math.ceil(total / page_size))
        found = _search(client, query, page, page_size, order)
    if found.empty:
        return RunsPage(
            pd.DataFrame(columns=[*fixed, *order]), total, page, page_size, tuple(order)
        )
    depth = found["depth"].astype(int) if "depth" in found else pd.Series(0, found.index)
    children = found["children"].astype(int) if "children" in found else depth * 0
    frame = pd.DataFrame(
        {
            "run_id": found["run_id"],
            "parent_id": found["parent_id"],
            "depth": depth,
            "children": children,
        }
    )
    for column in order:
        frame[column] = found.get(column, None)
    top = depth == 0
    tree = top.cumsum()  # the top-level row each row hangs under
    hidden_n = children - (tree.map(tree.value_counts()) - 1)  # matching, minus those shown
    hidden = {
        str(run_id): int(n)
        for run_id, n in zip(frame.loc[top, "run_id"], hidden_n[top], strict=True)
        if n > 0
    }
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
