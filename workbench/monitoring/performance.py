"""Model performance on reference vs current data, measured or estimated before labels arrive.

* :func:`classification_metrics` / :func:`regression_metrics`: the metrics a drift report and
  :func:`workbench.evaluate` show, on scikit-learn's implementations.
* :func:`estimate_performance`: confidence-based performance estimation, in the spirit of
  NannyML's CBPE. Predicted probabilities are calibrated on the labelled reference (isotonic
  regression per class); on unlabelled current data each row's calibrated probability of the
  predicted class is the chance the prediction is right, so their mean is the expected accuracy,
  and the expected confusion matrix (sums of calibrated probabilities) gives expected precision,
  recall and F1. The estimate is only as good as the calibration: it holds under covariate
  shift (P(y | x) unchanged), not under concept drift.

``prediction`` names the model's output column(s): one column of predicted labels or values; for
a binary classifier, one column of positive-class probabilities (values in [0, 1]); or a list of
probability columns, one per class in sorted class order (or a dict class -> column).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench.exceptions import InvalidParameterError

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "Predictions",
    "as_labels",
    "classification_metrics",
    "estimate_performance",
    "infer_task",
    "performance_table",
    "read_predictions",
    "regression_metrics",
]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2", "mape")
_MAX_CLASSES = 20  # integer targets with more distinct values than this are regression
PredictionSpec = str | Sequence[str] | Mapping[Any, str]


def infer_task(target: pd.Series) -> str:
    """``"classification"`` for labels (text, bool, or at most 20 distinct integers), else
    ``"regression"``."""
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    values = target.dropna().to_numpy(dtype=float)
    if values.size and np.all(np.mod(values, 1) == 0) and np.unique(values).size <= _MAX_CLASSES:
        return "classification"
    return "regression"


@dataclass(frozen=True)
class Predictions:
    """Model outputs read from a frame: labels (or values) and class probabilities if any."""

    labels: np.ndarray
    proba: np.ndarray | None  # shape (n, len(classes)), rows sum to 1
    classes: np.ndarray | None


def as_labels(values: Any) -> np.ndarray:
    """Class labels in one comparable type: floats when every label is a number (or bool),
    else strings; so 1, 1.0 and True compare equal across target and prediction columns."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    array = array.astype(object)
    if all(isinstance(x, (int, float, bool, np.number, np.bool_)) for x in array):
        return array.astype(np.float64)
    return np.asarray([str(x) for x in array], dtype=object)


def _class_columns(spec: PredictionSpec, classes: np.ndarray) -> list[str] | None:
    if isinstance(spec, Mapping):
        return [spec[c] for c in classes] if set(spec) >= set(classes.tolist()) else None
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        return list(spec) if len(spec) == len(classes) else None
    return None


def read_predictions(
    frame: pd.DataFrame, prediction: PredictionSpec, *, task: str, classes: np.ndarray | None
) -> Predictions:
    """Labels and probabilities from ``frame`` as ``prediction`` describes (module docstring)."""
    caller = "read_predictions"
    if task == "regression":
        if not isinstance(prediction, str):
            raise v.fail("prediction", caller, "one column name for a regression", prediction)
        return Predictions(frame[prediction].to_numpy(dtype=float), None, None)
    assert classes is not None
    columns = _class_columns(prediction, classes)
    if columns is not None:
        proba = frame[columns].to_numpy(dtype=float)
    elif isinstance(prediction, str):
        column = frame[prediction]
        values = column.to_numpy()
        if (
            len(classes) == 2
            and pd.api.types.is_float_dtype(column)
            and np.nanmin(values, initial=0.0) >= 0.0
            and np.nanmax(values, initial=1.0) <= 1.0
            and not np.isin(values, classes).all()
        ):
            proba = np.column_stack([1.0 - values, values])
        else:
            return Predictions(as_labels(values), None, classes)
    else:
        raise v.fail(
            "prediction",
            caller,
            f"a label column, a probability column, or {len(classes)} probability columns "
            f"(one per class of {classes.tolist()})",
            prediction,
        )
    totals = proba.sum(axis=1, keepdims=True)
    proba = np.divide(
        proba, totals, out=np.full_like(proba, 1.0 / proba.shape[1]), where=totals > 0
    )
    return Predictions(classes[np.argmax(proba, axis=1)], proba, classes)


def classification_metrics(y_true: np.ndarray, predictions: Predictions) -> dict[str, float]:
    """accuracy, precision, recall, F1 (binary: of the larger class label; multiclass: macro),
    ROC AUC and log loss (when probabilities are known; NaN when one class only is present)."""
    from sklearn import metrics

    classes = predictions.classes
    assert classes is not None
    y_pred = predictions.labels
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos_label = classes[-1] if binary else 1
    common: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        common["pos_label"] = pos_label
    else:
        common["labels"] = classes
    out = {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "precision": float(metrics.precision_score(y_true, y_pred, **common)),
        "recall": float(metrics.recall_score(y_true, y_pred, **common)),
        "f1": float(metrics.f1_score(y_true, y_pred, **common)),
        "roc_auc": math.nan,
        "log_loss": math.nan,
    }
    proba = predictions.proba
    # Probabilities only score labels the model knows: a label it never learnt leaves ROC AUC
    # and log loss undefined (NaN) rather than failing the whole evaluation.
    present = np.unique(y_true)
    if proba is not None and set(present.tolist()) <= set(np.asarray(classes).tolist()):
        if present.size >= 2:
            if binary:
                out["roc_auc"] = float(metrics.roc_auc_score(y_true == pos_label, proba[:, 1]))
            elif present.size == len(classes):
                out["roc_auc"] = float(
                    metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
                )
        out["log_loss"] = float(metrics.log_loss(y_true, proba, labels=classes))
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R² (NaN below 2 rows or for a constant target) and MAPE."""
    from sklearn import metrics

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    constant = y_true.size < 2 or bool(np.all(y_true == y_true[0]))
    return {
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "rmse": float(math.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "r2": math.nan if constant else float(metrics.r2_score(y_true, y_pred)),
        "mape": float(metrics.mean_absolute_percentage_error(y_true, y_pred)),
    }


def _classes(*targets: pd.Series | None) -> np.ndarray:
    values = [as_labels(t.dropna().unique()) for t in targets if t is not None]
    return np.unique(np.concatenate(values)) if values else np.asarray([])


def _labelled(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    return frame[frame[target].notna()] if target in frame.columns else frame.iloc[:0]


def _measured(
    frame: pd.DataFrame, target: str, prediction: PredictionSpec, task: str, classes: np.ndarray
) -> dict[str, float]:
    if task == "regression":
        preds = read_predictions(frame, prediction, task=task, classes=None)
        return regression_metrics(frame[target].to_numpy(dtype=float), preds.labels)
    preds = read_predictions(frame, prediction, task=task, classes=classes)
    return classification_metrics(as_labels(frame[target].to_numpy()), preds)


def _calibrators(proba: np.ndarray, y_true: np.ndarray, classes: np.ndarray) -> list[Any]:
    from sklearn.isotonic import IsotonicRegression

    fitted = []
    for index, label in enumerate(classes):
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        fitted.append(model.fit(proba[:, index], (y_true == label).astype(float)))
    return fitted


def _expected_metrics(calibrated: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Expected accuracy / precision / recall / F1 from calibrated class probabilities."""
    n, k = calibrated.shape
    chosen = calibrated[np.arange(n), predicted]
    per_class = []
    for j in range(k):
        mine = predicted == j
        tp = float(calibrated[mine, j].sum())
        fp = float(mine.sum()) - tp
        fn = float(calibrated[~mine, j].sum())
        per_class.append((tp, fp, fn))
    if k == 2:
        per_class = per_class[1:]  # binary: the positive (larger) class

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    precision = [tp / (tp + fp) if tp + fp else 0.0 for tp, fp, _ in per_class]
    recall = [tp / (tp + fn) if tp + fn else 0.0 for tp, _, fn in per_class]
    f1 = [2 * tp / (2 * tp + fp + fn) if tp else 0.0 for tp, fp, fn in per_class]
    return {
        "accuracy": float(chosen.mean()),
        "precision": mean(precision),
        "recall": mean(recall),
        "f1": mean(f1),
    }


def estimate_performance(
    reference: Any,
    current: Any,
    *,
    target: str,
    prediction: PredictionSpec,
) -> pd.DataFrame:
    """Expected classifier performance on ``current`` before its labels arrive (CBPE-like).

    Parameters
    ----------
    reference
        Labelled data (a DataFrame or file) with the model's probabilities, used to calibrate.
    current
        Data with the same probability columns; labels are not needed (if present, the
        measured metrics are shown next to the estimates).
    target
        The label column of ``reference``.
    prediction
        Probability column(s): for a binary classifier, one column of positive-class
        probabilities; otherwise one column per class in sorted class order (or a dict).

    Returns
    -------
    DataFrame indexed by metric (accuracy, precision, recall, f1) with columns ``reference``
    (measured on the reference), ``estimated`` (expected on current) and ``realized``
    (measured on current when it has labels, else NaN).
    """
    from workbench.monitoring._sources import resolve_data

    caller = "estimate_performance"
    ref, _ = resolve_data(reference, name="reference", caller=caller)
    cur, _ = resolve_data(current, name="current", caller=caller)
    labelled = _labelled(ref, target)
    if labelled.empty:
        raise v.fail("target", caller, "a label column of the reference with labels", target)
    classes = _classes(labelled[target])
    ref_preds = read_predictions(labelled, prediction, task="classification", classes=classes)
    if ref_preds.proba is None:
        raise v.fail(
            "prediction",
            caller,
            "probability column(s): estimation needs the model's confidence",
            prediction,
        )
    y_ref = as_labels(labelled[target].to_numpy())
    calibrators = _calibrators(ref_preds.proba, y_ref, classes)
    cur_preds = read_predictions(cur, prediction, task="classification", classes=classes)
    assert cur_preds.proba is not None
    calibrated = np.column_stack(
        [model.predict(cur_preds.proba[:, j]) for j, model in enumerate(calibrators)]
    )
    totals = calibrated.sum(axis=1, keepdims=True)
    calibrated = np.divide(
        calibrated, totals, out=np.full_like(calibrated, 1 / len(classes)), where=totals > 0
    )
    predicted = np.argmax(cur_preds.proba, axis=1)
    estimated = _expected_metrics(calibrated, predicted)
    measured_ref = classification_metrics(y_ref, ref_preds)
    cur_labelled = _labelled(cur, target)
    realized: dict[str, float] = {}
    if not cur_labelled.empty:
        realized = _measured(cur_labelled, target, prediction, "classification", classes)
    rows = {
        metric: {
            "reference": measured_ref[metric],
            "estimated": estimated[metric],
            "realized": realized.get(metric, math.nan),
        }
        for metric in estimated
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "metric"
    return frame


def performance_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    target: str | None,
    prediction: PredictionSpec | None,
) -> tuple[pd.DataFrame | None, str | None]:
    """Metrics on reference vs current for a drift report, and the task; ``(None, None)``
    when the report has no target or no prediction. Current data without labels gets CBPE
    estimates when probabilities are available."""
    if target is None or prediction is None or target not in reference.columns:
        return None, None
    ref = _labelled(reference, target)
    if ref.empty:
        return None, None
    task = infer_task(ref[target])
    cur = _labelled(current, target)
    classes = (
        _classes(ref[target], cur[target] if not cur.empty else None)
        if task == "classification"
        else np.asarray([])
    )
    rows: dict[str, dict[str, float]] = {}
    measured_ref = _measured(ref, target, prediction, task, classes)
    measured_cur = _measured(cur, target, prediction, task, classes) if not cur.empty else {}
    for metric, value in measured_ref.items():
        rows[metric] = {
            "reference": value,
            "current": measured_cur.get(metric, math.nan),
            "estimated": math.nan,
        }
    if task == "classification" and cur.empty:
        try:
            estimate = estimate_performance(ref, current, target=target, prediction=prediction)
        except InvalidParameterError:
            estimate = None  # labels only, no probabilities: nothing to estimate from
        if estimate is not None:
            for metric in estimate.index:
                rows[metric]["estimated"] = float(estimate.loc[metric, "estimated"])
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "metric"
    return frame, task
