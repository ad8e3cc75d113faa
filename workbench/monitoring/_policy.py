"""The closed loop's data: the policy a monitor follows, and the step it reports per window.

:class:`MonitorPolicy` is checked once, where it is built, and never changes; :class:`LoopStep` is
what one :meth:`Monitor.check <workbench.monitoring.loop.Monitor.check>` decided and why. Both are
plain frozen objects: the machinery lives in :mod:`workbench.monitoring.loop`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from workbench import _options as o
from workbench import _validation as v
from workbench._html import render
from workbench.monitoring._windowing import DEFAULT_ORIGIN, check_origin, check_window
from workbench.monitoring.gates import GateResult, MetricThreshold
from workbench.registry import parse_model_uri
from workbench.registry._serializers import normalize_trusted

__all__ = [
    "DECISIONS",
    "EVALUATIONS",
    "SIGNALS",
    "LoopStep",
    "MonitorPolicy",
    "history_columns",
    "parse_gate",
]

#: What a check can decide: nothing fired; a challenger was promoted; the champion was kept
#: (the gate refused, or promotion is off); a trigger fired but nothing could be retrained; the
#: window was too small to judge; a challenger was retrained and waits to be scored on the next
#: window (``evaluation="forward"``).
DECISIONS = ("no_drift", "promoted", "kept", "alarm", "skipped", "retrained")
#: How a challenger is scored against the champion before the gate.
EVALUATIONS = ("holdout", "forward")
#: The signals a check computes; ``MonitorPolicy.triggers`` says which of them start a retrain.
SIGNALS = ("dataset_drift", "target_drift", "prediction_drift", "performance")

_LOWER_IS_BETTER_RE = re.compile(r"(loss|error|mae|mse|rmse|mape)", re.IGNORECASE)
_GATE_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z0-9_.:/\- ]+?)\s*(?P<op>>=|<=)\s*"
    r"(?:(?P<champion>champion)\s*(?:(?P<sign>[+-])\s*(?P<change>[0-9.eE+-]+))?|"
    r"(?P<value>[0-9.eE+-]+))\s*$"
)
_EMPTY: Mapping[str, Any] = MappingProxyType({})
CALLER = "MonitorPolicy"


def greater_is_better(metric: str) -> bool:
    """Whether higher values of ``metric`` are better (losses and errors are lower-is-better)."""
    return not _LOWER_IS_BETTER_RE.search(metric)


def parse_gate(rules: str | Sequence[str], *, caller: str = CALLER) -> dict[str, MetricThreshold]:
    """Gate rules written as text, merged per metric into :class:`MetricThreshold` objects.

    ``"accuracy>=0.7"`` is a threshold; ``"accuracy>=champion+0.01"`` requires beating the
    champion by 0.01 (``"log_loss<=champion-0.02"`` for lower-is-better metrics);
    ``"accuracy>=champion"`` requires doing at least as well as the champion.
    """
    items = [rules] if isinstance(rules, str) else list(rules)
    parts: dict[str, dict[str, Any]] = {}
    for item in items:
        match = _GATE_RE.match(item) if isinstance(item, str) else None
        if match is None:
            raise v.fail(
                "gate",
                caller,
                "rules such as 'accuracy>=0.7', 'accuracy>=champion+0.01' or "
                "'log_loss<=champion-0.02'",
                item,
            )
        metric, better = match["metric"].strip(), match["op"] == ">="
        rule = parts.setdefault(metric, {"greater_is_better": better})
        if rule["greater_is_better"] != better:
            raise v.fail("gate", caller, f"one direction (>= or <=) per metric; {metric!r}", item)
        try:
            if match["value"] is not None:
                rule["threshold"] = float(match["value"])
            elif match["change"] is None:
                rule["min_relative_change"] = 0.0
            else:
                if (match["sign"] == "+") != better:
                    raise ValueError
                rule["min_absolute_change"] = float(match["change"])
        except ValueError:
            raise v.fail(
                "gate", caller, "a rule that asks for an improvement, with a valid number", item
            ) from None
    return {metric: MetricThreshold(**rule) for metric, rule in parts.items()}


def _check_gate(gate: Any, metric: str, floor: float | None) -> Mapping[str, MetricThreshold]:
    if gate is None:
        better = greater_is_better(metric)
        rule = MetricThreshold(threshold=floor, min_absolute_change=0.01, greater_is_better=better)
        return MappingProxyType({metric: rule})
    if isinstance(gate, str) or (
        isinstance(gate, Sequence) and all(isinstance(g, str) for g in gate)
    ):
        return MappingProxyType(parse_gate(gate))
    if (
        isinstance(gate, Mapping)
        and gate
        and all(isinstance(k, str) and isinstance(r, MetricThreshold) for k, r in gate.items())
    ):
        return MappingProxyType(dict(gate))
    raise v.fail(
        "gate",
        CALLER,
        "a dict of metric -> MetricThreshold, or rules such as 'accuracy>=champion+0.01'",
        gate,
    )


def _window(value: Any, name: str, caller: str) -> str | int:
    return check_window(value, caller, name=name)  # type: ignore[no-any-return]


def _window_arg(text: str) -> str | int:
    """A CLI window: a number of rows or a pandas frequency."""
    return int(text) if text.isdigit() else text


def _names(value: Any, name: str, caller: str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _features(value: Any, name: str, caller: str) -> tuple[str, ...]:
    features = (value,) if isinstance(value, str) else value
    if (
        isinstance(features, Mapping)
        or not isinstance(features, Sequence)
        or not features
        or not all(isinstance(f, str) for f in features)
    ):
        raise v.fail(name, caller, "a non-empty list of column names", features)
    return tuple(features)


def _model_name(value: Any, name: str, caller: str) -> str:
    ref = parse_model_uri(value, caller)
    if ref.alias is not None or ref.version is not None:
        raise v.fail(
            name,
            caller,
            "a model name (the aliases are set apart)",
            value,
            f"Use model={ref.name!r}, champion={ref.alias or 'champion'!r}.",
        )
    return str(value)


def _retrain(value: Any, name: str, caller: str) -> Any:
    if callable(value):
        return value
    if isinstance(value, (str, os.PathLike)) and os.fspath(value).endswith(".ipynb"):
        if not os.path.isfile(value):
            raise v.fail(name, caller, "an existing notebook", os.fspath(value))
        return value
    raise v.fail(
        name,
        caller,
        "a callable (train_df) -> fitted model, or the path of a .ipynb notebook",
        value,
    )


SHARE = o.Number(0, 1, low_open=True, high_open=True, text="a share strictly between 0 and 1")
SECONDS = o.Number(0, text="a number of seconds >= 0")


@dataclass(frozen=True, eq=False)
class MonitorPolicy:
    """What a monitor watches, when it raises the alarm, and what it does then.

    Parameters
    ----------
    model
        The registered model's name.
    target
        The label column. With labels in a window, the champion's ``metric`` on it is the
        ``performance`` signal; retraining and the gate need labelled rows.
    features
        The model's input columns (default: the champion's signature, else the columns it was
        fitted on).
    reference
        What windows are compared with: a DataFrame, a file, or a model URI (default: the
        champion's training data from its lineage). After a promotion by the monitor it becomes
        the new champion's training data (if the alias is moved by hand, start a new monitor).
        Retrain runs store the rows they trained on (artifact ``monitor/training.parquet``), so
        a new monitor of a promoted version finds the same reference.
    time_column, window, origin
        How :meth:`Monitor.run` cuts a frame into windows: a pandas frequency of
        ``time_column`` (``"30D"``, ``"7D"``, ``"W"``, ``"MS"`` for calendar months) or a number
        of rows. Fixed spans start at ``origin`` as for ``pandas.Grouper`` (default
        ``"start_day"``: midnight of the first row's day); calendar periods follow the calendar.
    champion, challenger
        The aliases: served traffic follows ``champion``; a retrained model gets ``challenger``.
    triggers
        Which signals start a retrain: ``dataset_drift`` (at least ``drift_share`` of the
        features drifted), ``target_drift``, ``prediction_drift`` (the champion's predictions),
        ``performance`` (``metric`` below ``performance_floor`` or more than
        ``max_performance_drop`` under the champion's metric on the reference). Default:
        ``dataset_drift``, plus ``performance`` when a floor or a drop is set.
    drift_share, thresholds
        As for :func:`~workbench.drift_report`.
    metric, greater_is_better
        The performance metric (any metric of :func:`~workbench.evaluate`) and its direction
        (default: lower is better for losses and errors). The default, accuracy, misleads on
        imbalanced targets (always predicting a label that is 95 % of the rows scores 0.95):
        the first check where one label is 80 % or more of a window's labelled rows logs a
        warning and adds it to the step's reason; use ``"f1"`` (macro for several classes) or
        ``"roc_auc"`` there.
    performance_floor, max_performance_drop
        The performance alarm: an absolute bound, and/or a drop from the baseline. The first
        champion's baseline is its metric on the labelled reference; a champion the monitor
        promoted gets its metric on a window it was not trained on: its forward score with
        ``evaluation="forward"``, else its metric on the first labelled window after the
        promotion (that window cannot fire a drop). Never the in-window held-out score.
    gate
        What a challenger must pass against the champion on the held-out rows: a dict of
        :class:`MetricThreshold`, or rules such as ``"accuracy>=0.7"``,
        ``"accuracy>=champion+0.01"``. Default: ``metric`` better than the champion's by 0.01
        (and at least ``performance_floor``, when set).
    retrain
        A callable ``(train_df) -> fitted estimator`` (or a model URI / ``ModelVersion`` it
        registered itself), or the path of a notebook run with papermill with parameters
        ``training_data`` (a parquet file) and ``model_name``.
    retrain_window
        The labelled data a retrain gets: ``None`` for the current window only (right after an
        abrupt change, older data teaches the old behaviour), a number of most recent rows, or
        a pandas frequency (``"90D"``) of ``time_column`` ending with the current window.
    evaluation
        Where the gate scores a challenger against the champion. ``"forward"`` (default): the
        challenger is trained on all the window's labelled rows (decision ``retrained``), waits
        at the challenger alias, and the next check with labelled rows scores it and the
        champion on that later window (data neither was trained on) before the gate decides:
        one window later, an honest comparison. ``"holdout"``: on ``holdout`` of the labelled
        rows of the window it was trained on, and the gate decides in the same check. Those
        rows come from the same period as the training rows, so the score is optimistic: a
        promoted model can do worse on the next window, even worse than the model it replaced.
    holdout
        The share of the current window's labelled rows kept out of training to evaluate the
        challenger and the champion (``evaluation="holdout"``): an evenly spread sample, so it
        covers the whole window.
    promote
        Move ``champion`` to a challenger that passed the gate (False: leave it at
        ``challenger`` for a person to decide).
    min_rows
        Windows with fewer rows are skipped; retraining needs this many labelled rows.
    deployment
        The deployment whose request log is the default source of windows.
    settle, lateness
        How a deployment's monitor cuts its request log (``check()`` without a batch): a
        served row becomes readable only after the server flushed it (every 0.5 s) and the
        store ingested it, so each check covers requests received up to a *watermark*,
        ``settle`` seconds before now (default 2), and also takes the rows received in the
        ``lateness`` seconds before the previous watermark (default 600) that were not yet
        visible then. Every request is checked exactly once, unless it becomes visible more
        than ``lateness`` seconds after its receipt.
    experiment
        Where the check runs (and their drift, retrain and evaluation runs) are kept.
    trusted
        Passed to :func:`workbench.load_model` for the champion and every challenger: ``False``
        (types trusted by default), type names to trust as well, or ``True``.
    """

    model: str = o.option(
        check=o.Check(_model_name, "a registered model's name"),
        help="The registered model (``monitor()``: a name, ``name@alias``, a Deployment or "
        "``deployment:<id>``).",
    )
    target: str | None = o.option(
        None,
        flag="--target",
        check=o.Name(none=True),
        help="The label column (needed for the performance signal, retraining and the gate).",
    )
    features: Sequence[str] | None = o.option(
        None,
        flag="--features",
        cli={"nargs": "+"},
        check=o.Check(_features, "a non-empty list of column names", none=True),
        default_text="the champion's signature",
        help="The model's input columns.",
    )
    reference: Any = o.option(
        None,
        flag="--reference",
        repr=False,
        check=o.Check(lambda value, name, caller: value, "a DataFrame, a file or a model URI"),
        default_text="the champion's training data",
        help="What windows are compared with (after a promotion: the new champion's training "
        "data).",
    )
    time_column: str | None = o.option(
        None,
        flag="--time-column",
        check=o.Name(none=True),
        help="The timestamp column that cuts windows by time.",
    )
    window: str | int | None = o.option(
        None,
        flag="--window",
        cli={"type": _window_arg},
        check=o.Check(
            _window, "a pandas frequency ('30D', 'W', 'MS') or a number of rows", none=True
        ),
        help="How ``Monitor.run`` cuts a frame into windows.",
    )
    origin: Any = o.option(
        DEFAULT_ORIGIN,
        flag="--origin",
        check=o.Check(
            lambda value, name, caller: check_origin(value, caller),
            "'start_day', 'start', 'epoch' or a timestamp",
        ),
        help="Where fixed-span windows start, as for ``pandas.Grouper``.",
    )
    champion: str = o.option(
        "champion",
        check=o.Name(),
        default_text="`'champion'` (``monitor()``: the alias of ``model``)",
        help="The alias served traffic follows.",
    )
    challenger: str = o.option(
        "challenger",
        flag="--challenger",
        check=o.Name(),
        help="The alias a retrained model gets.",
    )
    triggers: Sequence[str] | None = o.option(
        None,
        flag="--trigger",
        cli={"action": "append", "choices": SIGNALS},
        check=o.Check(_names, f"a non-empty subset of {list(SIGNALS)}", none=True),
        default_text="`dataset_drift` (+ `performance` with a bound)",
        help="Which signals start a retrain (CLI: repeatable).",
    )
    drift_share: float = o.option(
        0.5,
        flag="--drift-share",
        cli={"type": float},
        check=SHARE,
        help="The ``dataset_drift`` signal: at least this share of the features drifted.",
    )
    thresholds: float | Mapping[str, float] | None = o.option(
        None,
        check=o.Check(lambda value, name, caller: value, "as for drift_report", none=True),
        default_text="the tests'",
        help="Drift thresholds, as for :func:`~workbench.drift_report`.",
    )
    metric: str = o.option(
        "accuracy",
        flag="--metric",
        check=o.Name(),
        help="The performance metric (any of :func:`~workbench.evaluate`'s); on imbalanced "
        "labels prefer ``f1`` or ``roc_auc``.",
    )
    greater_is_better: bool | None = o.option(
        None,
        check=o.Bool(none=True),
        default_text="lower for losses and errors",
        help="The metric's direction.",
    )
    performance_floor: float | None = o.option(
        None,
        flag="--floor",
        cli={"type": float},
        check=o.Number(none=True, text="a number or None"),
        help="The performance alarm: the metric below this.",
    )
    max_performance_drop: float | None = o.option(
        None,
        flag="--max-drop",
        cli={"type": float},
        check=o.Number(0, low_open=True, none=True, text="a positive number or None"),
        help="The performance alarm: a drop from the champion's baseline by more than this.",
    )
    gate: Mapping[str, MetricThreshold] | Sequence[str] | str | None = o.option(
        None,
        flag="--gate",
        cli={"action": "append"},
        check=o.Check(
            lambda value, name, caller: value,
            "rules such as 'accuracy>=champion+0.01', or a dict of MetricThreshold",
            none=True,
        ),
        default_text="``metric`` better than the champion's by 0.01",
        help="What a challenger must pass against the champion (CLI: repeatable).",
    )
    retrain: Callable[[pd.DataFrame], Any] | str | os.PathLike[str] | None = o.option(
        None,
        check=o.Check(_retrain, "a callable (train_df) -> model, or a .ipynb path", none=True),
        help="What retrains (``monitor()``: ``on_drift=``; CLI: ``--retrain MODULE:FUNCTION`` "
        "or ``--retrain-notebook PATH``).",
    )
    retrain_window: str | int | None = o.option(
        None,
        flag="--retrain-window",
        cli={"type": _window_arg},
        check=o.Check(_window, "a pandas frequency or a number of rows", none=True),
        default_text="the current window",
        help="The labelled data a retrain gets, ending with the current window.",
    )
    holdout: float = o.option(
        0.3,
        flag="--holdout",
        cli={"type": float},
        check=SHARE,
        help="The share of the window's labelled rows kept out of training to score the "
        "challenger and the champion (``evaluation='holdout'``).",
    )
    evaluation: str = o.option(
        "forward",
        flag="--evaluation",
        cli={"choices": EVALUATIONS},
        check=o.OneOf(EVALUATIONS, text=f"one of {list(EVALUATIONS)}"),
        help="``forward``: score on the next labelled window, which neither model was "
        "trained on; ``holdout``: on held-out rows of the training window, in the same check "
        "(optimistic).",
    )
    promote: bool = o.option(
        True,
        flag="--promote",
        cli={"action": argparse.BooleanOptionalAction},
        check=o.Bool(),
        help="Move ``champion`` to a challenger that passed the gate (else leave it at "
        "``challenger``).",
    )
    min_rows: int = o.option(
        10,
        flag="--min-rows",
        cli={"type": int},
        check=o.Int(1),
        help="Smaller windows are skipped; retraining needs this many labelled rows.",
    )
    deployment: str | None = o.option(
        None,
        check=o.Name(none=True),
        default_text="``monitor()``: from ``model``",
        help="The deployment whose request log is the default source of windows.",
    )
    experiment: str = o.option(
        "monitoring",
        flag="--experiment",
        check=o.Name(),
        help="Where the check runs (and their drift, retrain and evaluation runs) are kept.",
    )
    trusted: Any = o.option(
        False,
        check=o.Check(
            lambda value, name, caller: normalize_trusted(value, caller),
            "True, False or a list of type names",
        ),
        help="Passed to :func:`workbench.load_model` for the champion and every challenger.",
    )
    settle: float = o.option(
        2.0,
        flag="--settle",
        cli={"type": float, "metavar": "SECONDS"},
        check=SECONDS,
        help="A deployment's checks cover requests up to this many seconds ago.",
    )
    lateness: float = o.option(
        600.0,
        flag="--lateness",
        cli={"type": float, "metavar": "SECONDS"},
        check=SECONDS,
        help="And re-read requests received this long before the previous watermark.",
    )

    def __post_init__(self) -> None:
        o.set_fields(self, o.check_fields(self, CALLER))
        self._check_aliases()
        if isinstance(self.retrain_window, str) and self.time_column is None:
            raise v.fail(
                "retrain_window",
                CALLER,
                "a number of rows when time_column is not set",
                self.retrain_window,
            )
        if self.greater_is_better is None:
            object.__setattr__(self, "greater_is_better", greater_is_better(self.metric))
        self._check_triggers(self.performance_floor, self.max_performance_drop)
        gate = _check_gate(self.gate, self.metric, self.performance_floor)
        object.__setattr__(self, "gate", gate)

    def _check_aliases(self) -> None:
        for name in ("champion", "challenger"):
            parse_model_uri(f"{self.model}@{getattr(self, name)}", CALLER)
        if self.champion == self.challenger:
            raise v.fail(
                "challenger", CALLER, "an alias other than the champion's", self.challenger
            )

    def _check_triggers(self, floor: float | None, drop: float | None) -> None:
        triggers = self.triggers
        if triggers is None:
            bounded = floor is not None or drop is not None
            triggers = ("dataset_drift",) + (("performance",) if bounded else ())
        elif isinstance(triggers, str):
            triggers = (triggers,)
        triggers = tuple(triggers)
        unknown = [t for t in triggers if t not in SIGNALS]
        if not triggers or unknown:
            raise v.fail("triggers", CALLER, f"a non-empty subset of {list(SIGNALS)}", triggers)
        if "performance" in triggers and floor is None and drop is None:
            raise v.fail(
                "triggers",
                CALLER,
                "without 'performance' when no performance bound is set",
                triggers,
                "Set performance_floor= or max_performance_drop= (and target=).",
            )
        if "performance" in triggers and self.target is None:
            raise v.fail("target", CALLER, "the label column for the performance trigger", None)
        object.__setattr__(self, "triggers", triggers)

    @property
    def gate_thresholds(self) -> Mapping[str, MetricThreshold]:
        """The gate as a dict of metric -> :class:`MetricThreshold`."""
        gate = self.gate
        assert isinstance(gate, Mapping)
        return gate

    def describe(self) -> dict[str, Any]:
        """The policy as flat params (logged on every check run)."""
        retrain = self.retrain
        if callable(retrain):
            retrain_text = getattr(retrain, "__qualname__", type(retrain).__name__)
            retrain_text = f"{getattr(retrain, '__module__', '?')}:{retrain_text}"
        else:
            retrain_text = None if retrain is None else os.fspath(retrain)
        return {
            "model": self.model,
            "champion_alias": self.champion,
            "challenger_alias": self.challenger,
            "target": self.target,
            "window": self.window,
            "origin": str(self.origin) if isinstance(self.window, str) else None,
            "triggers": ",".join(self.triggers or ()),
            "drift_share": self.drift_share,
            "metric": self.metric,
            "performance_floor": self.performance_floor,
            "max_performance_drop": self.max_performance_drop,
            "gate": "; ".join(f"{m} {rule}" for m, rule in self.gate_thresholds.items()),
            "retrain": retrain_text,
            "retrain_window": self.retrain_window,
            "holdout": self.holdout if self.evaluation == "holdout" else None,
            "evaluation": self.evaluation,
            "promote": self.promote,
            "settle": self.settle if self.deployment else None,
            "lateness": self.lateness if self.deployment else None,
        }


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


@dataclass(frozen=True)
class LoopStep:
    """One checked window: the signals, what fired, what was retrained, the gate, the decision.

    ``links`` holds the run ids of the steps: ``check`` (this step's run), ``drift_report``,
    ``retrain``, ``evaluation`` (the challenger's) and ``champion_evaluation``.
    """

    index: int
    model: str
    decision: str
    reason: str
    champion_version: int
    new_champion_version: int
    window_start: Any = None
    window_end: Any = None
    n_rows: int = 0
    n_labelled: int = 0
    signals: Mapping[str, bool | None] = field(default_factory=lambda: _EMPTY)
    fired: tuple[str, ...] = ()
    metric: str = "accuracy"
    champion_metric: float | None = None
    baseline: float | None = None
    share_drifted: float | None = None
    drifted_columns: tuple[str, ...] = ()
    challenger_version: int | None = None
    n_train: int = 0
    n_holdout: int = 0
    challenger_holdout: float | None = None
    champion_holdout: float | None = None
    evaluation: str = "holdout"
    gate: GateResult | None = None
    links: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    drift: Any = field(default=None, repr=False, compare=False)

    @property
    def alarm(self) -> bool:
        """Whether a trigger fired."""
        return bool(self.fired)

    @property
    def promoted(self) -> bool:
        """Whether the champion alias moved to a new version."""
        return self.decision == "promoted"

    @property
    def run_id(self) -> str | None:
        """The check's run (experiment ``monitoring``)."""
        return self.links.get("check")

    def _window_text(self) -> str:
        if self.window_start is None:
            return f"{self.n_rows:,} rows"
        return f"{_when(self.window_start)} .. {_when(self.window_end)} ({self.n_rows:,} rows)"

    def explain(self) -> list[str]:
        """Every decision of the step, one sentence each."""
        lines = [
            f"Check {self.index} of {self.model} (champion v{self.champion_version}), window "
            f"{self._window_text()}, {self.n_labelled:,} labelled."
        ]
        if self.share_drifted is not None:
            drifted = ", ".join(self.drifted_columns) or "none"
            lines.append(
                f"Drift: share of drifted features {self.share_drifted:.2f}; drifted columns: "
                f"{drifted}."
            )
        if self.champion_metric is not None:
            base = f", baseline {_number(self.baseline)}" if self.baseline is not None else ""
            lines.append(
                f"Champion {self.metric} on the window: {_number(self.champion_metric)}{base}."
            )
        lines.append("Fired: " + (", ".join(self.fired) if self.fired else "nothing") + ".")
        if self.challenger_version is not None and self.decision == "retrained":
            lines.append(
                f"Retrained {self.model}/{self.challenger_version} on {self.n_train:,} rows; it "
                "is scored on the next labelled window before the gate."
            )
        elif self.challenger_version is not None:
            rows = (
                "rows of this window, after its training window (forward)"
                if self.evaluation == "forward"
                else "held-out rows"
            )
            lines.append(
                f"Challenger {self.model}/{self.challenger_version} trained on {self.n_train:,} "
                f"rows; on {self.n_holdout:,} {rows} {self.metric} challenger "
                f"{_number(self.challenger_holdout)} vs champion {_number(self.champion_holdout)}."
            )
        if self.gate is not None:
            lines.append(f"Gate: {self.gate.summary}")
            lines.extend(
                f"  [{'pass' if c.passed else 'FAIL'}] {c.message}" for c in self.gate.checks
            )
        lines.append(f"Decision: {self.decision.upper()}. {self.reason}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable: everything but the drift report (kept in its own run)."""
        return {
            "index": self.index,
            "model": self.model,
            "decision": self.decision,
            "reason": self.reason,
            "champion_version": self.champion_version,
            "new_champion_version": self.new_champion_version,
            "window_start": _when(self.window_start) if self.window_start is not None else None,
            "window_end": _when(self.window_end) if self.window_end is not None else None,
            "n_rows": self.n_rows,
            "n_labelled": self.n_labelled,
            "signals": dict(self.signals),
            "fired": list(self.fired),
            "metric": self.metric,
            "champion_metric": self.champion_metric,
            "baseline": self.baseline,
            "share_drifted": self.share_drifted,
            "drifted_columns": list(self.drifted_columns),
            "challenger_version": self.challenger_version,
            "n_train": self.n_train,
            "n_holdout": self.n_holdout,
            "challenger_holdout": self.challenger_holdout,
            "champion_holdout": self.champion_holdout,
            "evaluation": self.evaluation,
            "gate": None if self.gate is None else self.gate.to_dict(),
            "links": dict(self.links),
        }

    def row(self) -> dict[str, Any]:
        """One row of :meth:`Monitor.history`."""
        return {
            "check": self.index,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "rows": self.n_rows,
            "labelled": self.n_labelled,
            "champion_version": self.champion_version,
            f"champion_{self.metric}": self.champion_metric,
            "share_drifted": self.share_drifted,
            "alarm": self.alarm,
            "fired": ",".join(self.fired),
            "challenger_version": self.challenger_version,
            f"challenger_holdout_{self.metric}": self.challenger_holdout,
            f"champion_holdout_{self.metric}": self.champion_holdout,
            "gate_passed": None if self.gate is None else self.gate.passed,
            "decision": self.decision,
            "new_champion_version": self.new_champion_version,
            "reason": self.reason,
            "run_id": self.run_id,
        }

    def __repr__(self) -> str:
        extra = f" -> v{self.new_champion_version}" if self.promoted else ""
        fired = ",".join(self.fired) or "-"
        return (
            f"LoopStep(check {self.index}, {self._window_text()}: fired {fired}, "
            f"{self.decision}{extra})"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        colors = {"promoted": "#1e6b3a", "kept": "#9b1c1c", "alarm": "#9b1c1c"}
        color = colors.get(self.decision, "#444")
        lines = self.explain()
        page = render(
            "loop_step.html.j2",
            headline=lines[0],
            color=color,
            decision=self.decision.upper(),
            lines=lines[1:],
            links=list(self.links.items()),
        )
        return {"text/plain": "\n".join(lines), "text/html": page}


def history_columns(metric: str) -> list[str]:
    """The columns of :meth:`Monitor.history` (those of :meth:`LoopStep.row`)."""
    return list(LoopStep(0, "m", "skipped", "", 0, 0, metric=metric).row())


def _when(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat() if value != value.normalize() else value.strftime("%Y-%m-%d")
    return str(value)
