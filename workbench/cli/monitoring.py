"""CLI commands for monitoring: ``workbench drift`` and ``workbench gate``.

``workbench drift REFERENCE CURRENT`` prints the headline (naming the columns it could not
test) and the per-column verdicts, keeps the report in the store (``--no-log`` to skip), writes
``--html``/``--json`` exports, and exits 1 with ``--fail-on-drift`` when the dataset drifted,
with ``--fail-on-schema-change`` when a column is missing, all missing or changed type.

``workbench gate`` checks a candidate run (or model URI) against thresholds and a baseline with
MLflow's MetricThreshold semantics and exits 1 when the gate fails, printing why; so a papermill
or CI pipeline stops there.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from workbench import _options as o
from workbench.cli._common import print_frame
from workbench.exceptions import InvalidParameterError
from workbench.monitoring import DriftOptions

_THRESHOLD_RE = re.compile(r"^\s*(?P<metric>[^<>=]+?)\s*(?P<op>>=|<=)\s*(?P<value>[^\s]+)\s*$")
_LOWER_IS_BETTER_RE = re.compile(r"(loss|error|mae|mse|rmse|mape|_ece$)", re.IGNORECASE)
_SUMMARY = ["role", "kind", "test", "statistic", "p_value", "threshold", "drifted", "status"]


def _pairs(items: list[str], option: str, convert: Any) -> dict[str, Any]:
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise InvalidParameterError(
                f"{option} takes NAME=VALUE, e.g. accuracy=0.01. Got {item!r}."
            )
        try:
            out[name.strip()] = convert(value.strip())
        except ValueError:
            raise InvalidParameterError(f"{option} {item!r}: {value!r} is not valid.") from None
    return out


def _one_or_per_column(items: list[str], option: str, convert: Any) -> tuple[Any, dict[str, Any]]:
    single = [i for i in items if "=" not in i]
    if len(single) > 1:
        raise InvalidParameterError(f"{option} without NAME= may be given once; got {single}.")
    value = convert(single[0]) if single else None
    return value, _pairs([i for i in items if "=" in i], option, convert)


def _drift_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """drift_report()'s keywords from the flags DriftOptions declares."""
    kwargs = o.cli_kwargs(args, DriftOptions)
    test, tests = _one_or_per_column(kwargs["tests"] or [], "--test", str)
    threshold, thresholds = _one_or_per_column(kwargs["thresholds"] or [], "--threshold", float)
    prediction = kwargs["prediction"]
    kwargs.update(
        prediction=prediction[0] if prediction is not None and len(prediction) == 1 else prediction,
        tests=tests or test,
        thresholds=thresholds or threshold,
        column_kinds=_pairs(kwargs["column_kinds"] or [], "--column-kind", str) or None,
        on_schema_change="drift" if args.fail_on_schema_change else "report",
    )
    return kwargs


def _drift(args: argparse.Namespace) -> None:
    import workbench.monitoring as monitoring

    report = monitoring.drift_report(
        args.reference, args.current, name=args.name, progress=False, **_drift_kwargs(args)
    )
    if not args.no_log:
        report.log()
    if args.html:
        report.save_html(args.html, interactive=not args.static_html)
    if args.json:
        report.to_json(args.json)
    if args.format == "json":
        print(report.to_json())
    else:
        print(repr(report))
        print_frame(report.columns[_SUMMARY].reset_index(), args.format)
        if report.run_id:
            print(f"kept as run {report.run_id} (workbench.load_drift_report)")
    for name, row in report.columns[report.columns["status"] != "ok"].iterrows():
        if row["note"]:
            print(f"note: {name} ({row['status']}): {row['note']}", file=sys.stderr)
    changed = report.schema_changes
    if args.fail_on_schema_change and len(changed):
        listed = ", ".join(f"{c} ({status})" for c, status in changed["status"].items())
        print(f"schema changed: {listed}", file=sys.stderr)
        raise SystemExit(1)
    if args.fail_on_drift and report.dataset_drift:
        print("dataset drift detected", file=sys.stderr)
        raise SystemExit(1)


def _gate_rules(args: argparse.Namespace) -> dict[str, Any]:
    from workbench.monitoring.gates import MetricThreshold

    bounds: dict[str, tuple[str, float]] = {}
    for text in args.threshold:
        match = _THRESHOLD_RE.match(text)
        if not match:
            raise InvalidParameterError(
                f"--threshold takes METRIC>=VALUE or METRIC<=VALUE, e.g. 'accuracy>=0.8'. "
                f"Got {text!r}."
            )
        try:
            bounds[match["metric"]] = (match["op"], float(match["value"]))
        except ValueError:
            raise InvalidParameterError(f"--threshold {text!r}: not a number.") from None
    absolute = _pairs(args.min_absolute_change, "--min-absolute-change", float)
    relative = _pairs(args.min_relative_change, "--min-relative-change", float)
    metrics = list(dict.fromkeys([*bounds, *absolute, *relative]))
    if not metrics:
        raise InvalidParameterError(
            "Give at least one rule: --threshold 'accuracy>=0.8', --min-absolute-change "
            "accuracy=0.01 or --min-relative-change accuracy=0.05."
        )
    rules = {}
    for metric in metrics:
        if metric in args.lower_is_better:
            greater = False
        elif metric in args.greater_is_better:
            greater = True
        elif metric in bounds:
            greater = bounds[metric][0] == ">="
        else:
            greater = not _LOWER_IS_BETTER_RE.search(metric)
        if metric in bounds and (bounds[metric][0] == ">=") != greater:
            raise InvalidParameterError(
                f"--threshold for {metric!r} uses {bounds[metric][0]}, which contradicts "
                f"{'--lower-is-better' if not greater else '--greater-is-better'}."
            )
        rules[metric] = MetricThreshold(
            threshold=bounds[metric][1] if metric in bounds else None,
            min_absolute_change=absolute.get(metric),
            min_relative_change=relative.get(metric),
            greater_is_better=greater,
        )
    return rules


def _gate(args: argparse.Namespace) -> None:
    from workbench.monitoring.gates import validate

    rules = _gate_rules(args)
    result = validate(args.candidate, args.baseline, rules, name=args.name)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(result.explain())
    if not result.passed:
        raise SystemExit(1)


def register(commands: Any) -> None:
    """Add the ``drift`` and ``gate`` commands to the top-level sub-parsers."""
    drift = commands.add_parser(
        "drift",
        help="drift report: current data vs reference, column by column",
        description="Compare CURRENT with REFERENCE (files: .csv, .parquet, .json; or a model "
        "URI for the model's training data). Exits 1 with --fail-on-drift when the dataset "
        "drifted.",
    )
    drift.add_argument("reference", help="reference data: a file or a model URI (churn@champion)")
    drift.add_argument("current", help="current data: a file")
    o.add_arguments(drift, DriftOptions)
    drift.add_argument("--name", help="report title")
    drift.add_argument("--html", help="write the report as self-contained HTML here")
    drift.add_argument("--static-html", action="store_true", help="static plots (small file)")
    drift.add_argument("--json", help="write the report as JSON here")
    drift.add_argument("--no-log", action="store_true", help="do not keep the report in the store")
    drift.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when the dataset drifted"
    )
    drift.add_argument(
        "--fail-on-schema-change",
        action="store_true",
        help="exit 1 when a column is missing on a side, all missing, or changed type "
        "(and count it as dataset drift in the stored report)",
    )
    drift.add_argument("--format", choices=("table", "json", "csv"), default="table")
    drift.set_defaults(handler=_drift)

    gate = commands.add_parser(
        "gate",
        help="quality gate: candidate vs thresholds and baseline (exit 1 on failure)",
        description="Check a candidate's metrics with MLflow's MetricThreshold semantics. "
        "CANDIDATE/BASELINE are run ids or model URIs (metrics of the training run).",
    )
    gate.add_argument("--candidate", required=True, help="run id or model URI (churn@challenger)")
    gate.add_argument("--baseline", help="run id or model URI (churn@champion)")
    gate.add_argument(
        "--threshold", action="append", default=[], help="'accuracy>=0.8' or 'log_loss<=0.3'"
    )
    gate.add_argument(
        "--min-absolute-change", action="append", default=[], help="METRIC=CHANGE, e.g. auc=0.01"
    )
    gate.add_argument(
        "--min-relative-change", action="append", default=[], help="METRIC=SHARE, e.g. auc=0.05"
    )
    gate.add_argument(
        "--lower-is-better", action="append", default=[], metavar="METRIC", help="lower wins"
    )
    gate.add_argument(
        "--greater-is-better", action="append", default=[], metavar="METRIC", help="higher wins"
    )
    gate.add_argument("--name", default="quality gate", help="gate name in the output")
    gate.add_argument("--format", choices=("text", "json"), default="text")
    gate.set_defaults(handler=_gate)
