"""JupyterLab sidebar benchmark: how long the Compare view takes to show its figures.

    python bench/bench_sidebar.py              # 5 comparisons of 2 runs, in Chromium
    python bench/bench_sidebar.py --repeats 9 --json out.json

A store of 12 runs (params, a 20-point loss curve, final metrics) is logged in a temporary
folder; JupyterLab (with the installed workbench labextension) starts on a free loopback
port; Chromium (Debian's, through playwright) opens the sidebar, selects two runs and clicks
Compare, each time a different pair. Measured per comparison: click -> every figure drawn
(plotly's ``.main-svg``), and the server's answer alone (the view request, timed with curl-
like urllib from this process, warm).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ui"))
from _browser import CHROMIUM, JupyterLab
from _browser import CHROMIUM_ARGS as ARGS

RUNS = 12
FIGURES = 4  # metric history, final metrics, parallel coordinates, param vs metric


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def build_store(path: Path) -> list[str]:
    import workbench as wb

    client = wb.connect(path)
    ids = []
    for i in range(RUNS):
        with client.start_run("bench", f"run-{i:02d}") as run:
            run.log_params(
                {"lr": 0.01 * (i + 1), "depth": 3 + i % 4, "opt": ("adam", "sgd")[i % 2]}
            )
            for step in range(20):
                run.log_metric("loss", math.exp(-step / (3 + i)), step=step)
            run.log_metrics({"accuracy": 0.7 + i / 100, "f1": 0.6 + i / 90})
        ids.append(run.run_id)
    client.flush()
    client.close()
    return ids


def server_time(url: str, ids: list[str]) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(f"{url}/workbench/views/compare/{','.join(ids)}") as response:
        response.read()
    return time.perf_counter() - start


def bench(repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        ids = build_store(tmp / "store")
        server = JupyterLab(tmp / "store", tmp)
        url = server.url
        try:
            server.wait_ready()
            pairs = [[ids[i], ids[i + 1]] for i in range(0, 2 * repeats, 2)]
            served = [server_time(url, pair) for pair in pairs[:1] + pairs]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1500, "height": 950})
                page.set_default_timeout(60_000)
                page.goto(f"{url}/lab")
                page.wait_for_selector(".jp-LabShell")
                page.click('li.lm-TabBar-tab[data-id="workbench-sidebar"]')
                sidebar = page.locator("#workbench-sidebar")
                sidebar.locator(".wb-run").first.wait_for()
                page.select_option("#workbench-sidebar select.wb-experiment", "bench")
                times: list[float] = []
                answered: list[float] = []
                firsts: list[float] = []
                for n, pair in enumerate(pairs):
                    page.evaluate(
                        "() => document.querySelectorAll("
                        "'#workbench-sidebar input.wb-select:checked').forEach(b => b.click())"
                    )
                    for run_id in pair:
                        sidebar.locator(f'.wb-run[data-run-id="{run_id}"] input.wb-select').check()
                    start = time.perf_counter()
                    sidebar.locator("button.wb-compare").click()
                    firsts.append(_wait_drawn(page, n, start))
                    times.append(time.perf_counter() - start)
                    request = page.evaluate(
                        """(ids) => performance.getEntriesByType('resource')
                            .filter(e => e.name.includes('views/compare/') &&
                                    decodeURIComponent(e.name).includes(ids))
                            .map(e => e.duration / 1000)""",
                        ",".join(pair),
                    )
                    answered.append(request[-1] if request else float("nan"))
                    log(
                        f"comparison {n + 1}: {times[-1]:.2f} s, first figure "
                        f"{firsts[-1]:.2f} s "
                        f"(view request {answered[-1]:.2f} s)"
                    )
                browser.close()
        finally:
            server.stop()
    return {
        "figures_per_view": FIGURES,
        "click_to_all_figures_s": {
            "first": round(times[0], 3),
            "median": round(statistics.median(times), 3),
            "max": round(max(times), 3),
            "all": [round(t, 3) for t in times],
        },
        "click_to_first_figure_s": {
            "median": round(statistics.median(firsts), 3),
            "all": [round(t, 3) for t in firsts],
        },
        "view_request_in_browser_s_median": round(statistics.median(answered), 3),
        "server_answer_s_median": round(statistics.median(served[1:]), 3),
    }


def _wait_drawn(page: Any, n: int, start: float) -> float:
    """Wait until the ``n``-th view (0-based) shows all its figures, wherever it draws them:
    in a sandboxed iframe (before) or in the JupyterLab page. Returns the seconds from
    ``start`` to its first figure."""
    figures = ".wb-figure .main-svg"
    page.locator(".wb-view").nth(n).wait_for(state="attached")
    view = page.locator(".wb-view").nth(n)
    page.wait_for_function(
        "(n) => { const v = document.querySelectorAll('.wb-view')[n];"
        " return v && (v.querySelector('iframe') || v.querySelector('.wb-view-body')); }",
        arg=n,
        polling=20,
    )
    scope = view.frame_locator("iframe") if view.locator("iframe").count() else view
    scope.locator(figures).first.wait_for()
    first = time.perf_counter() - start
    scope.locator(figures).nth(FIGURES - 1).wait_for()
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = bench(args.repeats)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
