"""One check of the closed loop, and the state a monitor carries from one check to the next.

:func:`run_check` does the work of :meth:`Monitor.check <workbench.monitoring.loop.Monitor.check>`
inside the check's run: drift report -> performance -> triggers -> retrain -> evaluate -> gate ->
promote or keep, returning a :class:`LoopStep`. :class:`MonitorState` holds what carries over:
the reference (it follows the champion), the performance baseline, loaded models and the recent
labelled rows for ``retrain_window``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench.monitoring._policy import LoopStep, MonitorPolicy
from workbench.monitoring._retrain import produce_version
from workbench.monitoring._sources import TRAINING_ROWS, resolve_data
from workbench.monitoring.evaluation import EvaluationResult, evaluate
from workbench.monitoring.gates import GateResult, validate
from workbench.monitoring.performance import Predictions, as_labels, classification_metrics
from workbench.monitoring.report import DriftReport, drift_report
from workbench.registry import ModelVersion, load_model, set_alias

if TYPE_CHECKING:
    from workbench.tracking.client import TrackingClient
    from workbench.tracking.run import ActiveRun

__all__ = ["PREDICTION", "TRAINING_ROWS", "MonitorState", "record_step", "run_check"]

#: The column holding the champion's predictions in drift reports.
PREDICTION = "prediction"
_REQUEST_METADATA = ("request_id", "received_at", "model_version", "role", "latency_ms")
_CALLER = "Monitor.check"
_LABEL_METRICS = ("accuracy", "precision", "recall", "f1")
#: The share of the most frequent label from which accuracy is called misleading.
IMBALANCED = 0.8
logger = logging.getLogger("workbench.monitoring.loop")


class MonitorState:
    """What a monitor remembers between checks."""

    def __init__(self, policy: MonitorPolicy, client: TrackingClient) -> None:
        self.policy = policy
        self.client = client  # the store the monitor reads and writes
        self.reference: pd.DataFrame | None = None
        self.reference_source = ""
        self.baseline: tuple[int, float | None] | None = None  # (champion version, value)
        # A promoted champion whose baseline is its metric on the next labelled window.
        self.awaiting_baseline: int | None = None
        # evaluation="forward": the challenger retrained in an earlier check, and its rows.
        self.pending: tuple[ModelVersion, pd.DataFrame] | None = None
        self.warned_imbalance = False
        self.models: dict[int, Any] = {}
        self.recent: pd.DataFrame | None = None  # labelled rows of earlier windows

    def reference_frame(self) -> pd.DataFrame:
        """The reference, resolved on first use (default: the champion's training data)."""
        if self.reference is None:
            source = self.policy.reference
            if source is None:
                source = f"{self.policy.model}@{self.policy.champion}"
            self.reference, self.reference_source = resolve_data(
                source, name="reference", caller=_CALLER, client=self.client
            )
        return self.reference

    def model(self, version: ModelVersion) -> Any:
        """The loaded model of a version (the last two are kept)."""
        if version.version not in self.models:
            if len(self.models) > 1:
                self.models.clear()
            trusted = self.policy.trusted
            self.models[version.version] = load_model(version, trusted=trusted, client=self.client)
        return self.models[version.version]

    def features(self, version: ModelVersion, model: Any, frame: pd.DataFrame) -> list[str]:
        """The model's input columns: the policy's, the signature's, or what it was fit on."""
        policy = self.policy
        if policy.features is not None:
            names = list(policy.features)
        elif version.signature is not None and version.signature.inputs:
            names = version.signature.input_names
        elif getattr(model, "feature_names_in_", None) is not None:
            names = [str(n) for n in model.feature_names_in_]
        else:
            skip = {policy.target, policy.time_column, PREDICTION, *_REQUEST_METADATA}
            names = [str(c) for c in frame.columns if c not in skip]
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise v.fail(
                "batch",
                _CALLER,
                f"a window with the model's features {names}",
                f"columns {[str(c) for c in frame.columns]}",
                f"Missing: {missing}.",
            )
        return names

    def baseline_for(self, version: ModelVersion, model: Any, features: list[str]) -> float | None:
        """The champion's metric on the labelled reference (for ``max_performance_drop``)."""
        policy = self.policy
        if policy.max_performance_drop is None or policy.target is None:
            return None
        if self.awaiting_baseline == version.version:
            return None
        if self.baseline is None or self.baseline[0] != version.version:
            reference = self.reference_frame()
            value = None
            if policy.target in reference.columns:
                labelled = reference[reference[policy.target].notna()]
                if len(labelled):
                    value = metric_value(model, labelled, features, policy.target, policy.metric)
            self.baseline = (version.version, value)
        return self.baseline[1]

    def imbalance_note(self, labels: pd.Series) -> str:
        """Once per monitor, when ``metric`` is accuracy and one label dominates ``labels``, a
        warning (logged, and added to the step's reason): a model that always predicts that
        label scores its share, so accuracy hides a useless model and hardly moves when the
        rare classes are missed."""
        if self.warned_imbalance or self.policy.metric != "accuracy" or not len(labels):
            return ""
        shares = labels.value_counts(normalize=True)
        if len(shares) < 2 or shares.iloc[0] < IMBALANCED:
            return ""
        self.warned_imbalance = True
        message = (
            f"Monitoring {self.policy.model} with metric='accuracy' on an imbalanced target: "
            f"{self.policy.target}={shares.index[0]!r} is {shares.iloc[0]:.0%} of the labelled "
            f"rows, so always predicting it scores {shares.iloc[0]:.2f}. Accuracy hides a "
            "model that misses the rare classes; pass metric='f1' (macro for several classes) "
            "or 'roc_auc', with a floor and gate on that metric."
        )
        logger.warning("%s", message)
        return f"Warning: {message}"

    def training_rows(self, current: pd.DataFrame, end: Any) -> pd.DataFrame:
        """The current window's training rows, plus earlier labelled rows in retrain_window."""
        window = self.policy.retrain_window
        if window is None or self.recent is None or not len(self.recent):
            return current
        earlier = self.recent
        if isinstance(window, int):
            earlier = earlier.iloc[max(0, len(earlier) - (window - len(current))) :]
        elif end is not None:
            times = pd.to_datetime(earlier[self.policy.time_column], errors="coerce")
            earlier = earlier[times > end - pd.tseries.frequencies.to_offset(window)]
        return pd.concat([earlier, current], ignore_index=True)

    def remember(self, frame: pd.DataFrame) -> None:
        """Keep the window's labelled rows that a later retrain_window may reach."""
        window, target = self.policy.retrain_window, self.policy.target
        if window is None or target is None or target not in frame.columns:
            return
        labelled = frame[frame[target].notna()]
        recent = labelled if self.recent is None else pd.concat([self.recent, labelled])
        if isinstance(window, int):
            recent = recent.iloc[-window:]
        else:
            times = pd.to_datetime(recent[self.policy.time_column], errors="coerce")
            recent = recent[times > times.max() - pd.tseries.frequencies.to_offset(window)]
        self.recent = recent.reset_index(drop=True)

    def promoted(self, version: int, training: pd.DataFrame, forward_value: float | None) -> None:
        """After a promotion, the new champion's training data is the reference, and its
        baseline a score on rows after its training window: ``forward_value`` (its score on
        the window that gated it, ``evaluation="forward"``), else its metric on the next
        labelled window (:meth:`settle_baseline`). A held-out score of the training window
        is optimistic: as a baseline it made the month after a promotion look like a drop."""
        self.reference, self.reference_source = training, "training data of the promoted model"
        self.baseline = (version, forward_value) if forward_value is not None else None
        self.awaiting_baseline = None if forward_value is not None else version

    def settle_baseline(self, version: int, value: float | None) -> None:
        """The first labelled window of a promoted champion sets its baseline."""
        if self.awaiting_baseline == version and value is not None:
            self.baseline, self.awaiting_baseline = (version, value), None


def metric_value(
    model: Any, data: pd.DataFrame, features: list[str], target: str, metric: str
) -> float | None:
    """``model``'s ``metric`` on labelled ``data``, as :func:`evaluate` computes it (not logged).

    Label metrics of classifiers are computed from the predicted labels alone, without the
    curves and figures :func:`evaluate` also builds (a check computes one per window).
    """
    frame = data[[*features, target]]
    scored, task = _scorable(model, frame[target])
    if task == "classification" and metric in _LABEL_METRICS:
        y = as_labels(frame[target].to_numpy())
        predicted = as_labels(np.asarray(scored.predict(frame[features])))
        classes = np.unique(np.concatenate([as_labels(np.asarray(scored.classes_)), y]))
        metrics = classification_metrics(y, Predictions(predicted, None, classes))
        return _finite(metrics[metric])
    result = evaluate(scored, frame, target=target, task=task, log=False)
    if metric not in result.metrics:
        raise v.fail(
            "metric",
            "MonitorPolicy",
            f"a metric evaluate() computes for this {result.task} model",
            metric,
            f"Available: {sorted(result.metrics)}.",
        )
    return _finite(result.metrics[metric])


def _scorable(model: Any, labels: pd.Series) -> tuple[Any, str | None]:
    """``model``, or for a classifier that never saw some of ``labels``, a view of it that
    gives them probability 0 (the metrics of :func:`evaluate` need every label among the
    model's classes, and a model retrained on one window often misses a rare one)."""
    classes = getattr(model, "classes_", None)
    if classes is None or not hasattr(model, "predict_proba"):
        return model, None
    known = set(np.asarray(classes).tolist())
    if all(label in known for label in pd.unique(labels.dropna())):
        return model, "classification"
    return _KnownLabels(model, labels.dropna().unique()), "classification"


class _KnownLabels:
    """A fitted classifier whose classes are extended with labels it never learnt."""

    def __init__(self, model: Any, labels: Any) -> None:
        self.model = model
        self.classes_ = np.union1d(np.asarray(model.classes_), np.asarray(labels))
        self._columns = np.searchsorted(self.classes_, np.asarray(model.classes_))
        names = getattr(model, "feature_names_in_", None)
        if names is not None:
            self.feature_names_in_ = names

    def predict(self, features: Any) -> Any:
        return self.model.predict(features)

    def predict_proba(self, features: Any) -> np.ndarray:
        known = np.asarray(self.model.predict_proba(features), dtype=float)
        proba = np.zeros((known.shape[0], len(self.classes_)))
        proba[:, self._columns] = known
        return proba


def run_check(
    state: MonitorState,
    run: ActiveRun,
    index: int,
    champion: ModelVersion,
    window: tuple[pd.DataFrame, str],
) -> LoopStep:
    """Check one window (its rows and where they came from) inside ``run`` and act on it."""
    return _Check(state, run, index, champion, window).execute()


class _Check:
    def __init__(
        self,
        state: MonitorState,
        run: ActiveRun,
        index: int,
        champion: ModelVersion,
        window: tuple[pd.DataFrame, str],
    ) -> None:
        self.state, self.policy, self.run, self.index = state, state.policy, run, index
        self.champion, (self.frame, self.source) = champion, window
        frame = self.frame
        self.links: dict[str, str] = {"check": run.run_id}
        self.note = ""  # a warning about the policy, appended to the step's reason
        target = self.policy.target
        has_labels = target is not None and target in frame.columns
        self.labelled = frame[frame[target].notna()] if has_labels else frame.iloc[:0]
        start, end = _window_bounds(frame, self.policy.time_column)
        self.base: dict[str, Any] = {
            "index": index,
            "model": self.policy.model,
            "champion_version": champion.version,
            "window_start": start,
            "window_end": end,
            "n_rows": len(frame),
            "n_labelled": len(self.labelled),
            "metric": self.policy.metric,
        }

    def step(self, decision: str, reason: str, **fields: Any) -> LoopStep:
        new = fields.pop("new_champion_version", self.champion.version)
        return LoopStep(
            decision=decision,
            reason=f"{reason} {self.note}" if self.note else reason,
            new_champion_version=new,
            links=dict(self.links),
            **self.base,
            **fields,
        )

    def execute(self) -> LoopStep:
        policy, state = self.policy, self.state
        if len(self.frame) < policy.min_rows:
            return self.step(
                "skipped",
                f"The window has {len(self.frame)} rows, fewer than min_rows={policy.min_rows}: "
                "nothing was judged.",
            )
        model = state.model(self.champion)
        features = state.features(self.champion, model, self.frame)
        report = self._drift(model, features)
        value = None
        if policy.target is not None and len(self.labelled) >= policy.min_rows:
            self.note = state.imbalance_note(self.labelled[policy.target])
            value = metric_value(model, self.labelled, features, policy.target, policy.metric)
        baseline = state.baseline_for(self.champion, model, features)
        if policy.max_performance_drop is not None:
            state.settle_baseline(self.champion.version, value)
        performance, why = self._performance(value, baseline)
        signals = {
            "dataset_drift": bool(report.dataset_drift),
            "target_drift": report.target_drift,
            "prediction_drift": report.prediction_drift,
            "performance": performance,
        }
        fired = tuple(t for t in policy.triggers or () if signals.get(t))
        observed = {
            "signals": signals,
            "fired": fired,
            "champion_metric": value,
            "baseline": baseline,
            "share_drifted": report.share_drifted,
            "drifted_columns": tuple(report.drifted_columns),
            "drift": report,
        }
        forward = state.pending is not None and len(self.labelled) >= policy.min_rows
        if forward and policy.target is not None:
            alarm = _alarm_text(fired, report, why) if fired else ""
            return self._gate_forward(features, alarm, observed)
        if not fired:
            quiet = f"No trigger fired ({', '.join(policy.triggers or ())})."
            return self.step("no_drift", f"{quiet} {why}".strip(), **observed)
        alarm = _alarm_text(fired, report, why)
        if policy.retrain is None:
            reason = f"{alarm} No retrain (on_drift) is configured: the champion stays."
            return self.step("alarm", reason, **observed)
        if policy.target is None or len(self.labelled) < policy.min_rows:
            reason = (
                f"{alarm} Only {len(self.labelled)} labelled rows (min_rows={policy.min_rows}): "
                "retraining and the gate need labels, so the champion stays. Pass labelled "
                "windows (e.g. the requests joined with their outcomes)."
            )
            return self.step("alarm", reason, **observed)
        return self._retrain_and_gate(features, alarm, observed)

    def _drift(self, model: Any, features: list[str]) -> DriftReport:
        policy = self.policy
        reference = self.state.reference_frame()
        missing = [f for f in features if f not in reference.columns]
        if missing:
            raise v.fail(
                "reference",
                _CALLER,
                f"data with the model's features {features}",
                self.state.reference_source,
                f"Missing: {missing}.",
            )
        target = policy.target
        labels = target is not None and target in self.frame.columns and target in reference.columns
        keep = [*features, target] if labels and target else list(features)
        column = PREDICTION if PREDICTION not in features else "champion_prediction"
        ref = reference[keep].assign(**{column: model.predict(reference[features])})
        cur = self.frame[keep].assign(**{column: model.predict(self.frame[features])})
        report = drift_report(
            ref,
            cur,
            target=target if labels else None,
            prediction=column,
            columns=features,
            thresholds=policy.thresholds,
            drift_share=policy.drift_share,
            name=f"{policy.model} check {self.index}",
            progress=False,
        )
        report.sources["reference"] = self.state.reference_source
        report.sources["current"] = self.source
        name = f"{policy.model}-drift-{self.index}"
        self.links["drift_report"] = report.log(
            experiment=policy.experiment, name=name, client=self.state.client
        )
        return report

    def _performance(self, value: float | None, baseline: float | None) -> tuple[bool | None, str]:
        """Whether the performance trigger fires, and why (one sentence)."""
        policy = self.policy
        floor, drop = policy.performance_floor, policy.max_performance_drop
        if floor is None and drop is None:
            return None, ""
        if value is None:
            return None, f"No {policy.metric} on this window (too few labelled rows)."
        better, name = bool(policy.greater_is_better), policy.metric
        fired, notes = False, []
        if floor is not None:
            below = value < floor if better else value > floor
            fired |= below
            side = ("<" if below else ">=") if better else (">" if below else "<=")
            notes.append(f"{name} {value:.3f} {side} floor {floor:g}")
        if drop is not None and baseline is not None:
            lost = (baseline - value) if better else (value - baseline)
            fired |= lost > drop
            notes.append(
                f"{name} {value:.3f} is {lost:.3f} worse than baseline {baseline:.3f} "
                f"({'>' if lost > drop else '<='} {drop:g})"
            )
        return fired, "; ".join(notes) + "."

    def _set_alias(self, alias: str, version: ModelVersion, why: str) -> None:
        reason = f"monitor check {self.index}: {why}"
        set_alias(
            self.policy.model,
            alias,
            version.version,
            reason=reason[:8000],
            client=self.state.client,
        )

    def _retrain_and_gate(
        self, features: list[str], alarm: str, observed: dict[str, Any]
    ) -> LoopStep:
        policy = self.policy
        if policy.evaluation == "forward":
            training = self.state.training_rows(self.labelled, self.base["window_end"])
            version = self._retrain(training, features, alarm)
            self._set_alias(policy.challenger, version, f"retrained after {alarm}")
            self.state.pending = (version, training)
            reason = (
                f"{alarm} Retrained {version.uri} on {len(training):,} rows; it waits at "
                f"@{policy.challenger} and is scored with the champion on the next labelled "
                "window before the gate (evaluation='forward')."
            )
            return self.step(
                "retrained",
                reason,
                challenger_version=version.version,
                n_train=len(training),
                evaluation="forward",
                **observed,
            )
        holdout, current = _holdout_split(self.labelled, policy.holdout)
        training = self.state.training_rows(current, self.base["window_end"])
        version = self._retrain(training, features, alarm)
        self._set_alias(policy.challenger, version, f"retrained after {alarm}")
        frame = holdout[[*features, str(policy.target)]]
        gate, fields = self._gate_on(version, frame, training, observed)
        return self._decide(version, gate, alarm, training, fields)

    def _gate_forward(self, features: list[str], alarm: str, observed: dict[str, Any]) -> LoopStep:
        """Score the challenger retrained in an earlier check, and the champion, on this
        window's labelled rows (after the challenger's training window), then the gate."""
        policy, state = self.policy, self.state
        assert state.pending is not None
        version, training = state.pending
        state.pending = None
        frame = self.labelled[[*features, str(policy.target)]]
        gate, fields = self._gate_on(version, frame, training, observed)
        fields["evaluation"] = "forward"
        text = f"{alarm} Forward evaluation of {version.uri} on this window.".strip()
        return self._decide(version, gate, text, training, fields)

    def _gate_on(
        self,
        version: ModelVersion,
        frame: pd.DataFrame,
        training: pd.DataFrame,
        observed: dict[str, Any],
    ) -> tuple[Any, dict[str, Any]]:
        """Score challenger and champion on ``frame``, gate them, and the step's fields."""
        policy = self.policy
        challenger = self._evaluate("challenger", version, frame)
        champion = self._evaluate("champion", self.champion, frame)
        gate = validate(
            challenger,
            champion,
            policy.gate_thresholds,
            name=f"{version.uri} vs {self.champion.uri}",
        )
        fields = {
            **observed,
            "challenger_version": version.version,
            "n_train": len(training),
            "n_holdout": len(frame),
            "gate": gate,
            "challenger_holdout": _finite(challenger.metrics.get(policy.metric)),
            "champion_holdout": _finite(champion.metrics.get(policy.metric)),
        }
        return gate, fields

    def _retrain(self, training: pd.DataFrame, features: list[str], alarm: str) -> ModelVersion:
        policy, client = self.policy, self.state.client
        tags = {
            "workbench.kind": "retrain",
            "workbench.model": policy.model,
            "monitor.check_run": self.run.run_id,
            "monitor.reason": alarm[:1000],
        }
        name = f"{policy.model}-retrain-{self.index}"
        with client.start_run(policy.experiment, name, tags=tags) as retrain_run:
            self.links["retrain"] = retrain_run.run_id
            retrain_run.log_input(training, name="training", context="training")
            # The rows themselves, not only their fingerprint: a new monitor of the promoted
            # version finds its reference here (see _sources._model_training_data).
            retrain_run.log_table(training.reset_index(drop=True), TRAINING_ROWS)
            retrain_run.log_metric("training_rows", float(len(training)))
            version = produce_version(
                policy.retrain, retrain_run, training, policy.model, features, client
            )
            retrain_run.set_tag("workbench.registered_version", version.uri)
        return version

    def _evaluate(self, role: str, version: ModelVersion, frame: pd.DataFrame) -> EvaluationResult:
        """``version`` on the held-out rows, logged to its own evaluation run."""
        policy, client = self.policy, self.state.client
        target = str(policy.target)
        tags = {
            "workbench.kind": "evaluation",
            "workbench.model": policy.model,
            "evaluation.model": version.uri,
            "monitor.role": role,
            "monitor.check_run": self.run.run_id,
        }
        scored, task = _scorable(self.state.model(version), frame[target])
        name = f"{policy.model}-evaluate-{role}-{self.index}"
        with client.start_run(policy.experiment, name, tags=tags) as eval_run:
            result = evaluate(scored, frame, target=target, task=task, run=eval_run)
        self.links["evaluation" if role == "challenger" else "champion_evaluation"] = (
            eval_run.run_id
        )
        return result

    def _decide(
        self,
        version: ModelVersion,
        gate: GateResult,
        alarm: str,
        training: pd.DataFrame,
        fields: dict[str, Any],
    ) -> LoopStep:
        policy = self.policy
        if not gate.passed:
            failed = "; ".join(c.message for c in gate.failures)
            reason = (
                f"{alarm} The gate refused {version.uri}: {failed}. The champion stays "
                f"v{self.champion.version}."
            )
            return self.step("kept", reason, **fields)
        if not policy.promote:
            reason = (
                f"{alarm} {version.uri} passed the gate; promote=False, so it waits at "
                f"@{policy.challenger} for a person to promote it."
            )
            return self.step("kept", reason, **fields)
        passed = "; ".join(c.message for c in gate.checks)
        history = (
            f"monitor check {self.index} (run {self.run.run_id}): {alarm} Gate passed: {passed}."
        )
        set_alias(
            policy.model,
            policy.champion,
            version.version,
            reason=history[:8000],
            client=self.state.client,
        )
        forward = fields.get("evaluation") == "forward"
        self.state.promoted(
            version.version, training, fields["challenger_holdout"] if forward else None
        )
        reason = (
            f"{alarm} {version.uri} passed the gate and is now @{policy.champion} "
            f"(was v{self.champion.version})."
        )
        return self.step("promoted", reason, new_champion_version=version.version, **fields)


def _holdout_split(labelled: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(held-out rows, training rows): the held-out ones evenly spread over the window."""
    n = len(labelled)
    n_hold = min(max(1, round(n * share)), n - 1)
    positions = np.floor((np.arange(n_hold) + 0.5) * n / n_hold).astype(int)
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return labelled.iloc[mask], labelled.iloc[~mask]


def _window_bounds(frame: pd.DataFrame, time_column: str | None) -> tuple[Any, Any]:
    column = time_column if time_column in frame.columns else None
    if column is None and "received_at" in frame.columns:
        column = "received_at"
    if column is None or not len(frame):
        return None, None
    times = pd.to_datetime(frame[column], errors="coerce").dropna()
    return (times.min(), times.max()) if len(times) else (None, None)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _alarm_text(fired: tuple[str, ...], report: DriftReport, performance: str) -> str:
    parts = []
    for signal in fired:
        if signal == "performance":
            parts.append(performance.rstrip("."))
        elif signal == "dataset_drift":
            parts.append(f"dataset drift ({report.n_drifted}/{report.n_tested} features)")
        else:
            parts.append(signal.replace("_", " "))
    return "Alarm: " + "; ".join(parts) + "."


def record_step(run: ActiveRun, step: LoopStep) -> None:
    """Tags (decision, links), metrics and the step itself (``loop_step.json``) on its run."""
    tags = {
        "workbench.decision": step.decision,
        "workbench.new_champion_version": str(step.new_champion_version),
        "monitor.reason": step.reason[:8000],
        "monitor.fired": ",".join(step.fired) or "-",
    }
    for key, run_id in step.links.items():
        if key != "check":
            tags[f"workbench.{key}_run"] = run_id
    if step.challenger_version is not None:
        tags["workbench.challenger_version"] = str(step.challenger_version)
    if step.gate is not None:
        tags["workbench.gate_passed"] = str(step.gate.passed).lower()
        tags["monitor.gate_summary"] = step.gate.summary
    if step.window_start is not None:
        tags["monitor.window_start"] = str(step.window_start)
        tags["monitor.window_end"] = str(step.window_end)
    run.set_tags(tags)
    metrics = {
        "window_rows": float(step.n_rows),
        "labelled_rows": float(step.n_labelled),
        "alarm": float(step.alarm),
        "promoted": float(step.promoted),
        "champion_version": float(step.champion_version),
    }
    optional = {
        f"champion_{step.metric}": step.champion_metric,
        "drifted_share": step.share_drifted,
        f"challenger_holdout_{step.metric}": step.challenger_holdout,
        f"champion_holdout_{step.metric}": step.champion_holdout,
        "gate_passed": None if step.gate is None else float(step.gate.passed),
    }
    metrics.update({k: float(x) for k, x in optional.items() if x is not None})
    run.log_metrics(metrics)
    run.log_dict(step.to_dict(), "loop_step.json")
