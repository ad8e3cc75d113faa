"""What the server extension answers, as plain JSON-ready data (no tornado in here).

Each function reads the configured store through the public API (``workbench.search_runs``,
``workbench.sql``, ``workbench.list_models``, ...) and returns dicts and lists of JSON values, so
the handlers only serialize and the functions are tested without a server.

Paging: :func:`runs_page` is one call of ``search_runs`` with ``offset`` and ``max_results``
(the core query the runs browser uses too); the total comes with the page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

import workbench as wb
from workbench import _validation as v

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
    if experiment:
        v.check_name(experiment, "runs", name="experiment")
    frame = wb.search_runs(
        experiment or None, filter or None, order_by or None, size, offset=(page_n - 1) * size
    )
    total = int(frame.attrs["total"])
    return {
        "runs": _run_rows(frame),
        "total": total,
        "page": page_n,
        "page_size": size,
        "n_pages": max(1, math.ceil(total / size)),
    }


_RUN_FIELDS = [
    "run_id",
    "name",
    "experiment",
    "status",
    "parent_id",
    "start_time",
    "end_time",
    "duration_s",
]


def _run_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Each run's attributes plus ``params``, ``metrics`` and ``tags`` dicts of its values."""
    kinds = ("params", "metrics", "tags")
    columns = [c for c in frame.columns if c.split(".", 1)[0] in kinds]
    rows = []
    for row in records(frame[_RUN_FIELDS + columns]):
        run: dict[str, Any] = {k: row[k] for k in _RUN_FIELDS} | {k: {} for k in kinds}
        for column in columns:
            if row[column] is not None:
                kind, key = column.split(".", 1)
                run[kind][key] = row[column]
        rows.append(run)
    return rows


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
