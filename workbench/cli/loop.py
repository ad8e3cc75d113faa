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

from workbench import _options as o
from workbench.exceptions import InvalidParameterError
from workbench.monitoring import MonitorPolicy


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


def _unresolved(steps: Sequence[Any]) -> bool:
    """Whether the last alarm was not followed by a promotion (in its own check, or, with
    forward evaluation, in a later one that gated the challenger it retrained)."""
    alarms = [i for i, step in enumerate(steps) if step.alarm]
    return bool(alarms) and not any(step.promoted for step in steps[alarms[-1] :])


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
    if step.challenger_version is not None and step.gate is None:
        text += f" ({step.model}/{step.challenger_version})"  # not gated yet (forward)
    elif step.challenger_version is not None:
        verdict = "PASSED" if step.gate.passed else "FAILED"
        text += f" ({step.model}/{step.challenger_version}, gate {verdict})"
    return text


def _monitor(args: argparse.Namespace) -> int:
    import workbench.monitoring.loop as loop

    if args.retrain and args.retrain_notebook:
        raise InvalidParameterError("Give --retrain or --retrain-notebook, not both.")
    on_drift: Any = _retrain_function(args.retrain) if args.retrain else args.retrain_notebook
    mon = loop.monitor(args.model, on_drift=on_drift, **o.cli_kwargs(args, MonitorPolicy))
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
        waiting = steps[-1].decision == "retrained"
        print(
            "drift detected and not resolved by a promotion"
            + (" (the challenger waits for the next labelled window)" if waiting else ""),
            file=sys.stderr,
        )
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
        "and champion (on the next labelled window, or held-out rows with --evaluation "
        "holdout), gate, and move the champion alias or keep it. Every check is a run in "
        "experiment 'monitoring'.",
    )
    parser.add_argument("model", help="model name, NAME@ALIAS, or deployment:ID")
    parser.add_argument("--data", help="labelled data to check: .csv/.parquet/.json")
    o.add_arguments(parser, MonitorPolicy)
    retrain = parser.add_mutually_exclusive_group()
    retrain.add_argument("--retrain", metavar="MODULE:FUNCTION", help="(train_df) -> model")
    retrain.add_argument(
        "--retrain-notebook", metavar="PATH", help="notebook run with papermill on an alarm"
    )
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
