"""A sweep on a real PostgreSQL server (Optuna's RDB storage), as machines would share it.

On the session's throw-away server (``tests/_postgres.py``), in a database of its own: two
worker processes on one sweep through the ``postgresql+psycopg2://`` URL. Skipped, saying why,
when PostgreSQL is not installed (``scripts/apt-packages.txt`` lists it; ``scripts/test``
installs it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _postgres import PostgresServer
from _sweep_checks import assert_tracked_once
from _sweep_objectives import busy

import workbench as wb
from workbench.sweeps import list_sweeps, load_sweep, sweep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres_url(postgres: PostgresServer) -> str:
    return postgres.url(postgres.new_database(), driver="psycopg2")


def test_two_workers_on_postgresql(store_dir: Path, postgres_url: str) -> None:
    s = sweep(busy, n_trials=40, name="pg", n_workers=2, storage=postgres_url, progress=False)

    assert s.counts()["complete"] == 40
    assert_tracked_once(s)
    owners = {t.user_attrs["workbench.owner"] for t in s.study.trials}
    assert len(owners) == 2
    assert s.storage_label == postgres_url  # no password in this URL to hide

    # Another process (machine) continues it through the URL; the store lists it.
    more = sweep(busy, n_trials=45, name="pg", storage=postgres_url, progress=False)
    assert more.counts()["complete"] == 45 and more.parent_run_id == s.parent_run_id
    assert load_sweep("pg", storage=postgres_url).counts()["total"] == 45
    listed = list_sweeps().set_index("name").loc["pg"]
    assert listed["storage"] == postgres_url and listed["status"] == "finished"
    with pytest.raises(wb.NotFoundError, match="No sweep named 'nope'"):
        load_sweep("nope", storage=postgres_url)


def test_on_a_team_store_the_study_lives_in_the_stores_database(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.url(postgres.new_database())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    wb.set_store(url)
    try:
        s = sweep(busy, n_trials=20, name="team", n_workers=2, progress=False)
        assert s.counts()["complete"] == 20
        assert_tracked_once(s)
        assert s.storage_label.startswith("postgresql+psycopg://")  # not a local journal
        assert not list((tmp_path / "cache").rglob("optuna/*.journal"))  # no study journal here
        # Any process of the store (another machine) finds the study without naming it.
        assert load_sweep("team").counts()["complete"] == 20
        listed = list_sweeps().set_index("name").loc["team"]  # the dashboard's Sweeps table
        assert (listed["trials"], listed["complete"]) == (20, 20)
        assert listed["best_value"] == s.study.best_value
        tables = wb.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_name = 'trials'"
        )
        assert len(tables) == 1  # Optuna's tables, in the store's database
    finally:
        wb.connect().close()  # the team store's connections, not left to the garbage collector
        wb.set_store(None)
