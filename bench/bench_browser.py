"""RunsBrowser benchmark: first page and paging over a store of 100,000 runs.

    python bench/bench_browser.py                 # data path + served page in Chromium
    python bench/bench_browser.py --runs 20000    # a smaller store
    python bench/bench_browser.py --no-browser    # data path only
    python bench/bench_browser.py --json out.json

The store is built once through the public API (``start_run`` in a loop: 100,000 runs, a tenth
of them nested under 1,000 parents, 8 params, 4 metrics and a 5-point curve each) and cached in
``bench/.cache/browser-<n>/``. Goals (from the issue): first page <= 1 s, next page <= 300 ms.

MLflow has no comparable paged widget (its UI pages through ``search_runs`` in the browser), so
there is no peer ratio here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
GOAL_FIRST_PAGE_S = 1.0
GOAL_PAGING_S = 0.300
CHILDREN_PER_PARENT = 10
OPTIMIZERS = ("adam", "sgd", "rmsprop")
MODELS = ("rf", "gbm", "mlp", "linear")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def build_store(path: Path, runs: int) -> None:
    """Log ``runs`` runs into a fresh store at ``path`` (10 % nested, 10 children per parent)."""
    import workbench as wb

    client = wb.connect(path)
    n_children = runs // 10
    n_parents = n_children // CHILDREN_PER_PARENT
    started = time.perf_counter()
    i = 0
    while i < runs:
        experiment = f"exp-{i % 10}"
        if i < n_parents * (CHILDREN_PER_PARENT + 1):
            with client.start_run(experiment, f"sweep-{i}", tags={"kind": "sweep"}) as parent:
                _log_one(parent, i)
                i += 1
                for _ in range(CHILDREN_PER_PARENT):
                    with client.start_run(experiment, f"trial-{i}", parent=parent) as child:
                        _log_one(child, i)
                    i += 1
        else:
            with client.start_run(experiment, f"run-{i}", parent=None) as run:
                _log_one(run, i)
            i += 1
        if i % 10_000 < CHILDREN_PER_PARENT + 1:
            rate = i / (time.perf_counter() - started)
            log(f"built {i:,} / {runs:,} runs ({rate:,.0f} runs/s)")
    client.flush()
    client.close()


def _log_one(run: Any, i: int) -> None:
    run.log_params(
        {
            "lr": round(10 ** -(1 + (i % 4)) * (1 + i % 7), 6),
            "depth": 2 + i % 9,
            "batch": 2 ** (4 + i % 5),
            "optimizer": OPTIMIZERS[i % 3],
            "dropout": (i % 5) / 10,
            "seed": i % 17,
            "model": MODELS[i % 4],
            "n_estimators": 50 * (1 + i % 6),
        }
    )
    run.log_metrics(
        {
            "acc": ((i * 31) % 100) / 100,
            "loss": ((i * 17) % 100) / 50,
            "f1": ((i * 13) % 100) / 100,
            "auc": ((i * 7) % 100) / 100,
        }
    )
    for step in range(5):
        run.log_metric("val_loss", 1.0 / (step + 1) + (i % 10) / 100, step=step)
    run.set_tags({"team": ("growth", "core", "risk")[i % 3], "stage": ("dev", "prod")[i % 2]})


def cached_store(runs: int) -> Path:
    """The cached benchmark store with ``runs`` runs, built on first use."""
    path = CACHE_DIR / f"browser-{runs}"
    marker = path / ".complete"
    if marker.exists():
        return path
    if path.exists():
        shutil.rmtree(path)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    (CACHE_DIR / ".gitignore").write_text("*\n")  # never commit a benchmark store
    log(f"building a store with {runs:,} runs in {path} (cached for later runs)")
    started = time.perf_counter()
    build_store(path, runs)
    marker.write_text(f"{time.perf_counter() - started:.1f} s\n")
    return path


def bench_data_path(store: Path, repeats: int) -> dict[str, Any]:
    """Time the RunsBrowser's data functions: first page (cold and warm), paging, filters."""
    import workbench as wb
    from workbench.ui import _runs_query as q

    client = wb.connect(store)
    query = q.RunsQuery()
    started = time.perf_counter()
    columns = q.default_columns(q.list_columns(client, query))
    first = q.fetch_page(client, query, page=1, page_size=50, columns=columns)
    cold = time.perf_counter() - started
    log(f"first page (cold, with column discovery): {cold * 1000:.0f} ms, {first.total:,} rows")

    def timed(fn: Any) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    results: dict[str, Any] = {"rows": first.total, "first_page_cold_s": cold}
    cases = {
        "first_page_s": (query, 1),
        "page_2_s": (query, 2),
        "page_1000_s": (query, 1000),
        "last_page_s": (query, first.n_pages),
        "flat_page_500_s": (q.RunsQuery(group_nested=False), 500),
        "filtered_page_s": (q.RunsQuery(filter="params.depth > 5 AND metrics.acc > 0.5"), 3),
        "sorted_by_metric_page_s": (q.RunsQuery(order_by="metrics.auc DESC"), 10),
    }
    for name, (case_query, page) in cases.items():
        times = [
            timed(
                lambda cq=case_query, p=page: q.fetch_page(
                    client, cq, page=p, page_size=50, columns=columns
                )
            )
            for _ in range(repeats)
        ]
        results[name] = statistics.median(times)
        results[name.replace("_s", "_max_s")] = max(times)
        log(f"{name}: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f}")
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bench_browser(store: Path) -> dict[str, Any]:
    """Serve the dashboard, open it in Chromium, time first rows and a page change."""
    from playwright.sync_api import expect, sync_playwright

    port = _free_port()
    env = {**os.environ, "WORKBENCH_STORE": str(store)}
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli.dashboard", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/liveness", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            started = time.perf_counter()
            page.goto(f"{url}/?page=runs")
            page.wait_for_selector(".tabulator-row", timeout=60_000)
            first = time.perf_counter() - started
            first_id = page.locator(".tabulator-row").first.inner_text()
            times = []
            for _ in range(5):
                started = time.perf_counter()
                page.locator("button:has-text('›')").first.click()
                expect(page.locator(".tabulator-row").first).not_to_have_text(
                    first_id, timeout=30_000
                )
                times.append(time.perf_counter() - started)
                first_id = page.locator(".tabulator-row").first.inner_text()
            browser.close()
        log(
            f"browser: first rows {first * 1000:.0f} ms after navigation (includes page load), "
            f"next page median {statistics.median(times) * 1000:.0f} ms"
        )
        return {"browser_first_rows_s": first, "browser_next_page_s": statistics.median(times)}
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH_DIR.parent))
    store = cached_store(args.runs)
    results: dict[str, Any] = {"machine": platform.platform(), "cores": os.cpu_count()}
    results.update(bench_data_path(store, args.repeats))
    if not args.no_browser and Path("/usr/bin/chromium").exists():
        results.update(bench_browser(store))
    print(f"\nRunsBrowser over {results['rows']:,} top-level rows ({args.runs:,} runs)")
    print(f"{'measure':<28}{'seconds':>10}{'goal':>10}  verdict")
    goals = {
        "first_page_cold_s": GOAL_FIRST_PAGE_S,
        "first_page_s": GOAL_FIRST_PAGE_S,
        "page_2_s": GOAL_PAGING_S,
        "page_1000_s": GOAL_PAGING_S,
        "last_page_s": GOAL_PAGING_S,
        "flat_page_500_s": GOAL_PAGING_S,
        "filtered_page_s": GOAL_PAGING_S,
        "sorted_by_metric_page_s": GOAL_PAGING_S,
        "browser_first_rows_s": GOAL_FIRST_PAGE_S,
        "browser_next_page_s": GOAL_PAGING_S,
    }
    for name, goal in goals.items():
        if name in results:
            verdict = "ok" if results[name] <= goal else "MISSED"
            print(f"{name:<28}{results[name]:>10.3f}{goal:>10.3f}  {verdict}")
    print("MLflow: no comparable paged runs widget; no ratio reported.")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
