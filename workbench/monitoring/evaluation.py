"""``evaluate``: a model's metrics, curves, calibration and fairness on a labelled dataset.

    result = wb.evaluate("churn@challenger", test_df, target="churned",
                         sensitive_features="region")
    result.metrics                 # accuracy, precision, recall, f1, roc_auc, log_loss, ...
    result.figures["roc"]          # plotly figures: roc, pr, calibration, confusion_matrix
    result.fairness                # per-group metrics; result.metrics has the parity gaps

Everything is logged to a run: the one given as ``run=``, else the active run, else a new run in
experiment ``evaluation`` (``log=False`` to skip). The result feeds quality gates directly:
``wb.check_gate(result, champion_result, thresholds)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench.monitoring._sources import resolve_data
from workbench.monitoring.performance import (
    Predictions,
    as_labels,
    classification_metrics,
    infer_task,
    regression_metrics,
)
from workbench.tracking.client import TrackingClient, resolve_client

__all__ = ["EVALUATION_EXPERIMENT", "EvaluationResult", "evaluate"]

EVALUATION_EXPERIMENT = "evaluation"
CALIBRATION_BINS = 10
MAX_SCATTER_POINTS = 5000
_KEY_RE = re.compile(r"[^A-Za-z0-9_\-.:/ ]")


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` measured (and logged to ``run_id``)."""

    metrics: Mapping[str, float]
    task: str
    confusion_matrix: pd.DataFrame | None = None
    fairness: pd.DataFrame | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    model_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Metrics, confusion matrix and fairness table as JSON-serializable data."""
        return {
            "task": self.task,
            "model_uri": self.model_uri,
            "run_id": self.run_id,
            "metrics": {k: (None if math.isnan(x) else x) for k, x in self.metrics.items()},
            "confusion_matrix": None
            if self.confusion_matrix is None
            else {
                "labels": [str(c) for c in self.confusion_matrix.columns],
                "counts": self.confusion_matrix.to_numpy().tolist(),
            },
            "fairness": None
            if self.fairness is None
            else [
                {k: (None if isinstance(x, float) and math.isnan(x) else x) for k, x in row.items()}
                for row in self.fairness.reset_index().to_dict(orient="records")
            ],
        }

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={x:.4g}" for k, x in list(self.metrics.items())[:6])
        return f"EvaluationResult({self.task}: {shown})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench._html import render, safe

        fairness = None
        if self.fairness is not None:
            fairness = safe(self.fairness.to_html(float_format=lambda x: f"{x:.4g}"))
        page = render(
            "evaluation.html.j2",
            task=self.task,
            metrics=list(self.metrics.items()),
            fairness=fairness,
        )
        return {"text/plain": repr(self), "text/html": page}


def _load_model(model: Any, trusted: Any, client: TrackingClient | None) -> tuple[Any, str | None]:
    if isinstance(model, str):
        from workbench.registry import load_model

        return load_model(model, trusted=trusted, client=client), model
    if not hasattr(model, "predict"):
        raise v.fail("model", "evaluate", "a fitted model (with predict) or a model URI", model)
    return model, None


def _features(model: Any, data: pd.DataFrame, target: str) -> pd.DataFrame:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise v.fail("data", "evaluate", f"a frame with the model's features {missing}", data)
        return data[list(names)]
    return data.drop(columns=[target])


def _task(model: Any, y: pd.Series, task: str | None) -> str:
    if task is not None:
        if task not in ("classification", "regression"):
            raise v.fail("task", "evaluate", "'classification' or 'regression'", task)
        return task
    estimator_type = getattr(model, "_estimator_type", None)
    try:
        from sklearn.base import is_classifier, is_regressor

        if is_classifier(model):
            estimator_type = "classifier"
        elif is_regressor(model):
            estimator_type = "regressor"
    except (ImportError, TypeError, AttributeError):
        pass
    if estimator_type == "classifier":
        return "classification"
    if estimator_type == "regressor":
        return "regression"
    return infer_task(y)


def _predict(model: Any, features: pd.DataFrame, y: np.ndarray, task: str) -> Predictions:
    labels = np.asarray(model.predict(features))
    if task == "regression":
        return Predictions(labels.astype(float), None, None)
    proba = None
    classes = getattr(model, "classes_", None)
    if hasattr(model, "predict_proba") and classes is not None:
        proba = np.asarray(model.predict_proba(features), dtype=float)
        classes = as_labels(np.asarray(classes))
    else:
        classes = np.unique(np.concatenate([y, as_labels(labels)]))
    return Predictions(as_labels(labels), proba, np.asarray(classes))


def _curves(y: np.ndarray, preds: Predictions) -> dict[str, Any]:
    """ROC, precision-recall and calibration figures (one-vs-rest for multiclass)."""
    import plotly.graph_objects as go
    from sklearn import metrics

    assert preds.proba is not None and preds.classes is not None
    classes = preds.classes
    targets = [(classes[-1], 1)] if len(classes) == 2 else [(c, i) for i, c in enumerate(classes)]
    roc, pr = go.Figure(), go.Figure()
    for label, index in targets:
        truth = y == label
        if truth.all() or not truth.any():
            continue  # a curve needs both outcomes
        fpr, tpr, _ = metrics.roc_curve(truth, preds.proba[:, index])
        precision, recall, _ = metrics.precision_recall_curve(truth, preds.proba[:, index])
        roc.add_scatter(x=fpr, y=tpr, mode="lines", name=str(label))
        pr.add_scatter(x=recall, y=precision, mode="lines", name=str(label))
    roc.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot"})
    roc.update_layout(
        title="ROC curve", xaxis_title="false positive rate", yaxis_title="true positive rate"
    )
    pr.update_layout(title="Precision-recall curve", xaxis_title="recall", yaxis_title="precision")
    return {"roc": roc, "pr": pr, "calibration": _calibration_figure(y, preds)}


def _calibration_bins(y: np.ndarray, preds: Predictions) -> pd.DataFrame:
    """Top-label reliability: per confidence bin, mean confidence vs accuracy."""
    assert preds.proba is not None
    confidence = preds.proba.max(axis=1)
    correct = (preds.labels == y).astype(float)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, CALIBRATION_BINS - 1)
    frame = pd.DataFrame({"bin": bins, "confidence": confidence, "correct": correct})
    grouped = frame.groupby("bin").agg(
        confidence=("confidence", "mean"), accuracy=("correct", "mean"), count=("correct", "size")
    )
    return grouped


def _calibration_figure(y: np.ndarray, preds: Predictions) -> Any:
    import plotly.graph_objects as go

    bins = _calibration_bins(y, preds)
    figure = go.Figure()
    figure.add_scatter(
        x=bins["confidence"],
        y=bins["accuracy"],
        mode="lines+markers",
        name="model",
        text=[f"{n} rows" for n in bins["count"]],
    )
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"})
    figure.update_layout(
        title="Calibration (top-label confidence vs accuracy)",
        xaxis_title="mean confidence",
        yaxis_title="accuracy",
    )
    return figure


def expected_calibration_error(y: np.ndarray, preds: Predictions) -> float:
    """Top-label ECE over 10 equal-width confidence bins."""
    bins = _calibration_bins(y, preds)
    weights = bins["count"] / bins["count"].sum()
    return float((weights * (bins["confidence"] - bins["accuracy"]).abs()).sum())


def _confusion(y: np.ndarray, preds: Predictions) -> tuple[pd.DataFrame, Any]:
    import plotly.graph_objects as go
    from sklearn.metrics import confusion_matrix

    assert preds.classes is not None
    labels = [str(c) for c in _display(preds.classes)]
    counts = confusion_matrix(y, preds.labels, labels=preds.classes)
    frame = pd.DataFrame(
        counts,
        index=pd.Index(labels, name="true"),
        columns=pd.Index(labels, name="predicted"),
    )
    figure = go.Figure(
        go.Heatmap(z=counts, x=labels, y=labels, colorscale="Blues", texttemplate="%{z}")
    )
    figure.update_layout(
        title="Confusion matrix",
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis={"autorange": "reversed"},
    )
    return frame, figure


def _display(values: np.ndarray) -> list[Any]:
    return [int(x) if isinstance(x, float) and x.is_integer() else x for x in values.tolist()]


def _regression_figures(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    import plotly.graph_objects as go

    rng = np.random.default_rng(0)
    shown = rng.choice(y.size, size=min(y.size, MAX_SCATTER_POINTS), replace=False)
    scatter = go.Figure()
    scatter.add_scattergl(x=y[shown], y=pred[shown], mode="markers", name="rows", opacity=0.5)
    low, high = float(np.min(y)), float(np.max(y))
    scatter.add_scatter(x=[low, high], y=[low, high], mode="lines", name="ideal")
    scatter.update_layout(
        title="Predicted vs actual", xaxis_title="actual", yaxis_title="predicted"
    )
    counts, edges = np.histogram(pred - y, bins=40)
    residuals = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, name="rows"))
    residuals.update_layout(title="Residuals (predicted - actual)", bargap=0)
    return {"predicted_vs_actual": scatter, "residuals": residuals}


def _group_metrics(y: np.ndarray, preds: Predictions, task: str) -> dict[str, float]:
    if task == "regression":
        return {"count": float(y.size), **regression_metrics(y, preds.labels)}
    out = {"count": float(y.size), "accuracy": float(np.mean(preds.labels == y))}
    classes = preds.classes
    if classes is not None and len(classes) == 2:
        positive = classes[-1]
        predicted, actual = preds.labels == positive, y == positive
        out["selection_rate"] = float(predicted.mean())
        out["true_positive_rate"] = float(predicted[actual].mean()) if actual.any() else math.nan
        out["false_positive_rate"] = (
            float(predicted[~actual].mean()) if (~actual).any() else math.nan
        )
    return out


def _fairness(
    y: np.ndarray, preds: Predictions, groups: pd.DataFrame, task: str
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-group metrics and, for binary classifiers, parity gaps (as fairlearn defines them):
    demographic parity difference = max - min selection rate over groups; equalized odds
    difference = the larger of the TPR and FPR ranges over groups."""
    rows, gaps = [], {}
    for feature in groups.columns:
        values = groups[feature].astype("string").fillna("(missing)").to_numpy()
        per_group = {}
        for group in pd.unique(values):
            mask = values == group
            subset = Predictions(preds.labels[mask], None, preds.classes)
            per_group[group] = _group_metrics(y[mask], subset, task)
            rows.append({"feature": feature, "group": group, **per_group[group]})
        table = pd.DataFrame.from_dict(per_group, orient="index")
        if "selection_rate" in table.columns:
            key = _KEY_RE.sub("_", f"fairness.{feature}")
            gaps[f"{key}.demographic_parity_difference"] = _range(table["selection_rate"])
            gaps[f"{key}.equalized_odds_difference"] = max(
                _range(table["true_positive_rate"]), _range(table["false_positive_rate"])
            )
    frame = pd.DataFrame(rows).set_index(["feature", "group"])
    return frame, gaps


def _range(values: pd.Series) -> float:
    finite = values.dropna()
    return float(finite.max() - finite.min()) if len(finite) else math.nan


def _sensitive(data: pd.DataFrame, sensitive_features: Any) -> pd.DataFrame | None:
    if sensitive_features is None:
        return None
    names = [sensitive_features] if isinstance(sensitive_features, str) else sensitive_features
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise v.fail("sensitive_features", "evaluate", "a column name or a list of them", names)
    missing = [n for n in names if n not in data.columns]
    if missing:
        available = [str(c) for c in data.columns]
        raise v.fail(
            "sensitive_features", "evaluate", "columns of data", missing, f"Available: {available}."
        )
    return data[list(names)]


def evaluate(
    model: Any,
    data: Any,
    *,
    target: str,
    sensitive_features: str | Sequence[str] | None = None,
    task: str | None = None,
    run: Any = None,
    log: bool = True,
    trusted: bool | Sequence[str] = False,
    client: TrackingClient | None = None,
) -> EvaluationResult:
    """Measure a model on labelled data and log metrics, curves and fairness to a run.

    Parameters
    ----------
    model
        A fitted model (``predict``, and ``predict_proba`` for probability metrics) or a
        registered model URI (``churn@champion``).
    data
        A DataFrame or a .csv/.parquet file with the features and the target.
    target
        The label column.
    sensitive_features
        Column(s) whose groups get per-group metrics and parity gaps.
    task
        ``"classification"`` or ``"regression"`` (default: from the model, else the target).
    run
        The run to log to (default: the active run, else a new run in experiment
        ``evaluation``).
    log
        Set False to only compute.
    trusted
        For a model URI: passed to :func:`workbench.load_model` (``False``: types trusted by
        default; type names to trust as well; ``True``: the whole file).
    client
        The client whose store holds a model URI or a data reference, and receives the new
        run when neither ``run`` nor an active run is given (default: the current store).
    """
    caller = "evaluate"
    model, uri = _load_model(model, trusted, client)
    frame, source = resolve_data(data, name="data", caller=caller, client=client)
    if not isinstance(target, str) or target not in frame.columns:
        raise v.fail("target", caller, "the name of the label column of data", target)
    labelled = frame[frame[target].notna()]
    kind = _task(model, labelled[target], task)
    y_raw = labelled[target].to_numpy()
    y = y_raw.astype(float) if kind == "regression" else as_labels(y_raw)
    preds = _predict(model, _features(model, labelled, target), y, kind)
    figures: dict[str, Any] = {}
    confusion = None
    if kind == "classification":
        metrics = classification_metrics(y, preds)
        confusion, figures["confusion_matrix"] = _confusion(y, preds)
        if preds.proba is not None:
            metrics["calibration_error"] = expected_calibration_error(y, preds)
            figures.update(_curves(y, preds))
    else:
        metrics = regression_metrics(y, preds.labels)
        figures.update(_regression_figures(y, preds.labels))
    fairness = None
    groups = _sensitive(labelled, sensitive_features)
    if groups is not None:
        fairness, gaps = _fairness(y, preds, groups, kind)
        metrics.update(gaps)
    result = EvaluationResult(metrics, kind, confusion, fairness, figures, None, uri)
    if not log:
        return result
    run_id = _log(result, run, source=source, rows=len(labelled), client=client)
    return EvaluationResult(metrics, kind, confusion, fairness, figures, run_id, uri)


def _log(
    result: EvaluationResult,
    run: Any,
    *,
    source: str,
    rows: int,
    client: TrackingClient | None,
) -> str:
    from workbench.tracking.run import ActiveRun, active_run

    if run is not None and not isinstance(run, ActiveRun):
        raise v.fail("run", "evaluate", "a run handle (from start_run) or None", run)
    target_run = run or active_run()
    if target_run is None:
        with resolve_client(client, "evaluate").start_run(
            EVALUATION_EXPERIMENT, "evaluation"
        ) as new_run:
            _write(new_run, result, source=source, rows=rows)
        return new_run.run_id
    _write(target_run, result, source=source, rows=rows)
    return str(target_run.run_id)


def _write(run: Any, result: EvaluationResult, *, source: str, rows: int) -> None:
    tags = {"workbench.kind": "evaluation", "evaluation.task": result.task}
    tags["evaluation.data"] = source[:500]
    if result.model_uri:
        tags["evaluation.model"] = result.model_uri
    run.set_tags(tags)
    run.log_metrics({k: x for k, x in result.metrics.items() if math.isfinite(x)})
    run.log_metric("evaluation_rows", float(rows))
    for name, figure in result.figures.items():
        run.log_figure(figure, f"evaluation/{name}.json")
    if result.confusion_matrix is not None:
        run.log_table(result.confusion_matrix.reset_index(), "evaluation/confusion_matrix.csv")
    if result.fairness is not None:
        run.log_table(result.fairness.reset_index(), "evaluation/fairness.csv")
    run.log_dict(result.to_dict(), "evaluation/result.json")
