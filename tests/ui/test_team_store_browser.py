"""The served dashboard on a team store (PostgreSQL), in a real Chromium.

The store is filled with the same runs, sweep, model and drift report as the local store's
browser test (``_ui_store.populate``) and served through a database role that has only the
grants docs/team-store.md lists for a read-only dashboard (``READER_SETUP``; the database's
default grants to PUBLIC are revoked first, so those grants are all the role has). Its password
reaches the dashboard in ``PGPASSWORD``, never on a command line; the server checks it
(scram-sha-256 for that role). Without ``--allow-writes`` the dashboard opens the store
read-only; with it, the role still cannot write, and each action that writes says so in the
page. Screenshots go to test-artifacts/ui/team-*.png.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from _browser import Served, local_tab, screenshot
from _postgres import PostgresServer
from _ui_store import MODEL, populate
from playwright.sync_api import expect

import workbench as wb
from workbench.exceptions import ReadOnlyStoreError, StoreError
from workbench.ui import _runs_query as q

pytestmark = [pytest.mark.ui, pytest.mark.slow]
expect.set_options(timeout=30_000)  # a loaded CI machine renders slowly; waits end early
TIMEOUT_MS = 30_000

READER = "wb_dashboard"
READER_PASSWORD = "dashboard-reader-test-password"
OWNER = "postgres"  # the role the writers connect as, which creates the tables
# docs/team-store.md, "A read-only role for the dashboard", word for word.
READER_SETUP = (
    "CREATE ROLE {role} LOGIN PASSWORD '{password}'",
    "GRANT CONNECT ON DATABASE {database} TO {role}",
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
    "GRANT EXECUTE ON FUNCTIONS TO {role}",
)
# What a hardened server does (and PostgreSQL < 15 did not): nothing for PUBLIC, so the role
# has exactly the grants above.
REVOKE_PUBLIC = (
    "REVOKE ALL ON DATABASE {database} FROM PUBLIC",
    "REVOKE ALL ON SCHEMA public FROM PUBLIC",
    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
)


def _require_password(postgres: PostgresServer, database: str, role: str) -> None:
    """Make the server check ``role``'s password on ``database`` (the test cluster trusts
    everyone), and wait until it does."""
    hba = postgres.data / "pg_hba.conf"
    rule = f"host {database} {role} 127.0.0.1/32 scram-sha-256\n"
    hba.write_text(rule + hba.read_text())
    with psycopg.connect(postgres.url(), autocommit=True) as con:
        con.execute("SELECT pg_reload_conf()")
    url = f"postgresql://{role}@127.0.0.1:{postgres.port}/{database}"
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            assert "password" in str(exc), exc
            return
        assert time.monotonic() < deadline, "the server did not start checking the password"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def team(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A team store with a read-only role set up as documented, then filled (so the sweep's
    Optuna tables, created afterwards, are readable through the default privileges)."""
    cache = tmp_path_factory.mktemp("team-cache")  # this machine's journals and artifacts
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        database = postgres.new_database()
        url = postgres.url(database)
        wb.connect(url).close()  # the schema, created by the writers' role
        names = {"database": database, "owner": OWNER, "role": READER}
        with psycopg.connect(url, autocommit=True) as con:
            for statement in (*REVOKE_PUBLIC, *READER_SETUP):
                con.execute(statement.format(password=READER_PASSWORD, **names))  # type: ignore[arg-type]
        _require_password(postgres, database, READER)
        info = populate(url)
        wb.connect(url).close()  # everything shipped
        reader = f"postgresql://{READER}@127.0.0.1:{postgres.port}/{database}"
        yield {"url": url, "reader": reader, "cache": cache, **info}


def _serve(team: dict[str, Any], *args: str) -> Served:
    env = {"XDG_CACHE_HOME": str(team["cache"]), "PGPASSWORD": READER_PASSWORD}
    return Served(team["reader"], *args, env=env)


@pytest.fixture(scope="module")
def served(team: dict[str, Any]) -> Iterator[Served]:
    """The dashboard as the read-only role, without --allow-writes."""
    server = _serve(team)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    with local_tab(browser, TIMEOUT_MS) as tab:
        yield tab


def open_page(tab: Any, server: Served, **query: str) -> None:
    tab.goto(f"{server.url}/?{urllib.parse.urlencode(query)}")


def test_the_role_has_only_the_documented_grants(team: dict[str, Any]) -> None:
    with psycopg.connect(team["reader"], password=READER_PASSWORD) as con:
        rows = con.execute(
            "SELECT c.relname, has_table_privilege(c.oid, 'SELECT'), "
            "has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v')"
        ).fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("UPDATE wb_runs SET deleted_at = now()")
    readable = {name for name, select, _ in rows if select}
    assert {"wb_runs", "wb_meta", "runs", "models", "studies", "trials"} <= readable
    assert readable == {name for name, _, _ in rows}  # every table and view, Optuna's too
    assert not [name for name, _, write in rows if write]


def test_the_dashboard_opens_a_team_store_read_only(
    team: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import panel as pn

    from workbench.ui import Dashboard, ModelView, RunsBrowser
    from workbench.ui.dashboard import dashboard_store

    monkeypatch.setenv("XDG_CACHE_HOME", str(team["cache"]))
    monkeypatch.setenv("PGPASSWORD", READER_PASSWORD)
    assert dashboard_store(team["reader"], read_only=False) == team["reader"]
    store = dashboard_store(team["reader"])
    assert not isinstance(store, str) and store.read_only
    client = wb.connect(store)
    with pytest.raises(ReadOnlyStoreError, match="open read-only"):
        client.delete_run(team["churn"][0])
    # a read-only store: no view offers a write, whatever it was asked
    assert Dashboard(client, read_only=False).read_only
    browser = RunsBrowser(client, read_only=False, experiment="churn")
    assert browser.read_only and not browser._delete.visible
    view = ModelView(MODEL, client=client, read_only=False)
    assert view.read_only and not any(isinstance(o, pn.Row) for o in view._layout.objects)
    # and one that is made writable later still refuses, saying why
    browser.read_only = False
    browser.selected = [team["churn"][0]]
    browser._delete.clicks += 1
    assert browser._refusal.visible and "the store is read-only" in browser._refusal.object
    assert browser.selected == [team["churn"][0]] and browser.total == len(team["churn"]) + 2


def test_a_role_without_the_grants_is_told_what_it_lacks(
    team: dict[str, Any], postgres: PostgresServer
) -> None:
    from workbench.ui.dashboard import dashboard_store

    database = team["url"].rsplit("/", 1)[1]
    role = f"{database}_nogrants"  # it may connect, and read nothing
    with psycopg.connect(team["url"], autocommit=True) as con:
        for statement in READER_SETUP[:3]:  # it may log in, and nothing more
            con.execute(statement.format(role=role, password="x", database=database, owner=OWNER))  # type: ignore[arg-type]
    url = f"postgresql://{role}@127.0.0.1:{postgres.port}/{database}"
    with pytest.raises(StoreError, match="lacks the grants of a reader"):
        dashboard_store(url)


def test_runs_page_shows_the_team_stores_runs(
    page: Any, served: Served, team: dict[str, Any]
) -> None:
    open_page(page, served, page="runs")
    expected = q.fetch_page(
        wb.connect(team["url"]), q.RunsQuery(), page=1, page_size=50, columns=["name"]
    )
    expect(page.locator(".tabulator-row")).to_have_count(len(expected.frame))
    expect(page.get_by_text("parent-run \u25be 3")).to_be_visible()
    expect(page.get_by_text("\u2514 fold-0")).to_be_visible()
    expect(page.get_by_text(f"rows 1\u2013{expected.total} of {expected.total}")).to_be_visible()
    note = f"Store {team['reader']} \u00b7 read-only"
    expect(page.get_by_text(note)).to_be_visible()
    expect(page.get_by_role("button", name="Delete selected")).to_have_count(0)
    screenshot(page, "team-runs")


def test_filter_and_order_come_from_the_url(page: Any, served: Served) -> None:
    # ordering by a tag casts its text with the schema's function (EXECUTE granted above)
    open_page(
        page,
        served,
        page="runs",
        experiment="churn",
        filter="params.C > 0.35",
        order_by="tags.team DESC",
    )
    expect(page.locator(".tabulator-row")).to_have_count(3)
    for name in ("churn-3", "churn-4", "churn-5"):
        expect(page.get_by_text(name, exact=True)).to_be_visible()


def test_select_runs_and_see_the_comparison(
    page: Any, served: Served, team: dict[str, Any]
) -> None:
    open_page(page, served, page="runs", experiment="churn", filter="params.C < 0.35")
    rows = page.locator(".tabulator-row")
    expect(rows).to_have_count(3)
    for i in range(3):
        rows.nth(i).locator("input[type=checkbox]").click()
    page.get_by_role("button", name="Compare selected (3)").click()
    expect(page.get_by_text("Comparing 3 runs of churn")).to_be_visible()
    plots = page.locator(".js-plotly-plot")
    expect(plots.nth(3)).to_be_visible()  # curves, parallel coordinates, param vs metric, bars
    page.wait_for_url(re.compile(r"page=compare"))
    runs = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["runs"][0].split(",")
    assert sorted(runs) == sorted(team["churn"][:3])
    screenshot(page, "team-compare")


@pytest.mark.parametrize(
    ("name", "marker", "min_plots"),
    [
        ("sweeps", "Sweep lr-search", 4),
        ("models", f"Model {MODEL} v2 (champion)", 0),
        ("deployments", re.compile("No deployments yet|not available yet"), 0),
        ("drift", "No dataset drift", 1),
    ],
)
def test_every_page_renders(
    page: Any, served: Served, name: str, marker: Any, min_plots: int
) -> None:
    open_page(page, served, page=name)
    expect(page.get_by_text(marker).first).to_be_visible()
    if min_plots:
        expect(page.locator(".js-plotly-plot").nth(min_plots - 1)).to_be_visible()
    if name == "models":
        expect(page.get_by_role("button", name=re.compile("Point alias"))).to_have_count(0)
    screenshot(page, f"team-{name}")


def test_a_read_only_role_with_allow_writes_is_refused_with_a_clear_message(
    browser: Any, team: dict[str, Any]
) -> None:
    server = _serve(team, "--allow-writes")
    try:
        server.wait_ready()
        with local_tab(browser, TIMEOUT_MS) as tab:
            open_page(tab, server, page="runs", experiment="churn", filter="params.C < 0.15")
            rows = tab.locator(".tabulator-row")
            expect(rows).to_have_count(1)
            rows.first.locator("input[type=checkbox]").click()
            tab.get_by_role("button", name="Delete selected").click()
            expect(tab.get_by_text("Not allowed to delete 1 run")).to_be_visible()
            expect(tab.get_by_text("may only read")).to_be_visible()
            expect(rows).to_have_count(1)  # still there
            screenshot(tab, "team-delete-refused")

            open_page(tab, server, page="models")
            tab.get_by_placeholder("champion").fill("staging")
            tab.get_by_role("button", name="Point alias at v2").click()
            expect(tab.get_by_text("Not allowed to point alias 'staging' at v2")).to_be_visible()
            screenshot(tab, "team-alias-refused")
    finally:
        server.stop()
    client = wb.connect(team["url"])
    kept = client.search_runs("churn", "params.C < 0.15")
    assert list(kept["run_id"]) == [team["churn"][0]]  # not deleted
    assert set(wb.list_models(client=client)["aliases"].iloc[0]) == {"champion"}


def test_an_empty_team_store_says_how_to_start(
    browser: Any, postgres: PostgresServer, tmp_path: Path
) -> None:
    server = Served(
        postgres.url(postgres.new_database()), env={"XDG_CACHE_HOME": str(tmp_path / "cache")}
    )
    try:
        server.wait_ready()  # the schema was created, as a new local store is
        with local_tab(browser, TIMEOUT_MS, viewport={"width": 1400, "height": 800}) as tab:
            tab.goto(server.url + "/?page=runs")
            expect(tab.get_by_text("This store has no runs yet.")).to_be_visible()
            expect(tab.get_by_text(re.compile(r"Store postgresql://.* read-only"))).to_be_visible()
    finally:
        server.stop()
