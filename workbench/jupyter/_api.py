"""What the server extension answers, as plain JSON-ready data (no tornado in here).

Each function reads the configured store through the public API (``workbench.search_runs``,
``workbench.sql``, ``workbench.list_models``, ...) and returns dicts and lists of JSON values, so
the handlers only serialize and the functions are tested without a server.

Paging: ``search_runs`` has no offset, so :func:`runs_page` pages in SQL over the documented
views (``runs``, ``experiments``, ``params``, ``metrics``, ``tags``) with ``LIMIT``/``OFFSET``
and ``count(*) OVER ()``, compiling the user's filter and order_by with the same compiler as
``search_runs``: both accept, and mean, the same language.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

import workbench as wb
from workbench import _validation as v
from workbench.store._filter import compile_over_views  # the one filter-language compiler

__all__ = [
    "DRIFT_EXPERIMENT",
    "MAX_PAGE_SIZE",
    "deployments",
    "experiments",
    "info",
    "model_detail",
    "models",
    "reports",
    "run_detail",
    "runs_page",
    "sweeps",
]

DRIFT_EXPERIMENT = "drift-reports"
KIND_TAG = "workbench.kind"
MAX_PAGE_SIZE = 500


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts: timestamps in ISO 8601, NaN and NaT as null."""
    if frame.empty:
        return []
    out: list[dict[str, Any]] = json.loads(
        frame.to_json(orient="records", date_format="iso", default_handler=str)
    )
    return out


def _plain(value: Any) -> Any:
    """A JSON-ready copy of one value (numpy scalars, NaN, timestamps, nested containers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(x) for x in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def info() -> dict[str, Any]:
    """The store the server reads and the workbench version."""
    client = wb.connect()
    return {"store": str(client.store.location), "version": wb.__version__}


def experiments() -> dict[str, Any]:
    """Live experiments with their number of runs, most recently created first."""
    frame = wb.list_experiments()
    frame = frame.sort_values("created_at", ascending=False, kind="stable")
    return {"experiments": records(frame[["experiment_id", "name", "runs", "created_at"]])}


def _page_number(value: Any, name: str, default: int, maximum: int | None = None) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or (maximum is not None and number > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise v.fail(name, "runs", f"a whole number of at least 1{upper}", value)
    return number


def runs_page(
    experiment: str | None = None,
    filter: str | None = None,  # noqa: A002 - the word of search_runs
    order_by: str | None = None,
    page: Any = 1,
    page_size: Any = 25,
) -> dict[str, Any]:
    """One page of runs (1-based ``page``), newest first unless ``order_by`` says otherwise.

    Each run carries its attributes plus ``params``, ``metrics`` (latest values) and ``tags``.
    ``total`` counts every matching run; a page past the end comes back empty.
    """
    page_n = _page_number(page, "page", 1)
    size = _page_number(page_size, "page_size", 25, MAX_PAGE_SIZE)
    compiled = compile_over_views(filter, order_by)
    where, keys, order, joins = compiled.where, compiled.sort_keys, compiled.order, compiled.joins
    parameters: dict[str, Any] = dict(compiled.parameters)
    scope = "TRUE"
    if experiment:
        scope = "e.name = $__experiment"
        parameters["__experiment"] = v.check_name(experiment, "runs", name="experiment")
    matching = f"""WITH m AS MATERIALIZED (
            SELECT r.run_id, r.name, e.name AS experiment, r.status, r.parent_id,
                   r.start_time, r.end_time, r.duration_s, {", ".join(keys)}
            FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
            {joins}
            WHERE {scope} AND ({where}))"""
    frame = wb.sql(
        f"""{matching}
        SELECT run_id, name, experiment, status, parent_id, start_time, end_time, duration_s,
               count(*) OVER () AS __total
        FROM m ORDER BY {", ".join(order)} LIMIT {size} OFFSET {(page_n - 1) * size}""",
        **parameters,
    )
    if frame.empty:  # no row carries the total: count separately (a page past the end)
        total = int(wb.sql(f"{matching} SELECT count(*) AS n FROM m", **parameters)["n"].iloc[0])
    else:
        total = int(frame["__total"].iloc[0])
    rows = records(frame.drop(columns="__total"))
    _attach_values(rows)
    return {
        "runs": rows,
        "total": total,
        "page": page_n,
        "page_size": size,
        "n_pages": max(1, math.ceil(total / size)),
    }


def _attach_values(rows: list[dict[str, Any]]) -> None:
    """Add ``params``, ``metrics`` and ``tags`` dicts to each run row (one query each)."""
    for row in rows:
        row.update(params={}, metrics={}, tags={})
    if not rows:
        return
    by_id = {row["run_id"]: row for row in rows}
    ids = list(by_id)
    values = wb.sql(
        "SELECT 'params' AS kind, run_id, key, value AS text, value_num AS num, value_type "
        "FROM params WHERE run_id IN (SELECT unnest($ids)) "
        "UNION ALL SELECT 'metrics', run_id, key, NULL, value, 'float' FROM metrics "
        "WHERE run_id IN (SELECT unnest($ids)) "
        "UNION ALL SELECT 'tags', run_id, key, value, NULL, 'str' FROM tags "
        "WHERE run_id IN (SELECT unnest($ids)) ORDER BY kind, key",
        ids=ids,
    )
    for kind, run_id, key, text, num, value_type in values.itertuples(index=False):
        if value_type in ("int", "float") and num is not None and not pd.isna(num):
            value: Any = int(num) if value_type == "int" else _plain(float(num))
        elif value_type == "null" or text is None or (isinstance(text, float) and pd.isna(text)):
            value = None
        else:
            value = str(text)
        by_id[run_id][kind][key] = value


def run_detail(run_id: str) -> dict[str, Any]:
    """Everything about one run: attributes, params, metrics, tags, inputs, artifacts."""
    run = wb.get_run(run_id)
    return {
        "run_id": run.run_id,
        "name": run.name,
        "experiment": run.experiment,
        "status": run.status.value,
        "start_time": _plain(run.start_time),
        "end_time": _plain(run.end_time),
        "duration_s": None if run.duration is None else run.duration.total_seconds(),
        "parent_id": run.parent_id,
        "error": run.error,
        "params": _plain(dict(run.params)),
        "metrics": _plain(dict(run.metrics)),
        "tags": _plain(dict(run.tags)),
        "children": list(run.children),
        "inputs": [
            {
                "name": i.dataset.name,
                "digest": i.dataset.digest,
                "rows": i.dataset.n_rows,
                "context": i.context,
            }
            for i in run.inputs
        ],
        "artifacts": [
            {"path": a.path, "size": a.size, "media_type": a.media_type} for a in run.artifacts
        ],
    }


def models() -> dict[str, Any]:
    """Registered models with their aliases."""
    frame = wb.list_models()
    return {"models": records(frame)}


def model_detail(name: str) -> dict[str, Any]:
    """A model's versions (newest first) with their aliases and training metrics."""
    v.check_name(name, "models", name="name")
    versions = wb.list_model_versions(name)
    if "version" in versions:
        versions = versions.sort_values("version", ascending=False, kind="stable")
    rows = records(versions)
    aliases = sorted(
        ({"alias": str(a), "version": row["version"]} for row in rows for a in row["aliases"]),
        key=lambda item: str(item["alias"]),
    )
    return {"name": name, "versions": rows, "aliases": aliases}


def deployments() -> dict[str, Any]:
    """Deployments and their status (a dead server shows ``dead``), newest first.

    ``available`` is false when this workbench has no serving package.
    """
    try:
        from workbench.serving import list_deployments
    except ImportError:
        return {"available": False, "deployments": []}
    return {"available": True, "deployments": records(list_deployments())}


def reports(page: Any = 1, page_size: Any = 25) -> dict[str, Any]:
    """Drift reports kept in the store (runs tagged ``workbench.kind = 'drift_report'``)."""
    return runs_page(
        DRIFT_EXPERIMENT, f"tags.{KIND_TAG} = 'drift_report'", None, page, page_size
    ) | {"experiment": DRIFT_EXPERIMENT}


def sweeps() -> dict[str, Any]:
    """Sweeps of the store, newest first, with trial counts."""
    return {"sweeps": records(wb.list_sweeps())}
