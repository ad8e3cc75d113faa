"""The server extension's REST API through a real Jupyter server (pytest-jupyter's jp_fetch)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

Fetch = Any


async def get(jp_fetch: Fetch, *parts: str, **params: Any) -> Any:
    response = await jp_fetch("workbench", *parts, params=params or None)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error(jp_fetch: Fetch, *parts: str, **params: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("workbench", *parts, params=params or None)
    body = caught.value.response.body if caught.value.response else b"{}"
    return caught.value.code, json.loads(body)


async def test_info_names_the_store(jp_fetch: Fetch, server_store: dict[str, Any]) -> None:
    info = await get(jp_fetch, "info")
    assert info["store"] == str(server_store["path"])


async def test_experiments_count_runs(jp_fetch: Fetch) -> None:
    data = await get(jp_fetch, "experiments")
    runs = {e["name"]: e["runs"] for e in data["experiments"]}
    assert runs["tiny-sweep"] == 4  # the sweep's run and its 3 trials
    assert runs["iris"] == 8  # 7 + the model's run
    assert runs["weather"] == 7
    assert runs["drift-reports"] == 1


async def test_runs_are_paged_server_side(jp_fetch: Fetch, server_store: dict[str, Any]) -> None:
    first = await get(jp_fetch, "runs", experiment="weather", page="1", page_size="3")
    assert (first["total"], first["page"], first["n_pages"]) == (7, 1, 3)
    seen = [r["run_id"] for r in first["runs"]]
    for page in (2, 3):
        data = await get(jp_fetch, "runs", experiment="weather", page=str(page), page_size="3")
        seen += [r["run_id"] for r in data["runs"]]
    assert len(seen) == 7 and set(seen) == set(server_store["runs"]["weather"])
    assert seen == list(reversed(server_store["runs"]["weather"]))  # newest first
    run = first["runs"][0]
    assert run["params"] == {"C": pytest.approx(0.7), "solver": "lbfgs"}
    assert run["metrics"]["loss"] == pytest.approx(1.0 / 9)  # the latest step
    assert run["tags"]["team"] == "ml"
    past_end = await get(jp_fetch, "runs", experiment="weather", page="9", page_size="3")
    assert past_end["runs"] == [] and past_end["total"] == 7


async def test_runs_filter_and_order_use_the_search_language(jp_fetch: Fetch) -> None:
    data = await get(
        jp_fetch,
        "runs",
        filter="metrics.accuracy >= 0.7 AND params.solver = 'lbfgs'",
        order_by="metrics.accuracy ASC",
        page_size="50",
    )
    accuracies = [r["metrics"]["accuracy"] for r in data["runs"]]
    assert accuracies == sorted(accuracies) and min(accuracies) >= 0.7
    assert data["total"] == 6  # 0.7, 0.75, 0.8 in both experiments (no metric on trials)


async def test_bad_filter_is_a_400_with_the_error_code(jp_fetch: Fetch) -> None:
    code, body = await error(jp_fetch, "runs", filter="metrics.accuracy >")
    assert code == 400
    assert body["error_code"] == "INVALID_FILTER"
    assert "metrics.accuracy >" in body["message"]
    code, body = await error(jp_fetch, "runs", page_size="100000")
    assert code == 400 and body["error_code"] == "INVALID_PARAMETER"


async def test_run_detail_and_missing_run(jp_fetch: Fetch, server_store: dict[str, Any]) -> None:
    run_id = server_store["runs"]["iris"][0]
    run = await get(jp_fetch, "runs", run_id)
    assert run["name"] == "iris-0" and run["status"] == "finished"
    assert run["params"]["solver"] == "lbfgs"
    model_run = await get(jp_fetch, "runs", server_store["model_run"])
    assert model_run["inputs"] == [
        {
            "name": "features",
            "digest": model_run["inputs"][0]["digest"],
            "rows": 60,
            "context": "training",
        }
    ]
    code, body = await error(jp_fetch, "runs", "nope")
    assert code == 404 and body["error_code"] == "RUN_NOT_FOUND"


async def test_models_and_versions(jp_fetch: Fetch) -> None:
    models = await get(jp_fetch, "models")
    (model,) = models["models"]
    assert model["name"] == "clf" and model["aliases"] == {"champion": 1}
    detail = await get(jp_fetch, "models", "clf")
    assert [v["version"] for v in detail["versions"]] == [1]
    assert detail["aliases"] == [{"alias": "champion", "version": 1}]
    code, body = await error(jp_fetch, "models", "nope")
    assert code == 404 and body["error_code"] == "MODEL_NOT_FOUND"


async def test_reports_list_drift_reports(jp_fetch: Fetch, server_store: dict[str, Any]) -> None:
    data = await get(jp_fetch, "reports")
    assert [r["run_id"] for r in data["runs"]] == [server_store["report"]]
    assert data["runs"][0]["tags"]["drift.dataset_drift"] == "true"


async def test_deployments_answer_even_without_serving(jp_fetch: Fetch) -> None:
    data = await get(jp_fetch, "deployments")
    assert isinstance(data["available"], bool) and data["deployments"] == []


async def test_views_are_html_pages(jp_fetch: Fetch, server_store: dict[str, Any]) -> None:
    ids = ",".join(server_store["runs"]["iris"][:3])
    pages = {
        "compare": ids,
        "run": server_store["runs"]["iris"][0],
        "model": "clf@champion",
        "drift": server_store["report"],
        "sweep": "tiny",
    }
    for kind, ident in pages.items():
        response = await jp_fetch("workbench", "views", kind, ident)
        assert response.code == 200, kind
        assert response.headers["Content-Type"].startswith("text/html")
        page = response.body.decode()
        assert page.lstrip().lower().startswith("<!doctype html"), kind
        assert len(page) < 1_000_000, kind  # plotly.js is not inlined
    compare = (await jp_fetch("workbench", "views", "compare", ids)).body.decode()
    assert "iris-0" in compare and "workbench/static/plotly.min.js" in compare
    drift = (await jp_fetch("workbench", "views", "drift", server_store["report"])).body.decode()
    assert "shifted" in drift


async def test_sweeps(jp_fetch: Fetch) -> None:
    (sweep,) = (await get(jp_fetch, "sweeps"))["sweeps"]
    assert sweep["name"] == "tiny" and sweep["experiment"] == "tiny-sweep"
    page = (await jp_fetch("workbench", "views", "sweep", "tiny")).body.decode()
    assert "Sweep tiny" in page and "wb-figure" in page


async def test_view_errors(jp_fetch: Fetch) -> None:
    code, body = await error(jp_fetch, "views", "compare", "nope")
    assert code == 404 and body["error_code"] == "RUN_NOT_FOUND"
    code, body = await error(jp_fetch, "views", "bogus", "x")
    assert code == 400 and "compare" in body["message"]


async def test_plotly_is_served_publicly(jp_fetch: Fetch) -> None:
    response = await jp_fetch("workbench", "static", "plotly.min.js", headers={"Authorization": ""})
    assert response.code == 200 and len(response.body) > 1_000_000
    assert "max-age" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        ("experiments",),
        ("runs",),
        ("runs", "x"),
        ("models",),
        ("deployments",),
        ("reports",),
        ("views", "compare", "x"),
        ("dashboard",),
    ],
)
async def test_unauthenticated_requests_are_refused(jp_fetch: Fetch, path: tuple[str, ...]) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("workbench", *path, headers={"Authorization": ""})
    assert caught.value.code == 403


WRITER = """
import sys, time, workbench as wb
wb.set_store(sys.argv[1])
for i in range(int(sys.argv[2])):
    with wb.start_run("live", f"live-{i}") as run:
        for step in range(20):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    time.sleep(0.02)
wb.flush()
print("done", flush=True)
"""


@pytest.mark.slow
async def test_reads_while_another_process_writes(
    jp_fetch: Fetch, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel logging runs and the sidebar polling the same store: no errors, no lost runs,
    the count only grows."""
    import asyncio
    import sys

    store = tmp_path / "live-store"
    monkeypatch.setenv("WORKBENCH_STORE", str(store))  # not the seeded store: read the writer's
    import workbench as wb

    wb.set_store(store)
    try:
        n = 40
        writer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, str(store), str(n), stdout=asyncio.subprocess.PIPE
        )
        totals = []
        while writer.returncode is None:
            data = await get(jp_fetch, "runs", experiment="live", page_size="5")
            totals.append(data["total"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer.wait(), timeout=0.1)
        assert writer.returncode == 0
        final = await get(jp_fetch, "runs", experiment="live", page_size="5")
        assert final["total"] == n
        assert totals == sorted(totals) and len(totals) >= 3
        assert all(r["metrics"]["loss"] == pytest.approx(0.05) for r in final["runs"])
    finally:
        wb.connect(store).close()
        wb.set_store(None)


async def test_dashboard_url_from_the_environment(
    jp_fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DASHBOARD_URL", "https://dash.example/wb/")
    started = await jp_fetch("workbench", "dashboard", method="POST", body=b"")
    assert json.loads(started.body) == {"url": "https://dash.example/wb/", "started_here": False}
    assert (await get(jp_fetch, "dashboard"))["url"] == "https://dash.example/wb/"


@pytest.mark.slow
async def test_dashboard_is_started_on_loopback_once(jp_fetch: Fetch) -> None:
    import urllib.request

    from workbench.jupyter import _dashboard

    pytest.importorskip("panel")
    try:
        first = json.loads((await jp_fetch("workbench", "dashboard", method="POST", body=b"")).body)
        assert first["started_here"] and first["url"].startswith("http://127.0.0.1:")
        again = json.loads((await jp_fetch("workbench", "dashboard", method="POST", body=b"")).body)
        assert again == first
        with urllib.request.urlopen(first["url"] + "liveness", timeout=30) as response:
            assert response.status == 200
    finally:
        _dashboard.stop()
    assert (await get(jp_fetch, "dashboard"))["url"] is None


async def test_views_with_figures_come_as_parts_for_the_page(
    jp_fetch: Fetch, server_store: dict[str, Any]
) -> None:
    ids = ",".join(server_store["runs"]["iris"][:3])
    response = await jp_fetch("workbench", "views", "compare", ids, params={"format": "json"})
    parts = json.loads(response.body)
    assert parts["kind"] == "compare" and parts["title"] == "Compare 3 runs"
    assert "iris-0" in parts["html"] and "<script" not in parts["html"]
    assert len(parts["figures"]) >= 2
    assert all({"data", "layout"} <= set(f) for f in parts["figures"])
    assert len(response.body) < 200_000  # data only: no plotly.js
    sweep = json.loads(
        (await jp_fetch("workbench", "views", "sweep", "tiny", params={"format": "json"})).body
    )
    assert sweep["figures"] and "tiny" in sweep["html"]
    code, body = await error(jp_fetch, "views", "drift", "x", format="json")
    assert code == 400 and "views with figures are compare, run, sweep" in body["message"]
