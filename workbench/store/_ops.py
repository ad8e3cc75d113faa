"""The read operations of a DuckDB store, as functions of an open connection.

A store runs them on its own connection, or asks the process that holds the database to run
them on its connection (``workbench.store._host``): so each is a plain function of picklable
arguments, named in ``READS``. The deployment reads store what they find (a server whose
process died is marked ``dead``), so they run where writes are serialized (``LOCKED``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.exceptions import InvalidParameterError, NotFoundError, RunNotFoundError
from workbench.store import _deployments_sql, _read, _registry_sql, _search
from workbench.store._schema import PUBLIC_VIEWS

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import Dataset, Experiment, Run
    from workbench.store.base import RunSearch


def utcnow() -> dt.datetime:
    """Now, as the naive UTC timestamp the tables store."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_not_found(run_id: str) -> RunNotFoundError:
    return RunNotFoundError(
        f"No run with id {run_id!r} in this store. Find runs with workbench.search_runs(), "
        "and check that WORKBENCH_STORE / set_store() point at the store you logged to."
    )


def get_run(con: duckdb.DuckDBPyConnection, run_id: str) -> Run:
    run = _read.run_snapshot(con, run_id)
    if run is None:
        raise run_not_found(run_id)
    return run


def search_runs(con: duckdb.DuckDBPyConnection, search: RunSearch) -> pd.DataFrame:
    return _search.search_runs(con, search)


def get_metric_history(
    con: duckdb.DuckDBPyConnection, run_ids: Sequence[str], keys: Sequence[str] | None
) -> pd.DataFrame:
    return _read.metric_history(con, list(run_ids), None if keys is None else list(keys))


def get_dataset(con: duckdb.DuckDBPyConnection, digest: str) -> Dataset:
    dataset = _read.dataset(con, digest)
    if dataset is None:
        raise NotFoundError(
            f"No dataset with digest {digest!r}. Datasets are recorded by "
            "run.log_input(); list them with workbench.sql('select * from datasets')."
        )
    return dataset


def sql(
    con: duckdb.DuckDBPyConnection, query: str, parameters: Mapping[str, Any] | None
) -> pd.DataFrame:
    statements = con.extract_statements(query)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = [s.type.name for s in statements]
        raise InvalidParameterError(
            f"workbench.sql runs exactly one read-only SELECT; got {kinds or 'nothing'}. "
            f"Query the views {', '.join(PUBLIC_VIEWS)}."
        )
    con.begin()
    try:
        return con.execute(query, dict(parameters or {})).df()
    except duckdb.Error as exc:
        raise InvalidParameterError(f"The SQL query failed: {exc}") from None
    finally:
        con.rollback()


def list_experiments(con: duckdb.DuckDBPyConnection, include_deleted: bool) -> list[Experiment]:
    return _read.experiment_rows(con, include_deleted=include_deleted)


def list_deployments(con: duckdb.DuckDBPyConnection, read_only: bool) -> list[Any]:
    return _deployments_sql.list_deployments(con, utcnow(), read_only=read_only)


def get_deployment(con: duckdb.DuckDBPyConnection, deployment_id: str, read_only: bool) -> Any:
    return _deployments_sql.get_deployment(con, deployment_id, utcnow(), read_only=read_only)


READS: dict[str, Callable[..., Any]] = {
    "get_run": get_run,
    "search_runs": search_runs,
    "get_metric_history": get_metric_history,
    "get_dataset": get_dataset,
    "sql": sql,
    "list_experiments": list_experiments,
    "get_model_version": _registry_sql.get_version,
    "get_model_alias": _registry_sql.alias_target,
    "list_models": _registry_sql.list_models,
    "list_model_versions": _registry_sql.list_versions,
    "get_alias_history": _registry_sql.alias_history,
    "list_deployments": list_deployments,
    "get_deployment": get_deployment,
}
LOCKED = frozenset({"list_deployments", "get_deployment"})
