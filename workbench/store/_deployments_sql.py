"""Deployments (model servers) in a DuckDB store: one row per server process.

Written synchronously by the server process itself (at start and at a clean stop) and by whoever
stops it, over a connection the caller (``DuckDBStore``) holds exclusively. A ``running`` row
whose process is gone (checked with psutil on this machine, including PID reuse) is reported as
``dead`` and stored so, the way runs of dead processes become ``killed``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
from types import MappingProxyType
from typing import Any

import duckdb

from workbench._liveness import process_alive
from workbench._who import who
from workbench.entities import DEPLOYMENT_STATES, DeploymentRecord
from workbench.exceptions import ConflictError, NotFoundError

__all__ = [
    "deployment_alive",
    "get_deployment",
    "insert_deployment",
    "list_deployments",
    "set_deployment_status",
]

_COLUMNS = (
    "deployment_id, model_uri, host, port, url, machine, pid, pid_started, status, "
    "started_at, stopped_at, policy"
)


def deployment_alive(machine: str, pid: int, pid_started: float) -> bool:
    """Whether the process that wrote a row still runs (other machines: assumed alive)."""
    return machine != socket.gethostname() or process_alive(pid, started=pid_started)


def insert_deployment(con: duckdb.DuckDBPyConnection, record: DeploymentRecord) -> None:
    """Add a deployment; ConflictError if its id is taken."""
    found = con.execute(
        "SELECT 1 FROM wb_deployments WHERE deployment_id = $id", {"id": record.deployment_id}
    ).fetchone()
    if found:
        raise ConflictError(
            f"A deployment with id {record.deployment_id!r} already exists; choose another id."
        )
    con.execute(
        f"INSERT INTO wb_deployments ({_COLUMNS}, started_by) VALUES "
        "($id, $uri, $host, $port, $url, $machine, $pid, $pid_started, $status, $started, "
        "$stopped, $policy, $by)",
        {
            "id": record.deployment_id,
            "uri": record.model_uri,
            "host": record.host,
            "port": record.port,
            "url": record.url,
            "machine": record.machine,
            "pid": record.pid,
            "pid_started": record.pid_started,
            "status": record.status,
            "started": _naive(record.started_at),
            "stopped": _naive(record.stopped_at),
            "policy": json.dumps(dict(record.policy), default=str),
            "by": who(),  # the server process writes its own row: who started it
        },
    )


def set_deployment_status(
    con: duckdb.DuckDBPyConnection,
    deployment_id: str,
    status: str,
    now: dt.datetime,
    *,
    only_if_running: bool = True,
) -> bool:
    """Record that a deployment stopped or died; False if it was not running (or unknown)."""
    if status not in DEPLOYMENT_STATES:
        raise ValueError(f"unknown deployment status {status!r}")
    condition = " AND status = 'running'" if only_if_running else ""
    changed = con.execute(
        "UPDATE wb_deployments SET status = $status, "
        "stopped_at = CASE WHEN $status = 'running' THEN NULL ELSE coalesce(stopped_at, $now) END "
        f"WHERE deployment_id = $id{condition} RETURNING deployment_id",
        {"status": status, "now": _naive(now), "id": deployment_id},
    ).fetchall()
    return bool(changed)


def list_deployments(
    con: duckdb.DuckDBPyConnection,
    now: dt.datetime,
    *,
    deployment_id: str | None = None,
    read_only: bool = False,
) -> list[DeploymentRecord]:
    """Deployments, newest first, after marking ``running`` ones whose process is gone ``dead``
    (``read_only``: reported dead, not stored)."""
    where = "" if deployment_id is None else " WHERE deployment_id = $id"
    params = {} if deployment_id is None else {"id": deployment_id}
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM wb_deployments{where} ORDER BY started_at DESC", params
    ).fetchall()
    records = [_record(row) for row in rows]
    out = []
    for record in records:
        if record.status == "running" and not deployment_alive(
            record.machine, record.pid, record.pid_started
        ):
            if read_only:
                out.append(dataclasses.replace(record, status="dead"))
                continue
            set_deployment_status(con, record.deployment_id, "dead", now)
            record = _record(
                con.execute(
                    f"SELECT {_COLUMNS} FROM wb_deployments WHERE deployment_id = $id",
                    {"id": record.deployment_id},
                ).fetchone()
            )
        out.append(record)
    return out


def get_deployment(
    con: duckdb.DuckDBPyConnection, deployment_id: str, now: dt.datetime, *, read_only: bool = False
) -> DeploymentRecord:
    """One deployment (its liveness checked); NotFoundError naming the existing ones."""
    found = list_deployments(con, now, deployment_id=deployment_id, read_only=read_only)
    if found:
        return found[0]
    ids = [r[0] for r in con.execute("SELECT deployment_id FROM wb_deployments").fetchall()]
    shown = sorted(ids)[:20]
    raise NotFoundError(
        f"No deployment with id {deployment_id!r}. Known deployments: {shown or 'none'}; list "
        "them with workbench.list_deployments() or `workbench deployments list`."
    )


def _record(row: Any) -> DeploymentRecord:
    (
        deployment_id,
        model_uri,
        host,
        port,
        url,
        machine,
        pid,
        pid_started,
        status,
        started_at,
        stopped_at,
        policy,
    ) = row
    return DeploymentRecord(
        deployment_id=deployment_id,
        model_uri=model_uri,
        host=host,
        port=int(port),
        url=url,
        machine=machine or "",
        pid=int(pid or 0),
        pid_started=float(pid_started or 0.0),
        status=status,
        started_at=_aware(started_at),
        stopped_at=None if stopped_at is None else _aware(stopped_at),
        policy=MappingProxyType(json.loads(policy) if policy else {}),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC)


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
