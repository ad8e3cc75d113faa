"""CLI command for the closed loop: ``workbench monitor``.

``workbench monitor MODEL --data FILE --time-column date --window 30D --target y --floor 0.8
--retrain pkg.module:train --gate "accuracy>=champion+0.01" --replay`` checks each window of
FILE (``--once``: only the last one) and prints every step's decision; a deployment
(``deployment:ID``) without ``--data`` is checked on its request log, once or every
``--every`` seconds. Exit code 0, or 1 with ``--fail-on-drift`` when an alarm was not resolved
by a promotion.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from workbench.exceptions import InvalidParameterError


def _retrain_function(spec: str) -> Callable[..., Any]:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidParameterError(
            f"--retrain takes MODULE:FUNCTION, e.g. 'train:fit_model' (train.py in the current "
            f"folder) or 'mypkg.training:retrain'. Got {spec!r}."
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidParameterError(
            f"--retrain {spec!r}: cannot import {module_name!r}: {exc}"
        ) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise InvalidParameterError(
            f"--retrain {spec!r}: {module_name} has no function {attribute!r}."
        )
    return function  # type: ignore[no-any-return]


def _window(text: str | None) -> str | int | None:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def _unresolved(steps: Sequence[Any]) -> bool:
    """Whether the last alarm was not followed by a promotion."""
    alarms = [s for s in steps if s.alarm]
    return bool(alarms) and not alarms[-1].promoted


def _line(step: Any) -> str:
    window = step.to_dict()
    when = (
        f"{str(window['window_start'])[:10]}..{str(window['window_end'])[:10]}"
        if window["window_start"] is not None
        else "-"
    )
    value = "-" if step.champion_metric is None else f"{step.champion_metric:.3f}"
    text = (
        f"check {step.index:>3}  {when}  {step.n_rows:>6} rows  champion v"
        f"{step.champion_version} {step.metric} {value}  fired: {','.join(step.fired) or '-'}"
        f"  -> {step.decision.upper()}"
    )
    if step.challenger_version is not None:
        verdict = "PASSED" if step.gate is not None and step.gate.passed else "FAILED"
        text += f" ({step.model}/{step.challenger_version}, gate {verdict})"
    return text


def _monitor(args: argparse.Namespace) -> int:
    import workbench.monitoring.loop as loop

    if args.retrain and args.retrain_notebook:
        raise InvalidParameterError("Give --retrain or --retrain-notebook, not both.")
    on_drift: Any = _retrain_function(args.retrain) if args.retrain else args.retrain_notebook
    mon = loop.monitor(
        args.model,
        reference=args.reference,
        target=args.target,
        features=args.features or None,
        time_column=args.time_column,
        window=_window(args.window),
        origin=args.origin,
        on_drift=on_drift,
        gate=args.gate or None,
        triggers=args.trigger or None,
        metric=args.metric,
        performance_floor=args.floor,
        max_performance_drop=args.max_drop,
        drift_share=args.drift_share,
        retrain_window=_window(args.retrain_window),
        holdout=args.holdout,
        promote=not args.no_promote,
        min_rows=args.min_rows,
        experiment=args.experiment,
    )
    steps = []
    if args.data is not None:
        frame = _read(args.data)
        batches = [frame]
        if mon.policy.window is not None:
            batches = loop.split_windows(
                frame,
                time_column=args.time_column,
                window=mon.policy.window,
                caller="workbench monitor",
                origin=mon.policy.origin,
            )
        for batch in batches if args.replay else batches[-1:]:
            steps.append(_show(mon.check(batch), args))
    elif args.every is not None:
        try:
            for step in mon.watch(args.every, max_checks=args.max_checks):
                steps.append(_show(step, args))
        except KeyboardInterrupt:
            pass
    else:
        steps.append(_show(mon.check(), args))
    if args.fail_on_drift and _unresolved(steps):
        print("drift detected and not resolved by a promotion", file=sys.stderr)
        return 1
    return 0


def _read(path: str) -> Any:
    from workbench.monitoring._sources import resolve_data

    frame, _ = resolve_data(path, name="--data", caller="workbench monitor")
    return frame


def _show(step: Any, args: argparse.Namespace) -> Any:
    if args.format == "json":
        print(json.dumps(step.to_dict(), default=str))
    else:
        print(_line(step))
        if args.verbose:
            print("\n".join(f"    {line}" for line in step.explain()[1:]))
        else:
            print(f"    {step.reason}")
    sys.stdout.flush()
    return step


def register(commands: Any) -> None:
    """Add the ``monitor`` command to the top-level sub-parsers."""
    parser = commands.add_parser(
        "monitor",
        help="closed loop: check windows, retrain on an alarm, gate, promote or keep",
        description="Check windows of --data (or a deployment's request log) against the "
        "model's champion: drift and performance -> on an alarm, retrain, evaluate challenger "
        "and champion on held-out rows, gate, and move the champion alias or keep it. Every "
        "check is a run in experiment 'monitoring'.",
    )
    parser.add_argument("model", help="model name, NAME@ALIAS, or deployment:ID")
    parser.add_argument("--data", help="labelled data to check: .csv/.parquet/.json")
    parser.add_argument("--reference", help="reference data (default: the champion's lineage)")
    parser.add_argument("--target", help="label column (needed to retrain and gate)")
    parser.add_argument("--features", nargs="+", help="model inputs (default: its signature)")
    parser.add_argument("--time-column", help="timestamp column for calendar windows")
    parser.add_argument("--window", help="window: a pandas frequency (30D, 7D, W, MS) or N rows")
    parser.add_argument(
        "--origin",
        default="start_day",
        help="where fixed-span windows start: start_day (default), start, epoch or a timestamp",
    )
    retrain = parser.add_mutually_exclusive_group()
    retrain.add_argument("--retrain", metavar="MODULE:FUNCTION", help="(train_df) -> model")
    retrain.add_argument(
        "--retrain-notebook", metavar="PATH", help="notebook run with papermill on an alarm"
    )
    parser.add_argument(
        "--gate",
        action="append",
        default=[],
        help="gate rule, e.g. 'accuracy>=0.7' or 'accuracy>=champion+0.01' (repeatable)",
    )
    parser.add_argument(
        "--trigger",
        action="append",
        default=[],
        choices=("dataset_drift", "target_drift", "prediction_drift", "performance"),
        help="signal that starts a retrain (repeatable)",
    )
    parser.add_argument("--metric", default="accuracy", help="performance metric (accuracy)")
    parser.add_argument("--floor", type=float, help="alarm when the metric falls below this")
    parser.add_argument("--max-drop", type=float, help="alarm on a drop from the baseline")
    parser.add_argument("--drift-share", type=float, default=0.5, help="dataset drift share")
    parser.add_argument("--retrain-window", help="earlier labelled data for retraining")
    parser.add_argument("--holdout", type=float, default=0.3, help="held-out share (0.3)")
    parser.add_argument("--min-rows", type=int, default=10, help="smallest window judged (10)")
    parser.add_argument("--no-promote", action="store_true", help="never move the champion")
    parser.add_argument("--experiment", default="monitoring", help="experiment of the runs")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="check the last window (default)")
    mode.add_argument("--replay", action="store_true", help="check every window of --data")
    mode.add_argument("--every", type=float, metavar="SECONDS", help="deployment: keep checking")
    parser.add_argument("--max-checks", type=int, help="with --every: stop after N checks")
    parser.add_argument(
        "--fail-on-drift",
        action="store_true",
        help="exit 1 when an alarm was not resolved by a promotion",
    )
    parser.add_argument("--verbose", action="store_true", help="print every decision")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=_monitor)
