"""Sweep benchmark: plain Optuna vs ``workbench.sweep`` on the same storage, and the views.

    python bench/bench_sweeps.py                 # 1,000 trials, 3 repeats
    python bench/bench_sweeps.py --trials 300 --repeats 1 --json out.json

1. Per-trial cost of a trivial objective (two floats, RandomSampler so that sampling costs the
   same on both sides): Optuna alone on workbench's default storage (journal file with flock),
   then ``workbench.sweep`` (every trial a tracked run) on the same kind of storage, alternating
   which goes first. Goal: tracking adds at most 1 ms per trial. For reference, Optuna on its
   own file backend (fsync per append) and in memory.
2. Each sweep view on a 1,000-trial sweep (3 params, 5 reported steps, some pruned; a
   2-objective sweep for the Pareto front) against ``optuna.visualization`` on the same study,
   median of 5 after a warm-up call. Both build a plotly figure; nothing is rendered.

Optuna runs in workbench's venv (it is a dependency), so no peer venv is needed.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import workbench as wb  # noqa: E402
from workbench.sweeps import Sweep, plots, sweep  # noqa: E402
from workbench.sweeps._storage import open_journal  # noqa: E402

GOAL_OVERHEAD_MS = 1.0
_folders: list[Path] = []


def _folder(prefix: str) -> Path:
    """A temporary folder, removed when the benchmark ends."""
    folder = Path(tempfile.mkdtemp(prefix=f"wb-bench-{prefix}-"))
    _folders.append(folder)
    return folder


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def trivial(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", -1, 1) ** 2 + trial.suggest_float("y", -1, 1) ** 2


def rich(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    value = (x - 1) ** 2 + 10 * lr + {"a": 0.0, "b": 0.5, "c": 1.0}[kind]
    for step in range(5):
        trial.report(value + 1 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def two_objectives(trial: optuna.Trial) -> tuple[float, float]:
    x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
    return x, (1 - x) ** 2 + y


# --------------------------------------------------------------------------- per-trial cost


def _plain(folder: Path, n: int, storage: Any) -> float:
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(0))
    started = time.perf_counter()
    study.optimize(trivial, n_trials=n)
    return time.perf_counter() - started


def _workbench(folder: Path, n: int, name: str) -> tuple[float, float, float]:
    """Seconds for: the sweep; a 1-trial sweep on a fresh store (the fixed part); the
    ingest of the sweep's runs into DuckDB that the next reader (or the background flusher)
    does."""
    client = wb.Workbench(folder / "store")
    started = time.perf_counter()
    sweep(trivial, n_trials=n, name=name, sampler="random", seed=0, client=client, progress=False)
    total = time.perf_counter() - started
    started = time.perf_counter()
    client.flush()  # blocks until every spooled run is in the database
    ingest = time.perf_counter() - started
    client.close()
    small = wb.Workbench(folder / "store-1")
    started = time.perf_counter()
    sweep(trivial, n_trials=1, name=name, sampler="random", seed=0, client=small, progress=False)
    fixed = time.perf_counter() - started
    small.close()
    return total, fixed, ingest


def bench_trials(n: int, repeats: int) -> dict[str, Any]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warm = _folder("warm")
    _workbench(warm, 20, "warm")  # imports, first store, context capture
    _plain(warm, 20, open_journal(warm / "warm.journal"))
    plain, tracked, fixed, ingest = [], [], [], []
    for repeat in range(repeats):
        folder = _folder("sweep")
        order = ("plain", "workbench") if repeat % 2 == 0 else ("workbench", "plain")
        for side in order:
            if side == "plain":
                plain.append(_plain(folder, n, open_journal(folder / "plain.journal")))
            else:
                total, setup, later = _workbench(folder, n, f"bench-{repeat}")
                tracked.append(total)
                fixed.append(setup)
                ingest.append(later)
        log(f"repeat {repeat + 1}: plain {plain[-1]:.2f} s, workbench {tracked[-1]:.2f} s")
    folder = _folder("ref")
    from optuna.storages.journal import JournalFileBackend

    optuna_file = _plain(
        folder, n, optuna.storages.JournalStorage(JournalFileBackend(str(folder / "o.log")))
    )
    in_memory = _plain(folder, n, None)
    p, w = statistics.median(plain), statistics.median(tracked)
    f, g = statistics.median(fixed), statistics.median(ingest)
    return {
        "trials": n,
        "repeats": repeats,
        "plain_optuna_ms_per_trial": p / n * 1e3,
        "workbench_ms_per_trial": w / n * 1e3,
        "overhead_ms_per_trial": (w - p) / n * 1e3,
        "one_trial_sweep_ms": f * 1e3,
        "overhead_without_fixed_ms_per_trial": (w - f - p) / n * 1e3,
        "deferred_ingest_ms_per_trial": g / n * 1e3,
        "reference_optuna_file_backend_ms_per_trial": optuna_file / n * 1e3,
        "reference_in_memory_ms_per_trial": in_memory / n * 1e3,
        "raw_s": {"plain": plain, "workbench": tracked, "fixed": fixed, "ingest": ingest},
    }


# --------------------------------------------------------------------------- views


def _median_ms(fn: Callable[[], Any], repeats: int = 5) -> float:
    fn()  # warm-up: imports, plotly templates
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def bench_views(n: int) -> list[dict[str, Any]]:
    import optuna.visualization as ov

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = _folder("views")
    client = wb.Workbench(folder / "store")
    log(f"building a {n}-trial sweep and a {n}-trial 2-objective sweep for the views")
    single = sweep(rich, n_trials=n, name="views", seed=0, client=client, progress=False)
    multi = sweep(
        two_objectives,
        n_trials=n,
        name="views-mo",
        directions=["minimize", "minimize"],
        seed=0,
        client=client,
        progress=False,
    )
    pairs: list[tuple[str, Sweep, Callable[[Sweep], Any], Callable[[optuna.Study], Any]]] = [
        (
            "optimization history",
            single,
            plots.plot_optimization_history,
            ov.plot_optimization_history,
        ),
        (
            "parallel coordinates",
            single,
            plots.plot_sweep_parallel_coordinates,
            ov.plot_parallel_coordinate,
        ),
        ("param importances", single, plots.plot_param_importances, ov.plot_param_importances),
        ("slice", single, plots.plot_slice, ov.plot_slice),
        ("contour (3 params)", single, plots.plot_contour, ov.plot_contour),
        (
            "intermediate values",
            single,
            plots.plot_intermediate_values,
            ov.plot_intermediate_values,
        ),
        ("pareto front", multi, plots.plot_pareto_front, ov.plot_pareto_front),
        ("timeline", single, plots.plot_timeline, ov.plot_timeline),
    ]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna.visualization marks some plots experimental
        for label, s, ours, theirs in pairs:
            mine = _median_ms(lambda ours=ours, s=s: ours(s))
            peer = _median_ms(lambda theirs=theirs, s=s: theirs(s.study))
            rows.append({"view": label, "workbench_ms": mine, "optuna_ms": peer})
            log(f"{label}: workbench {mine:.0f} ms, optuna {peer:.0f} ms")
    repr_ms = _median_ms(lambda: single._repr_mimebundle_())
    html = single._repr_mimebundle_()["text/html"]
    rows.append(
        {
            "view": f"Sweep notebook repr ({len(html) / 1024:.0f} KB HTML)",
            "workbench_ms": repr_ms,
            "optuna_ms": None,
        }
    )
    client.close()
    return rows


# --------------------------------------------------------------------------- report


def print_report(trials: dict[str, Any], views: list[dict[str, Any]]) -> None:
    n = trials["trials"]
    ok = trials["overhead_ms_per_trial"] <= GOAL_OVERHEAD_MS
    print(f"\nPer trial, {n:,} trials of a trivial objective (median of {trials['repeats']}):")
    print(f"  Optuna, workbench's journal storage     {trials['plain_optuna_ms_per_trial']:.3f} ms")
    print(f"  workbench.sweep, same storage           {trials['workbench_ms_per_trial']:.3f} ms")
    print(
        f"  tracking overhead                       {trials['overhead_ms_per_trial']:.3f} ms "
        f"(goal <= {GOAL_OVERHEAD_MS:.1f} ms: {'met' if ok else 'NOT met'})"
    )
    print(
        f"    fixed part: a 1-trial sweep takes     {trials['one_trial_sweep_ms']:.0f} ms "
        f"(so {trials['overhead_without_fixed_ms_per_trial']:.3f} ms per trial beyond it)"
    )
    ingest = trials["deferred_ingest_ms_per_trial"]
    print(
        f"  later, ingesting the runs into DuckDB   {ingest:.3f} ms per trial "
        "(by the next reader or the background flusher)"
    )
    print(
        f"  reference: Optuna's own file backend    "
        f"{trials['reference_optuna_file_backend_ms_per_trial']:.3f} ms; in memory "
        f"{trials['reference_in_memory_ms_per_trial']:.3f} ms"
    )
    print(f"\nViews on a {n:,}-trial sweep (median of 5, figure built, not rendered):")
    print(f"  {'view':<40} {'workbench':>10} {'optuna.vis':>11} {'ratio':>7}")
    for row in views:
        peer = row["optuna_ms"]
        ratio = f"{peer / row['workbench_ms']:.1f}x" if peer else ""
        shown_peer = f"{peer:.0f} ms" if peer else "-"
        print(f"  {row['view']:<40} {row['workbench_ms']:>7.0f} ms {shown_peer:>11} {ratio:>7}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="plain Optuna vs workbench.sweep")
    ap.add_argument("--trials", type=int, default=1000, help="trials per sweep (1000)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the per-trial part (3)")
    ap.add_argument("--skip-views", action="store_true", help="only the per-trial part")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    args = ap.parse_args(argv)
    log(f"python {platform.python_version()}, optuna {optuna.__version__}, {platform.machine()}")
    try:
        trials = bench_trials(args.trials, args.repeats)
        views = [] if args.skip_views else bench_views(args.trials)
    finally:
        for folder in _folders:
            shutil.rmtree(folder, ignore_errors=True)
    print_report(trials, views)
    if args.json:
        args.json.write_text(json.dumps({"trials": trials, "views": views}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
