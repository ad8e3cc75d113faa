"""``workbench store copy``: a store moved into a team store and back reads exactly as before;
a second copy writes nothing, a killed copy finishes on the next run, a destination that holds
other rows under the same ids is refused; ``workbench store init`` sets up a database."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import optuna
import pandas as pd
import psycopg
import pytest
from _postgres import PostgresServer
from sklearn.linear_model import Ridge

import workbench as wb
from workbench.cli import main
from workbench.entities import DeploymentRecord
from workbench.exceptions import (
    ConflictError,
    InvalidParameterError,
    NotAWorkbenchStoreError,
    StoreVersionError,
)
from workbench.registry import ModelRegistry
from workbench.serving._request_log import RequestLog
from workbench.store import CopyReport, DuckDBStore, _pg, copy_store
from workbench.store._schema import PUBLIC_VIEWS, SCHEMA_VERSION
from workbench.sweeps import copy_studies, load_sweep
from workbench.sweeps._storage import journal_path, open_journal


@pytest.fixture
def team_url(postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database; this machine's part of team stores in the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKBENCH_ARTIFACTS", raising=False)
    return postgres.url(postgres.new_database())


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    trial.report(x * x, 0)
    wb.log_metric("x2", x * x)
    return (x - 0.5) ** 2


def fill(path: Path) -> None:
    """A local store with one of everything a store keeps."""
    client = wb.connect(path)
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    y = X["a"] * 2.0
    with client.start_run("train", "parent", tags={"stage": "dev", "empty": ""}) as parent:
        parent.log_params({"alpha": 0.5, "solver": "auto", "layers": [1, 2], "none": None})
        parent.log_metric_series("loss", np.linspace(1.0, 0.1, 50))
        parent.log_metric("tiny", 5e-324)  # the smallest double: floats travel exactly
        parent.log_metric("tiny", 1 / 3)
        parent.log_text("hello, wörld\n", "notes.txt")
        parent.log_bytes(bytes(range(256)) * 40, "data/blob.bin")
        parent.log_input(X, name="train", context="training")
        with client.start_run("train", "child") as child:
            child.log_metric("acc", 0.75, step=3)
            child.set_tag("quote", 'it\'s "quoted", with, commas\nand a newline')
        model = Ridge(alpha=0.5).fit(X, y)
    registry = ModelRegistry(client)
    registry.register_model("ridge", run=parent.run_id, model=model, input_example=X.head(3))
    registry.register_model("ridge", run=parent.run_id, model=model, description="second")
    registry.set_alias("ridge", "champion", 1, reason="launch")
    registry.set_alias("ridge", "champion", 2, reason="retrained")
    registry.rollback("ridge", "champion", reason="v2 regressed")
    with pytest.raises(RuntimeError), client.start_run("other", "fails"):
        raise RuntimeError("boom")
    deleted = client.start_run("other", "deleted")
    deleted.end()
    client.delete_run(deleted.run_id)
    client.store.create_deployment(
        DeploymentRecord(
            deployment_id="dep-1",
            model_uri="ridge@champion",
            host="127.0.0.1",
            port=5000,
            url="http://127.0.0.1:5000",
            machine=socket.gethostname(),
            pid=1,
            pid_started=1.0,
            status="stopped",
            started_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
            stopped_at=dt.datetime(2026, 1, 2, 4, 0, tzinfo=dt.UTC),
            policy={"workers": 1},
        )
    )
    log = RequestLog(client, "dep-1", log_payloads=True)
    for i, role in enumerate(("primary", "shadow", "primary")):
        log.log(
            request_id=f"req-{i // 2}",
            model_name="ridge",
            model_version=2 if role == "primary" else 1,
            role=role,
            received_at_us=1_767_225_600_000_000 + i,
            latency_ms=1.5 + i,
            status=200,
            n_rows=2,
            inputs='{"a": [1, 2], "b": [0, 1]}',
            outputs="[2.0, 4.0]",
            error=None,
        )
    wb.sweep(_objective, n_trials=4, name="small", seed=1, progress=False, client=client)
    client.flush()
    client.close()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("filled") / "store"
    fill(path)
    return path


#: The documented views that ``fill`` puts rows in (every view is compared).
FILLED = {
    "alias_history",
    "aliases",
    "artifacts",
    "datasets",
    "deployments",
    "experiments",
    "metric_history",
    "metrics",
    "model_versions",
    "models",
    "params",
    "requests",
    "run_inputs",
    "runs",
    "tags",
}


def _views(client: wb.Workbench) -> dict[str, pd.DataFrame]:
    return {view: client.sql(f"SELECT * FROM {view} ORDER BY ALL") for view in PUBLIC_VIEWS}


def _snapshot(client: wb.Workbench) -> dict[str, object]:
    """Everything a user reads back from a store, as plain frames and bytes."""
    runs = client.search_runs(max_results=None, include_deleted=True).sort_values("run_id")
    artifacts = client.sql("SELECT DISTINCT digest FROM artifacts ORDER BY 1")["digest"]
    trials = load_sweep("small", client=client).trials_dataframe()
    return {
        "runs": runs.reset_index(drop=True),
        "history": client.get_metric_history(list(runs["run_id"])),
        "views": _views(client),
        "aliases": wb.alias_history("ridge", client=client),
        "files": {d: client.store.artifacts.path(d).read_bytes() for d in artifacts},
        "trials": trials,
    }


def _assert_same(got: dict[str, object], expected: dict[str, object]) -> None:
    for name in ("runs", "history", "aliases", "trials"):
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)  # type: ignore[arg-type]
    views_got, views_expected = got["views"], expected["views"]
    assert isinstance(views_got, dict) and isinstance(views_expected, dict)
    assert {view for view, frame in views_expected.items() if len(frame)} >= FILLED
    for view, frame in views_expected.items():
        pd.testing.assert_frame_equal(views_got[view], frame, obj=view)
    assert got["files"] == expected["files"]


def _table(report: CopyReport, name: str) -> int:
    return next(t.copied for t in report.tables if t.table == name)


@pytest.mark.slow
def test_round_trip_through_a_team_store_reads_the_same(
    filled: Path, team_url: str, tmp_path: Path
) -> None:
    source = wb.connect(filled)
    expected = _snapshot(source)
    source.close()

    there = copy_store(filled, team_url, progress=False, studies=copy_studies)
    assert there.verified, str(there)
    assert there.new_rows > 0 and there.files_copied == there.files > 0
    assert [(s.name, s.copied) for s in there.studies] == [("small", 4)]
    again = copy_store(filled, team_url, progress=False, studies=copy_studies)
    assert again.verified and again.new_rows == 0 and again.files_copied == 0
    assert [s.copied for s in again.studies] == [0]

    team = wb.connect(team_url)
    try:
        # The team store answers as the local one did (its own dialect's types aside).
        assert load_sweep("small", client=team).trials_dataframe().equals(expected["trials"])
        runs = team.search_runs(max_results=None, include_deleted=True)
        assert sorted(runs["run_id"]) == sorted(expected["runs"]["run_id"])  # type: ignore[index]
        assert len(team.get_metric_history(list(runs["run_id"]))) == len(expected["history"])  # type: ignore[arg-type]
    finally:
        team.close()

    back = copy_store(team_url, tmp_path / "back", progress=False, studies=copy_studies)
    assert back.verified and back.new_rows == there.new_rows, str(back)
    assert copy_store(team_url, tmp_path / "back", progress=False).new_rows == 0
    local = wb.connect(tmp_path / "back")
    try:
        _assert_same(_snapshot(local), expected)
    finally:
        local.close()


def test_local_to_local_copies_everything_once(filled: Path, tmp_path: Path) -> None:
    report = copy_store(filled, tmp_path / "copy", progress=False, studies=copy_studies)
    assert report.verified and report.new_rows > 0, str(report)
    counts = {t.table: (t.source_rows, t.destination_rows) for t in report.tables}
    assert all(src == dst for src, dst in counts.values()), counts
    assert {"wb_meta", "wb_spool_offsets", "wb_spool_damage"}.isdisjoint(counts)
    text = str(report)
    assert "wb_metric_points" in text and "Verified" in text
    again = copy_store(filled, tmp_path / "copy", progress=False, studies=copy_studies)
    assert again.new_rows == 0 and again.files_copied == 0 and again.verified
    source, copy = wb.connect(filled), wb.connect(tmp_path / "copy")
    try:
        _assert_same(_snapshot(copy), _snapshot(source))
    finally:
        source.close()
        copy.close()


def test_a_destination_with_other_rows_under_the_same_ids_is_refused(
    filled: Path, tmp_path: Path
) -> None:
    copy_store(filled, tmp_path / "copy", progress=False)
    client = wb.connect(tmp_path / "copy")
    client.rename_experiment("train", "renamed-there")
    client.close()
    with pytest.raises(ConflictError, match=r"wb_experiments experiment_id=.*Nothing was copied"):
        copy_store(filled, tmp_path / "copy", progress=False)

    # Another store with a live experiment of the same name (another id): refused too.
    other = wb.connect(tmp_path / "other")
    with other.start_run("train", "theirs"):
        pass
    other.close()
    with pytest.raises(ConflictError, match=r"name='train'.*rename one of them"):
        copy_store(filled, tmp_path / "other", progress=False)
    other = wb.connect(tmp_path / "other")
    assert len(other.search_runs(max_results=None)) == 1  # nothing was written
    other.close()


def test_bad_ends_are_refused_with_the_fix(filled: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="the same store"):
        copy_store(filled, filled / "workbench.duckdb", progress=False)
    (tmp_path / "not-a-store").mkdir()
    with pytest.raises(NotAWorkbenchStoreError, match="is not a workbench store"):
        copy_store(tmp_path / "not-a-store", tmp_path / "dst", progress=False)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "notes.md").write_text("mine")
    with pytest.raises(NotAWorkbenchStoreError, match="folder with other files"):
        copy_store(filled, tmp_path / "project", progress=False)
    with pytest.raises(InvalidParameterError, match="':memory:'"):
        copy_store(filled, ":memory:", progress=False)
    newer = tmp_path / "newer"
    copy_store(filled, newer, progress=False)
    with duckdb.connect(str(newer / "workbench.duckdb")) as con:
        con.execute(
            "UPDATE wb_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)]
        )
    with pytest.raises(StoreVersionError, match="newer workbench"):
        copy_store(filled, newer, progress=False)


KILLED = """
import sys
from workbench.store import copy_store
copy_store(sys.argv[1], sys.argv[2], progress=False, batch_rows=100)
"""


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


@pytest.mark.slow
def test_a_killed_copy_finishes_on_the_next_run_and_copies_nothing_twice(
    team_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    client = wb.connect(source)
    for r in range(20):
        with client.start_run("many", f"run-{r}") as run:
            for k in range(10):
                run.log_metric_series(f"m{k}", np.arange(100.0) + r)
    client.flush()
    client.close()
    total = 20 * 10 * 100

    def points() -> int:
        with psycopg.connect(team_url) as con:
            tables = con.execute("SELECT to_regclass('wb_metric_points')").fetchone()
            if tables is None or tables[0] is None:
                return 0
            row = con.execute("SELECT count(*) FROM wb_metric_points").fetchone()
            return int(row[0]) if row else 0

    env = {**os.environ, "TMPDIR": str(tmp_path)}  # where the killed copy leaves its scratch
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(source), team_url], env=env)
    try:
        _wait(lambda: points() > 0 or child.poll() is not None, "the first points copied")
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    partial = points()
    assert 0 < partial < total, "the copy was killed half-way (batches of ~100 points)"

    report = copy_store(source, team_url, progress=False)
    assert report.verified, str(report)
    assert _table(report, "wb_metric_points") == total - partial
    with psycopg.connect(team_url) as con:
        row = con.execute(
            "SELECT count(*), count(DISTINCT (run_id, key, step)) FROM wb_metric_points"
        ).fetchone()
    assert row == (total, total)
    assert copy_store(source, team_url, progress=False).new_rows == 0


@pytest.mark.slow
def test_cli_store_init_and_copy(
    filled: Path, team_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cli("store", "init", team_url)
    assert code == 0 and f"Created the workbench schema (version {SCHEMA_VERSION})" in out
    shared = tmp_path / "shared-artifacts"
    code, out, _ = cli("store", "init", team_url, "--artifacts", str(shared))
    assert code == 0 and "nothing to do" in out and f"live in {shared}" in out
    with _pg.connect(team_url) as con:
        row = con.execute("SELECT value FROM wb_meta WHERE key = 'artifacts'").fetchone()
    assert row == (str(shared),)

    code, out, err = cli("store", "copy", str(filled), team_url, "--no-progress")
    assert code == 0, err
    assert "Verified" in out and "sweep small (trials)" in out

    code, _, err = cli("store", "init", "postgresql://nobody@127.0.0.1:1/nothing")
    assert code == 2 and "Could not connect" in err
    code, _, err = cli("store", "copy", str(tmp_path), str(tmp_path / "dst"), "--no-progress")
    assert code == 2 and "is not a workbench store" in err
    code, _, err = cli("store", "init", str(tmp_path / "x"))
    assert code == 2 and "A local store needs no init" in err


def test_tables_are_copied_by_the_columns_both_ends_have(filled: Path, tmp_path: Path) -> None:
    """A column one end has and the other not (a newer schema on one side, say)."""
    source, destination = tmp_path / "source", tmp_path / "destination"
    copy_store(filled, source, progress=False)
    wb.connect(destination).close()  # an empty store
    with duckdb.connect(str(source / "workbench.duckdb")) as con:
        con.execute("ALTER TABLE wb_tags ADD COLUMN only_here VARCHAR DEFAULT 'x'")
    with duckdb.connect(str(destination / "workbench.duckdb")) as con:
        con.execute("ALTER TABLE wb_params ADD COLUMN only_there VARCHAR")
    report = copy_store(source, destination, progress=False)
    assert report.verified, str(report)
    tags = next(t for t in report.tables if t.table == "wb_tags")
    assert tags.left_out == ("only_here",) and tags.copied == tags.source_rows > 0
    assert "wb_tags: the destination has no column only_here" in report.notes
    with duckdb.connect(str(destination / "workbench.duckdb")) as con:
        row = con.execute("SELECT count(*), count(only_there) FROM wb_params").fetchone()
    assert row is not None and row[0] > 0 and row[1] == 0


def test_an_interrupted_study_copy_gets_the_trials_it_lacks(filled: Path, tmp_path: Path) -> None:
    source = DuckDBStore(filled)
    theirs = optuna.load_study(
        study_name="small", storage=open_journal(journal_path(filled, "small"))
    )
    destination = DuckDBStore(tmp_path / "dst")
    target = open_journal(journal_path(destination.root, "small"))
    half = optuna.create_study(study_name="small", storage=target, directions=theirs.directions)
    for trial in theirs.trials[:2]:  # killed after two trials, before the study's attributes
        target.create_new_trial(half._study_id, template_trial=trial)
    try:
        [copied] = copy_studies(source, destination)
        assert (copied.name, copied.trials, copied.copied) == ("small", 4, 2)
        there = optuna.load_study(study_name="small", storage=target)
        assert there.user_attrs == theirs.user_attrs
        pd.testing.assert_frame_equal(there.trials_dataframe(), theirs.trials_dataframe())
        assert copy_studies(source, destination)[0].copied == 0

        other = DuckDBStore(tmp_path / "other")
        diverged = optuna.create_study(
            study_name="small",
            storage=open_journal(journal_path(other.root, "small")),
            directions=theirs.directions,
        )
        diverged.enqueue_trial({"x": 0.0})
        diverged.optimize(lambda t: t.suggest_float("x", -2.0, 2.0), n_trials=1)
        with pytest.raises(ConflictError, match=r"sweep 'small'.*trial 0"):
            copy_studies(source, other)
        other.close()
    finally:
        source.close()
        destination.close()
