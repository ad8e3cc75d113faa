"""The request log: every model call of a server, appended to the store without blocking.

Logging a request appends one record to the in-memory buffer of the server process's workbench
client (:class:`~workbench.tracking._recorder.Recorder`): a lock and a list append, no I/O. The
client's ``workbench-flusher`` thread writes the buffer to the process's journal every 0.5 s and
the store ingests journals into ``wb_requests`` (view ``requests``); a server killed with
``kill -9`` loses at most the last flush interval, like any logging process. A clean stop
flushes everything.

One row per model call: the answer a client got (role ``primary``, ``canary`` or ``fallback``;
for a fallback, ``error`` says why the model did not answer), plus one row per shadow call (role
``shadow``, same ``request_id``). So ``count(*) WHERE role <> 'shadow'`` is the number of
requests. ``inputs`` is ``{"columns": [...], "data": [[...], ...]}`` (the columns the client sent,
named as the model's signature when rows were positional), ``outputs`` the ``predictions`` value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from workbench.tracking.client import TrackingClient

__all__ = ["ANSWER_ROLES", "RequestLog", "read_request_log"]

ANSWER_ROLES = ("primary", "canary", "fallback")


class RequestLog:
    """Appends request records to a client's buffer (never blocks on the store)."""

    def __init__(self, client: TrackingClient, deployment_id: str, *, log_payloads: bool) -> None:
        self._recorder = client._recorder
        self.deployment_id = deployment_id
        self.log_payloads = log_payloads

    def log(
        self,
        *,
        request_id: str,
        model_name: str,
        model_version: int | None,
        role: str,
        received_at_us: int,
        latency_ms: float,
        status: int,
        n_rows: int | None,
        inputs: str | None,
        outputs: str | None,
        error: str | None,
    ) -> None:
        self._recorder.record(
            "requests",
            {
                "request_id": _text(request_id),
                "deployment_id": self.deployment_id,
                "model_name": model_name,
                "model_version": model_version,
                "role": role,
                "received_at": received_at_us,
                "latency_ms": latency_ms,
                "status": status,
                "n_rows": n_rows,
                "inputs": inputs if self.log_payloads else None,
                "outputs": outputs if self.log_payloads else None,
                "error": None if error is None else _text(error),
            },
        )

    def flush(self) -> None:
        """Write everything buffered to the journal now (at shutdown)."""
        self._recorder.flush()


def _text(value: str) -> str:
    """``value`` as text UTF-8 can hold: a message quoting a client's string may carry an
    unpaired surrogate, which the store cannot write (and would hold up the journal)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def read_request_log(
    deployment: str,
    *,
    since: Any = None,
    until: Any = None,
    roles: Sequence[str] = ANSWER_ROLES,
    metadata: bool = False,
    client: TrackingClient | None = None,
) -> pd.DataFrame:
    """The rows a deployment scored, as the model saw them, with the predictions it returned.

    One DataFrame row per scored row of every successful request: the input columns, then
    ``prediction`` (or ``prediction_0``, ... for 2-D outputs, or the output's own column names).
    This is what drift reports compare with the training data
    (``drift_report("churn@champion", "deployment:churn-3f2a")``).

    Parameters
    ----------
    deployment
        A deployment id (``workbench deployments list``), or a model name: every deployment of it.
    since, until
        Only requests received in ``[since, until)`` (anything ``pandas.Timestamp`` reads; UTC).
    roles
        Which answers to include (default: the ones clients got, not shadow calls).
    metadata
        Also add ``request_id``, ``received_at``, ``model_version``, ``role`` and ``latency_ms``
        columns in front.
    client
        The client of the store holding the log (default: the current store).
    """
    from workbench import _validation as v
    from workbench.tracking.client import resolve_client

    caller = "read_request_log"
    if not isinstance(deployment, str) or not deployment:
        raise v.fail("deployment", caller, "a deployment id or a model name", deployment)
    roles = [roles] if isinstance(roles, str) else list(roles)
    if not roles or not all(r in (*ANSWER_ROLES, "shadow") for r in roles):
        raise v.fail("roles", caller, f"a subset of {[*ANSWER_ROLES, 'shadow']}", roles)
    query = (
        "SELECT request_id, received_at, model_version, role, latency_ms, inputs, outputs "
        "FROM requests WHERE (deployment_id = $d OR model_name = $d) AND status = 200 "
        "AND list_contains($roles, role)"
    )
    params: dict[str, Any] = {"d": deployment, "roles": roles}
    if since is not None:
        query += " AND received_at >= $since"
        params["since"] = _utc(since)
    if until is not None:
        query += " AND received_at < $until"
        params["until"] = _utc(until)
    rows = resolve_client(client, caller).sql(query + " ORDER BY received_at, request_id", **params)
    return _expand(rows, metadata)


def _utc(value: Any) -> Any:
    import pandas as pd

    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def _expand(rows: pd.DataFrame, metadata: bool) -> pd.DataFrame:
    """One frame from every request's rows, built per distinct column list (not per request)."""
    import pandas as pd

    meta_columns = ["request_id", "received_at", "model_version", "role", "latency_ms"]
    groups: dict[tuple[str, ...], tuple[list[Any], list[Any], list[Any]]] = {}
    for record in rows.itertuples(index=False):
        if record.inputs is None:
            continue
        inputs = json.loads(str(record.inputs))
        data = inputs["data"]
        outputs = json.loads(str(record.outputs)) if record.outputs is not None else None
        if not isinstance(outputs, list) or len(outputs) != len(data):
            outputs = [None] * len(data)
        values, predictions, meta = groups.setdefault(tuple(inputs["columns"]), ([], [], []))
        values += data
        predictions += outputs
        if metadata:
            row = [getattr(record, c) for c in meta_columns]
            meta += [row] * len(data)
    pieces = []
    for columns, (values, predictions, meta) in groups.items():
        frame = pd.DataFrame(values, columns=list(columns))
        for name, column in _predictions(predictions).items():
            frame[name] = column.to_numpy()
        if metadata:
            frame = pd.concat([pd.DataFrame(meta, columns=meta_columns), frame], axis=1)
        pieces.append(frame)
    if not pieces:
        return pd.DataFrame(columns=meta_columns if metadata else [])
    return pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]


def _predictions(outputs: list[Any]) -> pd.DataFrame:
    import pandas as pd

    if outputs and all(isinstance(o, dict) for o in outputs):
        return pd.DataFrame(outputs)
    if outputs and all(isinstance(o, list) for o in outputs):
        width = len(outputs[0])
        return pd.DataFrame(outputs, columns=[f"prediction_{i}" for i in range(width)])
    return pd.DataFrame({"prediction": outputs})
