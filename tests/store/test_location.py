"""A store is named by a path (or ``:memory:``, or a file:// URL); any other URL is refused
before anything is created (it used to become a folder named ``postgresql:``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.cli import main

URL = "postgresql://alice:s3cret@db.example:5432/workbench"


def test_set_store_refuses_a_url_it_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(wb.InvalidParameterError) as raised:
        wb.set_store(URL)
    message = str(raised.value)
    assert "postgresql:// URL" in message and "a folder path" in message and ":memory:" in message
    assert "s3cret" not in message and "alice:***@db.example" in message
    assert list(tmp_path.iterdir()) == []  # the working directory: nothing created


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
    assert "--store is" in (err := capsys.readouterr().err) and "postgresql:// URL" in err
    assert list(tmp_path.iterdir()) == []
