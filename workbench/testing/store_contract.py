"""Behaviour every :class:`~workbench.store.Store` must have, as a reusable pytest suite.

A backend proves itself by subclassing :class:`StoreContract` in a test module and providing a
``store`` fixture that yields a fresh, empty store::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            yield MyStore(tmp_path)

The tests drive the store through :class:`workbench.Workbench`, the way tracking code uses it.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from workbench._who import who
from workbench.entities import DeploymentRecord
from workbench.exceptions import (
    ConflictError,
    ExperimentNotFoundError,
    InvalidParameterError,
    RunNotFoundError,
)
from workbench.store.base import RunSearch, Store
from workbench.store.batch import Batch
from workbench.tracking.client import TrackingClient

__all__ = ["StoreContract"]


class StoreContract:
    """Subclass with a ``store`` fixture; every test here must pass for the backend."""

    @pytest.fixture
    def client(self, store: Store) -> TrackingClient:
        return TrackingClient(store)

    def test_run_round_trip(self, client: TrackingClient) -> None:
        with client.start_run("exp", "first", tags={"team": "ml"}) as run:
            run.log_params({"lr": 0.01, "depth": 3, "model": "rf", "flag": True, "none": None})
            run.log_metric("loss", 1.0)
            run.log_metric("loss", 0.5)
            run.log_metric("acc", 0.9, step=10)
        got = client.get_run(run.run_id)
        assert (got.name, got.experiment, got.status.value) == ("first", "exp", "finished")
        assert dict(got.params) == {
            "lr": 0.01,
            "depth": 3,
            "model": "rf",
            "flag": True,
            "none": None,
        }
        assert dict(got.metrics) == {"loss": 0.5, "acc": 0.9}
        assert dict(got.tags) == {"team": "ml"}
        assert got.end_time is not None and got.end_time >= got.start_time
        assert got.start_time.tzinfo == dt.UTC

    def test_metric_history_keeps_every_point_in_step_order(self, client: TrackingClient) -> None:
        with client.start_run("exp") as run:
            for step in (2, 0, 1):
                run.log_metric("loss", float(step), step=step)
            run.log_metric("loss", 9.0, step=1)  # same step twice: both points kept
        history = client.get_metric_history(run.run_id, "loss")
        assert history["step"].tolist() == [0, 1, 1, 2]
        assert client.get_run(run.run_id).metrics["loss"] == 2.0  # latest = highest step

    def test_failed_block_marks_run_failed_with_error(self, client: TrackingClient) -> None:
        with pytest.raises(ZeroDivisionError), client.start_run("exp") as run:
            1 / 0  # noqa: B018
        got = client.get_run(run.run_id)
        assert got.status.value == "failed"
        assert got.error is not None and "ZeroDivisionError" in got.error

    def test_nested_runs_link_to_parent(self, client: TrackingClient) -> None:
        with client.start_run("exp", "parent") as parent, client.start_run(name="child") as child:
            pass
        assert client.get_run(child.run_id).parent_id == parent.run_id
        assert client.get_run(child.run_id).experiment == "exp"
        assert client.get_run(parent.run_id).children == (child.run_id,)

    def test_search_filters_orders_and_limits(self, client: TrackingClient) -> None:
        for i in range(6):
            with client.start_run("search", f"r{i}") as run:
                run.log_params({"n": i, "kind": "even" if i % 2 == 0 else "odd"})
                run.log_metric("score", i / 10)
        df = client.search_runs(
            "search", filter="params.n >= 2 AND params.kind = 'even'", order_by="metrics.score DESC"
        )
        assert df["name"].tolist() == ["r4", "r2"]
        assert df["params.n"].tolist() == [4, 2]
        limited = client.search_runs("search", order_by=["params.n"], max_results=2)
        assert limited["name"].tolist() == ["r0", "r1"]
        page = client.search_runs("search", order_by=["params.n"], max_results=2, offset=2)
        assert page["name"].tolist() == ["r2", "r3"]
        assert len(client.search_runs("no-such-experiment")) == 0

    def test_search_pages_counts_and_chooses_columns(self, client: TrackingClient) -> None:
        with client.start_run("paging", "top") as parent:
            for i in range(5):
                with client.start_run("paging", f"c{i}", parent=parent) as run:
                    run.log_params({"n": i})
                    if i % 2:
                        run.log_metric("score", i)
        page = client.search_runs(
            "paging", order_by="metrics.score DESC", max_results=2, offset=1, columns=["params.n"]
        )
        assert page["name"].tolist() == ["c1", "c4"]  # c3, c1, then no score: newest first
        assert page.attrs["total"] == 6 == client.count_runs("paging")
        assert [c for c in page.columns if "." in c] == ["params.n"]
        assert client.count_runs("paging", "metrics.score > 0") == 2
        trees = client.search_runs("paging", "params.n >= 3", "params.n", group_nested=True)
        assert trees["name"].tolist() == ["top", "c3", "c4"]
        assert (trees["depth"].tolist(), trees["children"].tolist()) == ([0, 1, 1], [2, 0, 0])
        assert trees.attrs["total"] == 1 == client.count_runs("paging", group_nested=True)

    def test_keys_differing_only_in_case_stay_apart(self, client: TrackingClient) -> None:
        with client.start_run("case") as run:
            run.log_params({"A": 1, "a": 2})
            run.log_metrics({"Loss": 0.5, "loss": 0.25})
        row = client.search_runs("case").iloc[0]
        assert (row["params.A"], row["params.a"]) == (1, 2)
        assert (row["metrics.Loss"], row["metrics.loss"]) == (0.5, 0.25)

    def test_search_metric_stats(self, client: TrackingClient) -> None:
        with client.start_run("stats") as run:
            for value in (3.0, 1.0, 2.0):
                run.log_metric("loss", value)
        df = client.search_runs("stats", metric_stats=("latest", "min", "max", "count"))
        row = df.iloc[0]
        assert (
            row["metrics.loss"],
            row["min(metrics.loss)"],
            row["max(metrics.loss)"],
            row["count(metrics.loss)"],
        ) == (2.0, 1.0, 3.0, 3)

    def test_search_result_is_a_fresh_dataframe(self, client: TrackingClient) -> None:
        with client.start_run("fresh"):
            pass
        first = client.search_runs("fresh")
        first.loc[0, "name"] = "changed"
        assert client.search_runs("fresh").loc[0, "name"] != "changed"
        assert isinstance(first, pd.DataFrame)

    def test_soft_delete_and_restore_run(self, client: TrackingClient) -> None:
        with client.start_run("del") as run:
            pass
        client.delete_run(run.run_id)
        assert len(client.search_runs("del")) == 0
        assert len(client.search_runs("del", include_deleted=True)) == 1
        client.restore_run(run.run_id)
        assert len(client.search_runs("del")) == 1
        with pytest.raises(RunNotFoundError):
            client.delete_run("0" * 32)

    def test_experiment_lifecycle(self, client: TrackingClient) -> None:
        client.create_experiment("alpha", description="first")
        with pytest.raises(ConflictError, match="already exists"):
            client.create_experiment("alpha")
        with client.start_run("alpha"):
            pass
        client.rename_experiment("alpha", "beta")
        assert client.search_runs("beta")["experiment"].tolist() == ["beta"]
        client.delete_experiment("beta")
        assert "beta" not in client.list_experiments()["name"].tolist()
        assert len(client.search_runs("beta")) == 0
        with pytest.raises(ExperimentNotFoundError, match="No experiment named 'beta'"):
            client.get_experiment("beta")
        client.restore_experiment("beta")
        assert client.list_experiments().set_index("name").loc["beta", "runs"] == 1

    def test_writes_record_who_made_them(self, client: TrackingClient, store: Store) -> None:
        """Runs, experiments (made explicitly or by a run) and deployments say ``user@host``
        (several people and machines write to a team store)."""
        client.create_experiment("made")
        with client.start_run("by-a-run") as run:
            pass
        runs = client.sql("SELECT run_id, created_by FROM runs")
        assert runs.values.tolist() == [[run.run_id, who()]]
        experiments = client.sql("SELECT name, created_by FROM experiments ORDER BY name")
        assert experiments.values.tolist() == [["by-a-run", who()], ["made", who()]]
        store.create_deployment(
            DeploymentRecord(
                deployment_id="d1",
                model_uri="models:/m/1",
                host="127.0.0.1",
                port=1,
                url="http://127.0.0.1:1",
                machine="elsewhere",
                pid=1,
                pid_started=0.0,
                status="running",
                started_at=dt.datetime(2026, 1, 1),
            )
        )
        assert client.sql("SELECT started_by FROM deployments")["started_by"].tolist() == [who()]
        assert who().count("@") == 1 and all(who().split("@"))

    def test_unknown_run_is_not_found(self, client: TrackingClient) -> None:
        with pytest.raises(RunNotFoundError, match="No run with id 'nope'"):
            client.get_run("nope")

    def test_sql_is_read_only(self, client: TrackingClient) -> None:
        with client.start_run("sql") as run:
            run.log_metric("m", 1.5)
        df = client.sql("select value from metrics where run_id = $id", id=run.run_id)
        assert df["value"].tolist() == [1.5]
        for bad in ("delete from wb_runs", "select 1; drop table wb_runs", "create table x(a int)"):
            with pytest.raises(InvalidParameterError, match="read-only SELECT"):
                client.sql(bad)
        assert len(client.sql("select * from runs")) == 1

    def test_write_batch_is_visible_after_sync(self, store: Store) -> None:
        batch = Batch()
        batch.records["runs"].append(
            {
                "run_id": "r" * 32,
                "experiment": "raw",
                "name": "raw",
                "parent_id": None,
                "start_time": 1_700_000_000_000_000,
                "proc_id": None,
                "host": None,
                "pid": None,
                "pid_started": None,
                "context": "{}",
            }
        )
        batch.records["run_updates"].append(
            {
                "run_id": "r" * 32,
                "status": "finished",
                "end_time": 1_700_000_001_000_000,
                "error": None,
            }
        )
        store.write_batch(batch)
        store.sync()
        run = store.get_run("r" * 32)
        assert run.status.value == "finished"
        assert math.isclose(run.duration.total_seconds(), 1.0)  # type: ignore[union-attr]
        assert len(store.search_runs(RunSearch(experiments=("raw",)))) == 1

    def test_artifacts_are_content_addressed(self, client: TrackingClient) -> None:
        with client.start_run("art") as run:
            run.log_text("same", "a.txt")
            run.log_text("same", "b.txt")
        refs = {a.path: a for a in client.get_run(run.run_id).artifacts}
        assert refs["a.txt"].digest == refs["b.txt"].digest
        assert client.load_artifact(run.run_id, "a.txt") == "same"

    def test_datasets_are_recorded_once_per_content(self, client: TrackingClient) -> None:
        frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", None]})
        with client.start_run("data") as first:
            digest = first.log_input(frame, name="train")
        with client.start_run("data") as second:
            assert second.log_input(frame.copy(), name="train") == digest
        inputs = client.get_run(second.run_id).inputs
        assert inputs[0].dataset.n_rows == 3
        columns = inputs[0].dataset.schema["columns"]
        assert [(c["name"], c["nullable"]) for c in columns] == [("x", False), ("y", True)]
        assert inputs[0].dataset.profile["columns"]["x"]["mean"] == 2.0
        assert len(client.sql("select * from datasets")) == 1
