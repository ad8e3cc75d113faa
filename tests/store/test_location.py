"""A store is named by a path (or ``:memory:``, or a file:// URL), or a team store's
postgresql:// URL; any other URL is refused before anything is created (a PostgreSQL URL used
to become a folder named ``postgresql:``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _postgres import PostgresServer

import workbench as wb
from workbench.cli import main

URL = "s3://alice:s3cret@bucket.example/workbench"
UNREACHABLE = "postgresql://alice:s3cret@127.0.0.1:1/workbench"  # nothing listens on port 1


def test_set_store_refuses_a_url_it_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(wb.InvalidParameterError) as raised:
        wb.set_store(URL)
    message = str(raised.value)
    assert "s3:// URL" in message and "a folder path" in message and ":memory:" in message
    assert "postgresql://USER@HOST:PORT/DATABASE" in message  # the forms it does take
    assert "s3cret" not in message and "alice:***@bucket.example" in message
    assert list(tmp_path.iterdir()) == []  # the working directory: nothing created


def test_a_postgresql_url_names_the_team_store_and_nothing_local_is_created(
    tmp_path: Path,
) -> None:
    with pytest.raises(wb.InvalidParameterError, match="needs the database"):
        wb.set_store("postgresql://alice@db.example:5432")
    wb.set_store(UNREACHABLE)  # accepted: it is a store's name; connecting is what fails
    try:
        with pytest.raises(wb.StoreError, match="Could not connect to the team store") as raised:
            wb.search_runs()
        assert "s3cret" not in str(raised.value) and "alice:***@127.0.0.1:1" in str(raised.value)
    finally:
        wb.set_store(None)
    assert list(tmp_path.iterdir()) == []


def test_runs_logged_through_a_postgresql_url_are_read_back_by_the_api_and_the_cli(
    postgres: PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = postgres.url(postgres.new_database())
    monkeypatch.setenv("WORKBENCH_STORE", url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the machine's journals
    with wb.start_run("team", "first") as run:
        run.log_params({"lr": 0.1})
        run.log_metric("loss", 0.5)
    found = wb.search_runs("team", filter="params.lr > 0.05")
    assert list(found["run_id"]) == [run.run_id] and found["metrics.loss"].iloc[0] == 0.5
    assert wb.connect().store.location == url
    assert main(["--store", url, "runs", "list", "--experiment", "team"]) == 0
    assert run.run_id[:8] in capsys.readouterr().out
    assert not (tmp_path / ".workbench").exists()


def test_the_environment_variable_is_checked_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_STORE", "s3://bucket/store")
    with pytest.raises(wb.InvalidParameterError, match=r"WORKBENCH_STORE is 's3://bucket/store'"):
        wb.connect()
    with pytest.raises(wb.InvalidParameterError, match="s3:// URL"):
        wb.connect("s3://bucket/store")
    assert list(tmp_path.iterdir()) == []


def test_a_file_url_names_a_local_store(tmp_path: Path) -> None:
    store = tmp_path / "a store"
    client = wb.connect(store.as_uri())
    try:
        with client.start_run("e") as run:
            run.log_metric("m", 1.0)
        assert client.store.location == str(store)
        assert wb.Workbench(store).get_run(run.run_id).metrics == {"m": 1.0}
    finally:
        client.close()


def test_the_command_line_says_so_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--store", URL, "runs", "list"]) == 2
    assert "--store is" in (err := capsys.readouterr().err) and "s3:// URL" in err
    assert main(["--store", UNREACHABLE, "runs", "list"]) == 2
    assert "Could not connect to the team store" in (err := capsys.readouterr().err)
    assert "s3cret" not in err
    assert list(tmp_path.iterdir()) == []


def test_other_processes_get_the_url_without_its_password_and_the_password_apart(
    team_store: object, postgres: PostgresServer, tmp_path: Path
) -> None:
    """Model servers, sweep workers and notebook kernels open a team store by a URL with no
    password (command lines are visible to every user); the password travels as PGPASSWORD.
    Messages never show it, in ``user:password@`` or in ``?password=``."""
    from workbench.config import redact_url
    from workbench.store.postgres import PostgresStore

    url = postgres.url(postgres.new_database()).replace("postgres@", "postgres:s3cret@")
    store = PostgresStore(url, local=tmp_path / "local")
    try:
        location, environment = store.for_child_process()
        assert "s3cret" not in location and location.startswith("postgresql://postgres@")
        assert environment == {"PGPASSWORD": "s3cret"}
        assert "s3cret" not in store.location
    finally:
        store.close()
    assert wb.DuckDBStore(tmp_path / "local-store").for_child_process()[1] == {}
    assert redact_url("postgresql://u@h/db?password=pw&sslmode=require") == (
        "postgresql://u@h/db?password=***&sslmode=require"
    )
