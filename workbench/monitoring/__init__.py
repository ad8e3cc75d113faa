"""Monitoring: drift reports, drift over time, evaluation, performance estimation and gates.

    import workbench as wb

    report = wb.drift_report(reference_df, current_df, target="y", prediction="proba")
    report.dataset_drift, report.columns       # the verdict, one row per column
    report.log()                               # kept in the store; wb.load_drift_report(id)
    wb.drift_over_time(requests_df, time_column="ts", window="1D", reference=reference_df)
    result = wb.evaluate(model, test_df, target="y", sensitive_features="region")
    wb.check_gate(result, champion_metrics, {"f1": MetricThreshold(min_absolute_change=0.01,
                                                                  greater_is_better=True)})

Never imports a UI library; ``DriftReport.__panel__`` imports panel only when called.
"""

from __future__ import annotations

from workbench.monitoring._columns import ColumnPair
from workbench.monitoring._defaults import default_stattest
from workbench.monitoring._options import DriftOptions
from workbench.monitoring.evaluation import EvaluationResult, evaluate
from workbench.monitoring.gates import (
    GateCheck,
    GateFailedError,
    GateResult,
    MetricThreshold,
    check_gate,
    validate,
)
from workbench.monitoring.loop import LoopStep, Monitor, MonitorPolicy, monitor, parse_gate
from workbench.monitoring.performance import estimate_performance
from workbench.monitoring.report import DriftReport, drift_report, load_drift_report
from workbench.monitoring.scenario import make_drift_stream, seattle_weather_scenario
from workbench.monitoring.stattests import (
    StatTest,
    get_stattest,
    list_stattests,
    register_stattest,
)
from workbench.monitoring.synthetic import make_drift_dataset
from workbench.monitoring.windows import (
    DriftAlert,
    DriftTimeline,
    drift_over_time,
    plot_drift_over_time,
)

__all__ = [
    "ColumnPair",
    "DriftAlert",
    "DriftOptions",
    "DriftReport",
    "DriftTimeline",
    "EvaluationResult",
    "GateCheck",
    "GateFailedError",
    "GateResult",
    "LoopStep",
    "MetricThreshold",
    "Monitor",
    "MonitorPolicy",
    "StatTest",
    "check_gate",
    "default_stattest",
    "drift_over_time",
    "drift_report",
    "estimate_performance",
    "evaluate",
    "get_stattest",
    "list_stattests",
    "load_drift_report",
    "make_drift_dataset",
    "make_drift_stream",
    "monitor",
    "parse_gate",
    "plot_drift_over_time",
    "register_stattest",
    "seattle_weather_scenario",
    "validate",
]
