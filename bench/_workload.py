"""The deterministic tracking workload shared by the workbench side and the peer scripts.

Standard library only: peer scripts import this file from their own virtualenvs.
"""

from __future__ import annotations

N_PARAMS = 10
N_METRICS = 5

# The filtered search: params.p3 == 7 (1 run in 13) and metrics.m1 > 0.2 (79 in 100): ~6 % of runs.
FILTER_PARAM = "p3"
FILTER_PARAM_VALUE = 7
FILTER_METRIC = "m1"
FILTER_METRIC_GT = 0.2
_METRIC_CLAUSE = f"metrics.{FILTER_METRIC} > {FILTER_METRIC_GT}"
MLFLOW_FILTER = f"params.{FILTER_PARAM} = '{FILTER_PARAM_VALUE}' and {_METRIC_CLAUSE}"
WORKBENCH_FILTER = f"params.{FILTER_PARAM} = {FILTER_PARAM_VALUE} and {_METRIC_CLAUSE}"


def run_params(i: int) -> dict[str, int]:
    """Params of run ``i``: p0..p9 = (i*7 + j) % 13."""
    return {f"p{j}": (i * 7 + j) % 13 for j in range(N_PARAMS)}


def run_metrics(i: int) -> dict[str, float]:
    """Metrics of run ``i``: m0..m4 = ((i*31 + j*17) % 100) / 100."""
    return {f"m{j}": ((i * 31 + j * 17) % 100) / 100 for j in range(N_METRICS)}


def expected_filtered(runs: int) -> int:
    """How many of runs 0..runs-1 the filtered search must return."""
    return sum(
        1
        for i in range(runs)
        if run_params(i)[FILTER_PARAM] == FILTER_PARAM_VALUE
        and run_metrics(i)[FILTER_METRIC] > FILTER_METRIC_GT
    )


def bulk_series(points: int) -> tuple[list[int], list[float]]:
    """Steps and values of the bulk metric series (a decaying loss with a deterministic wiggle)."""
    steps = list(range(points))
    values = [1.0 / (1.0 + s * 1e-3) + ((s * 37) % 101) * 1e-4 for s in steps]
    return steps, values
