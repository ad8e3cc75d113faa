"""Drift benchmark: the same drift report through workbench and Evidently, in one run.

    python bench/bench_drift.py                      # 100k and 1M rows per side
    python bench/bench_drift.py --rows 100000        # one size
    python bench/bench_drift.py --current-rows 999000  # unequal sides
    python bench/bench_drift.py --json out.json

The data (``workbench.monitoring.make_drift_dataset``: 15 float and 5 string columns, 30 % of
them shifted) is written once per size to parquet in a temporary folder. Each side then runs in
its own subprocess that reads the two files, computes the report, and reports the load time,
the report time and its peak RSS (``ru_maxrss``): workbench with this interpreter, Evidently
0.7 (DataDriftPreset) in ``bench/.venvs/evidently`` (pandas < 3, which Evidently 0.7 needs).
The table shows both times, the ratio against workbench's first call in its process (imports
of what the tests use and first-touch memory included, as a notebook's first report pays them)
and against its best of ``--repeats`` calls, both peaks, and whether every column got the same
test and the same verdict. Evidently's time is its one call, after its imports.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import ensure_venv, run_in_venv

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3", "pyarrow"]
EVIDENTLY_SCRIPT = BENCH_DIR / "peers" / "evidently_drift.py"
SIZES = (100_000, 1_000_000)
GOAL_RATIO_1M = 30.0


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- workbench worker


def worker(reference: str, current: str, repeats: int) -> int:
    """The workbench side, in its own process: prints one JSON line."""
    import pandas as pd

    sys.path.insert(0, str(REPO_ROOT))
    import workbench
    from workbench.monitoring import drift_report

    t0 = time.perf_counter()
    ref = pd.read_parquet(reference)
    cur = pd.read_parquet(current)
    load_s = time.perf_counter() - t0
    loaded_rss = _rss_mb()
    times = []
    report = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        report = drift_report(ref, cur, progress=False)
        times.append(time.perf_counter() - t0)
    assert report is not None
    t0 = time.perf_counter()
    html_static = report.to_html(interactive=False)
    html_full = report.to_html(interactive=True)
    html_s = time.perf_counter() - t0
    columns = {
        str(name): {
            "test": row["test"],
            "threshold": float(row["threshold"]),
            "score": float(
                row["p_value"] if row["p_value"] == row["p_value"] else row["statistic"]
            ),
            "drifted": bool(row["drifted"]),
        }
        for name, row in report.columns.iterrows()
    }
    result = {
        "peer": "workbench",
        "version": workbench.__version__,
        "pandas": pd.__version__,
        "rows": len(ref),
        "load_s": load_s,
        "report_s": min(times),
        "report_first_s": times[0],
        "report_all_s": times,
        "peak_rss_mb": _rss_mb(),
        "loaded_rss_mb": loaded_rss,
        "html_s": html_s,
        "html_static_bytes": len(html_static.encode()),
        "html_interactive_bytes": len(html_full.encode()),
        "json_bytes": len(report.to_json().encode()),
        "dataset_drift": report.dataset_drift,
        "columns": columns,
    }
    print(json.dumps(result))
    return 0


def run_workbench(reference: Path, current: Path, repeats: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", str(reference), str(current), str(repeats)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- orchestration


def write_data(
    rows: int, current_rows: int | None, folder: Path
) -> tuple[Path, Path, dict[str, Any]]:
    sys.path.insert(0, str(REPO_ROOT))
    from workbench.monitoring import make_drift_dataset

    t0 = time.perf_counter()
    data = make_drift_dataset(rows, n_current=current_rows, seed=0)
    reference, current = folder / f"reference-{rows}.parquet", folder / f"current-{rows}.parquet"
    data.reference.to_parquet(reference, index=False)
    data.current.to_parquet(current, index=False)
    log(f"wrote {rows:,}-row datasets in {time.perf_counter() - t0:.1f} s")
    info = {
        "numeric": [c for c in data.reference.columns if c.startswith("num_")],
        "categorical": [c for c in data.reference.columns if c.startswith("cat_")],
        "shifted": list(data.drifted_columns),
    }
    return reference, current, info


def compare(wb: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any]:
    names = sorted(set(wb["columns"]) | set(ev["columns"]))
    same_test = [
        c
        for c in names
        if wb["columns"].get(c, {}).get("test") == ev["columns"].get(c, {}).get("test")
    ]
    same_verdict = [
        c
        for c in names
        if c in wb["columns"]
        and c in ev["columns"]
        and wb["columns"][c]["drifted"] == ev["columns"][c]["drifted"]
    ]
    score_gap = max(
        (
            abs(wb["columns"][c]["score"] - ev["columns"][c]["score"])
            for c in names
            if c in wb["columns"] and c in ev["columns"]
        ),
        default=float("nan"),
    )
    return {
        "columns": len(names),
        "same_test": len(same_test),
        "same_verdict": len(same_verdict),
        "disagreements": [c for c in names if c not in same_verdict],
        "max_score_difference": score_gap,
    }


def _rows_label(result: dict[str, Any]) -> str:
    if result["current_rows"] == result["rows"]:
        return f"{result['rows']:,}"
    return f"{result['rows']:,} / {result['current_rows']:,}"


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        "rows (ref / cur)",
        "workbench (1st run)",
        "workbench (best)",
        "Evidently",
        "ratio (1st run)",
        "ratio (best)",
        "peak RSS wb",
        "peak RSS Evidently",
        "same test",
        "same verdict",
        "max |score diff|",
    )
    table = [header]
    for r in results:
        wb, ev, agree = r["workbench"], r.get("evidently"), r.get("agreement")
        table.append(
            (
                _rows_label(r),
                f"{wb['report_first_s']:.2f} s",
                f"{wb['report_s']:.2f} s",
                f"{ev['report_s']:.2f} s" if ev else "—",
                f"{ev['report_s'] / wb['report_first_s']:.1f}x" if ev else "—",
                f"{ev['report_s'] / wb['report_s']:.1f}x" if ev else "—",
                f"{wb['peak_rss_mb']:,.0f} MB",
                f"{ev['peak_rss_mb']:,.0f} MB" if ev else "—",
                f"{agree['same_test']}/{agree['columns']}" if agree else "—",
                f"{agree['same_verdict']}/{agree['columns']}" if agree else "—",
                f"{agree['max_score_difference']:.1e}" if agree else "—",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print()
    for n, row in enumerate(table):
        print(
            " | ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("-+-".join("-" * w for w in widths))
    print()
    for r in results:
        wb = r["workbench"]
        print(
            f"{r['rows']:,} rows: workbench load {wb['load_s']:.2f} s, report runs "
            f"{', '.join(f'{t:.2f}' for t in wb['report_all_s'])} s; HTML static "
            f"{wb['html_static_bytes'] / 1e3:,.0f} KB, interactive "
            f"{wb['html_interactive_bytes'] / 1e6:.1f} MB, JSON {wb['json_bytes'] / 1e3:,.0f} KB"
        )
        if r.get("agreement") and r["agreement"]["disagreements"]:
            print(f"  verdicts differ on: {r['agreement']['disagreements']}")
    big = [r for r in results if r["rows"] >= 1_000_000 and r.get("evidently")]
    for r in big:
        ratio = r["evidently"]["report_s"] / r["workbench"]["report_s"]
        status = "pass" if ratio >= GOAL_RATIO_1M else "MISS"
        print(
            f"Goal >= {GOAL_RATIO_1M:.0f}x Evidently at {r['rows']:,} rows: [{status}] {ratio:.1f}x"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="workbench vs Evidently drift benchmark")
    ap.add_argument("--rows", type=int, action="append", help="rows per side (repeatable)")
    ap.add_argument("--current-rows", type=int, default=None, help="rows of the current side")
    ap.add_argument("--repeats", type=int, default=3, help="workbench report repeats (best)")
    ap.add_argument("--workbench-only", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    ap.add_argument("--worker", nargs=3, metavar=("REF", "CUR", "REPEATS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker[0], args.worker[1], int(args.worker[2]))

    python = None if args.workbench_only else ensure_venv("evidently", EVIDENTLY_REQUIREMENTS)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        for rows in args.rows or SIZES:
            reference, current, info = write_data(rows, args.current_rows, Path(tmp))
            log(f"workbench, {rows:,} rows")
            wb = run_workbench(reference, current, args.repeats)
            log(f"workbench: {wb['report_s']:.2f} s, peak {wb['peak_rss_mb']:.0f} MB")
            entry: dict[str, Any] = {
                "rows": rows,
                "current_rows": args.current_rows or rows,
                "data": info,
                "workbench": wb,
            }
            if python is not None:
                log(f"Evidently, {rows:,} rows (minutes at 1M rows)")
                peer_args = [
                    str(reference),
                    str(current),
                    "--numeric",
                    *info["numeric"],
                    "--categorical",
                    *info["categorical"],
                ]
                ev = run_in_venv(python, EVIDENTLY_SCRIPT, peer_args)
                entry["evidently"] = ev
                entry["agreement"] = compare(wb, ev)
            results.append(entry)
    print_table(results)
    if args.json is not None:
        payload = {
            "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
