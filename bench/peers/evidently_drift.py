"""Evidently side of the drift benchmark. Runs inside bench/.venvs/evidently (see bench_drift.py).

    python evidently_drift.py REFERENCE.parquet CURRENT.parquet --numeric a b --categorical c

Reads both files, runs ``Report([DataDriftPreset()])`` with an explicit DataDefinition (so column
kinds are not guessed differently from workbench), and prints one JSON object on the last stdout
line: load and report seconds, peak RSS, and per column the test Evidently chose, its threshold,
its score and the verdict.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings

import evidently
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

# Display names Evidently uses in ValueDrift metric names -> workbench registry names.
TEST_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Hellinger distance": "hellinger",
    "Anderson-Darling": "anderson",
}


def log(msg: str) -> None:
    print(f"[evidently] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verdicts(snapshot: object) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for metric in snapshot.dict()["metrics"]:  # type: ignore[attr-defined]
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        method = str(config.get("method"))
        threshold = float(config.get("threshold"))
        value = float(metric["value"])
        p_value_test = "p_value" in method or method == "Anderson-Darling"
        drifted = value < threshold if p_value_test else value >= threshold
        if method == "K-S p_value":
            drifted = value <= threshold  # Evidently's KS uses <=
        out[str(config["column"])] = {
            "test": TEST_NAMES.get(method, method),
            "threshold": threshold,
            "score": value,
            "drifted": bool(drifted),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("current")
    ap.add_argument("--numeric", nargs="*", default=[])
    ap.add_argument("--categorical", nargs="*", default=[])
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # Evidently and pandas deprecation noise on stderr

    t0 = time.perf_counter()
    reference = pd.read_parquet(args.reference)
    current = pd.read_parquet(args.current)
    load_s = time.perf_counter() - t0
    loaded_rss = rss_mb()
    log(f"loaded {len(reference):,} + {len(current):,} rows in {load_s:.2f} s")

    definition = DataDefinition(
        numerical_columns=args.numeric, categorical_columns=args.categorical
    )
    t0 = time.perf_counter()
    ref_ds = Dataset.from_pandas(reference, data_definition=definition)
    cur_ds = Dataset.from_pandas(current, data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(cur_ds, ref_ds)
    report_s = time.perf_counter() - t0
    log(f"DataDriftPreset in {report_s:.2f} s")
    result = {
        "peer": "evidently",
        "version": evidently.__version__,
        "pandas": pd.__version__,
        "rows": len(reference),
        "load_s": load_s,
        "report_s": report_s,
        "peak_rss_mb": rss_mb(),
        "loaded_rss_mb": loaded_rss,
        "columns": verdicts(snapshot),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
