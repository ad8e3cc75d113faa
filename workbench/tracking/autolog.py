"""Automatic logging of scikit-learn training: ``workbench.autolog()``.

After ``workbench.autolog()``, every call of ``fit`` (and of ``fit_transform`` / ``fit_predict``
where an estimator defines its own) on a scikit-learn estimator is recorded as a run, so a notebook
keeps a faithful history of what was trained without any ``log_*`` calls:

* **params**: ``estimator.get_params(deep=True)``, so a pipeline's nested settings such as
  ``logisticregression__C`` are searchable; estimator-valued params are stored by their repr
  (shortened when longer than the param size limit), because that is how scikit-learn shows them.
* **tags**: ``estimator_class`` (dotted path) and ``estimator_name``, to filter runs by model type;
  ``model_format=skops`` when the model was stored, ``model_not_logged`` (the reason) when not.
* **training metrics**, when ``y`` is given, computed on the training data (with the
  ``sample_weight`` passed to ``fit``, if any) so runs are comparable at a glance: classifiers get
  ``training_accuracy_score``, ``training_precision_score``, ``training_recall_score``,
  ``training_f1_score`` (weighted averages), and ``training_log_loss`` / ``training_roc_auc``
  (one-vs-rest when multiclass) when ``predict_proba`` is available; regressors get
  ``training_mean_squared_error``, ``training_root_mean_squared_error``,
  ``training_mean_absolute_error`` and ``training_r2_score``; both get ``training_score`` from
  ``estimator.score``. Clusterers and transformers get params and the model only.
* **the model** as the artifact ``model/model.skops``, written with ``skops.io`` (a format that is
  loaded without executing arbitrary code, unlike pickle).
* **the training data** as dataset inputs (context ``training``, and ``training_target`` for
  ``y``), fingerprinted so you can tell which runs saw the same data.
* **hyperparameter searches** (``GridSearchCV``, ``RandomizedSearchCV``): the run also gets
  ``best_<param>`` params, the ``best_cv_score`` metric and the best estimator as its model, plus
  one child run per candidate (best-ranked first, at most ``max_tuning_runs``) holding that
  candidate's params and its ``cv_results_`` scores and timings as metrics.

Only the outermost ``fit`` is logged: the steps of a pipeline, the clones fitted by a search or a
meta-estimator, and fits run by scikit-learn in worker threads while a logged fit is in progress
are part of that one run. (A consequence: while a logged fit runs, fits started concurrently from
other threads of the process are not logged.) Inside ``with workbench.start_run() as run:``, fits
log into ``run``; otherwise each fit gets its own run, named after the estimator class and ended
``finished``, or ``failed`` if ``fit`` raised (the exception reaches you unchanged).

Logging never breaks training: anything that goes wrong while logging is reported as a warning on
the ``workbench.autolog`` logger and the fit carries on.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import math
import re
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench import _validation as v
from workbench.exceptions import ConflictError, InvalidParameterError
from workbench.tracking.run import ActiveRun, active_run

__all__ = ["autolog"]

logger = logging.getLogger("workbench.autolog")

MODEL_ARTIFACT = "model/model.skops"
PATCHED_METHODS = ("fit", "fit_transform", "fit_predict")
_CALLER = "autolog"
_MARK = "__workbench_autolog__"
_TUNING_METRIC_PREFIXES = ("mean_test_", "std_test_", "rank_test_", "mean_train_", "std_train_")
_TUNING_TIMINGS = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.:/ ]")


@dataclass(frozen=True)
class _Settings:
    log_models: bool
    log_datasets: bool
    log_training_metrics: bool
    max_tuning_runs: int | None
    experiment: str | None


@dataclass(frozen=True)
class _Patch:
    cls: type
    name: str
    saved: Any  # what ``cls.__dict__[name]`` held, or _INHERITED when the method was inherited


_INHERITED: Any = object()
_settings: _Settings | None = None  # None: autologging is off
_patches: list[_Patch] = []
_patch_lock = threading.Lock()
_in_fit: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "workbench_autolog_in_fit", default=False
)
_logging_threads: dict[int, int] = {}  # thread id -> outermost logged fits in progress there
_threads_lock = threading.Lock()


def autolog(
    *,
    disable: bool = False,
    log_models: bool = True,
    log_datasets: bool = True,
    log_training_metrics: bool = True,
    max_tuning_runs: int | None = 50,
    experiment: str | None = None,
) -> None:
    """Log every scikit-learn ``fit`` as a run (see the module docs for what is recorded).

    Calling it again replaces the settings; ``autolog(disable=True)`` puts scikit-learn's
    methods back exactly as they were.

    Parameters
    ----------
    disable
        Turn autologging off and restore the original methods.
    log_models
        Store the fitted model as ``model/model.skops``.
    log_datasets
        Record the training data (``X``, and ``y`` when given) as dataset inputs.
    log_training_metrics
        Compute and log metrics of the fitted model on its training data.
    max_tuning_runs
        At most this many child runs (best-ranked candidates first) for ``GridSearchCV`` and
        ``RandomizedSearchCV``; ``None`` logs every candidate, ``0`` none.
    experiment
        Experiment of the runs autolog starts (default: workbench's default experiment).
        Fits inside ``with workbench.start_run()`` log into that run instead.
    """
    global _settings
    for name, value in (
        ("disable", disable),
        ("log_models", log_models),
        ("log_datasets", log_datasets),
        ("log_training_metrics", log_training_metrics),
    ):
        if not isinstance(value, bool):
            raise v.fail(name, _CALLER, "True or False", value)
    if max_tuning_runs is not None and (
        isinstance(max_tuning_runs, bool)
        or not isinstance(max_tuning_runs, int)
        or max_tuning_runs < 0
    ):
        raise v.fail(
            "max_tuning_runs",
            _CALLER,
            "an int >= 0 or None",
            max_tuning_runs,
            "Use None to log every candidate, 0 to log none.",
        )
    if experiment is not None:
        v.check_name(experiment, _CALLER, name="experiment")
    with _patch_lock:
        if disable:
            _settings = None
            _unpatch_all()
            return
        _settings = _Settings(
            log_models=log_models,
            log_datasets=log_datasets,
            log_training_metrics=log_training_metrics,
            max_tuning_runs=max_tuning_runs,
            experiment=experiment,
        )
        if not _patches:
            _patch_all()


# -- patching -------------------------------------------------------------------------------


def _estimator_classes() -> list[type]:
    """Every public scikit-learn estimator class, plus the meta-estimators autolog documents."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # importing every module may warn about deprecations
        classes = [cls for _, cls in all_estimators()]
    # all_estimators() lists these already; named so autolog's promise does not rest on it
    return list(dict.fromkeys([*classes, Pipeline, GridSearchCV, RandomizedSearchCV]))


def _original(cls: type, name: str) -> Any:
    """What ``cls.name`` resolves to without autolog's wrappers (None if it does not exist)."""
    saved = {(p.cls, p.name): p.saved for p in _patches}
    for klass in cls.__mro__:
        if name in klass.__dict__:
            raw = saved.get((klass, name), klass.__dict__[name])
            return None if raw is _INHERITED else raw
    return None


def _patch_all() -> None:
    for cls in _estimator_classes():
        for name in PATCHED_METHODS:
            own = name in cls.__dict__
            if name != "fit" and not own:
                continue  # inherited fit_transform / fit_predict call the (patched) fit
            if own and getattr(cls.__dict__[name], _MARK, False):
                continue  # already patched
            raw = _original(cls, name)
            if raw is None or getattr(raw, _MARK, False):
                continue
            replacement = _wrap_attribute(raw)
            if replacement is None:
                continue
            _patches.append(_Patch(cls, name, cls.__dict__[name] if own else _INHERITED))
            setattr(cls, name, replacement)


def _unpatch_all() -> None:
    while _patches:
        patch = _patches.pop()
        if patch.saved is _INHERITED:
            if patch.name in patch.cls.__dict__:
                delattr(patch.cls, patch.name)
        else:
            setattr(patch.cls, patch.name, patch.saved)


def _wrap_attribute(raw: Any) -> Any:
    """A logging replacement for a class attribute: a function or an ``available_if`` method."""
    if isinstance(raw, types.FunctionType):
        return _wrap_function(raw)
    fn, check = getattr(raw, "fn", None), getattr(raw, "check", None)
    if isinstance(fn, types.FunctionType) and callable(check):
        # scikit-learn's ``available_if`` descriptor: keep the availability check, wrap the method
        replacement = type(raw)(_wrap_function(fn), check, getattr(raw, "attribute_name", None))
        setattr(replacement, _MARK, True)
        return replacement
    return None  # e.g. a property that hides the method: leave it alone


def _wrap_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def autologged(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _should_log():
            return fn(self, *args, **kwargs)
        return _logged_fit(fn, self, args, kwargs)

    setattr(autologged, _MARK, True)
    return autologged


def _should_log() -> bool:
    if _settings is None or _in_fit.get():
        return False
    me = threading.get_ident()
    with _threads_lock:
        # A fit in a fresh context while another thread runs a logged fit is (almost always) a
        # scikit-learn worker thread, e.g. IsolationForest(n_jobs=4): part of that fit.
        return not any(ident != me for ident in _logging_threads)


# -- one logged fit -------------------------------------------------------------------------


@contextlib.contextmanager
def _guard(what: str, estimator: Any) -> Iterator[None]:
    """Run logging code: warnings it raises are silenced, errors become a logged warning."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except Exception as exc:
        logger.warning(
            "workbench.autolog could not log %s of %s: %s: %s",
            what,
            type(estimator).__name__,
            type(exc).__name__,
            exc,
        )


def _logged_fit(
    fn: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    settings = _settings
    if settings is None:  # disabled meanwhile by another thread
        return fn(estimator, *args, **kwargs)
    token = _in_fit.set(True)
    me = threading.get_ident()
    with _threads_lock:
        _logging_threads[me] = _logging_threads.get(me, 0) + 1
    try:
        run: ActiveRun | None = active_run()
        owned = False
        if run is None:
            with _guard("a new run", estimator):
                from workbench.tracking.client import client_for

                run = client_for().start_run(
                    experiment=settings.experiment, name=type(estimator).__name__, parent=None
                )
                owned = True
        X = y = sample_weight = None
        with _guard("the fit's arguments", estimator):
            X, y, sample_weight = _fit_data(fn, args, kwargs)
            if run is not None and run.status == "running":
                _log_before_fit(run, estimator, X, y, settings)
        try:
            result = fn(estimator, *args, **kwargs)
        except BaseException as exc:
            if owned and run is not None:
                with _guard("the run's end", estimator):
                    if isinstance(exc, KeyboardInterrupt):
                        run.end("killed", "Interrupted (KeyboardInterrupt).")
                    else:
                        run.end("failed", f"{type(exc).__name__}: {exc}")
            raise
        if run is not None and run.status == "running":
            with _guard("the fit's results", estimator):
                _log_after_fit(run, estimator, X, y, sample_weight, settings)
        if owned and run is not None:
            with _guard("the run's end", estimator):
                run.end()
        return result
    finally:
        _in_fit.reset(token)
        with _threads_lock:
            count = _logging_threads.pop(me, 1) - 1
            if count:
                _logging_threads[me] = count


@functools.lru_cache(maxsize=1024)
def _argument_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return ()


def _fit_data(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` as passed to ``fn``: X is the first argument, y the second
    when it is named ``y``/``Y``."""
    names = _argument_names(fn)[1:]  # without self
    bound: dict[str, Any] = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    x_name = names[0] if names else "X"
    y_name = names[1] if len(names) > 1 and names[1] in ("y", "Y") else "y"
    return bound.get(x_name), bound.get(y_name), bound.get("sample_weight")


def _log_before_fit(run: ActiveRun, estimator: Any, X: Any, y: Any, settings: _Settings) -> None:
    with _guard("the params", estimator):
        _log_params(run, estimator.get_params(deep=True), estimator)
    with _guard("the tags", estimator):
        cls = type(estimator)
        run.set_tags(
            {
                "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
                "estimator_name": cls.__name__,
            }
        )
    if settings.log_datasets:
        with _guard("the training data", estimator):
            _log_dataset(run, X, "training", "training")
        if y is not None:
            with _guard("the training target", estimator):
                _log_dataset(run, y, "training_target", "training_target")


def _log_after_fit(
    run: ActiveRun, estimator: Any, X: Any, y: Any, sample_weight: Any, settings: _Settings
) -> None:
    search = _is_search(estimator)
    if search:
        with _guard("the best params", estimator):
            best = getattr(estimator, "best_params_", None)
            if isinstance(best, Mapping):
                _log_params(run, {f"best_{k}": value for k, value in best.items()}, estimator)
        with _guard("the best CV score", estimator):
            best_score = getattr(estimator, "best_score_", None)
            if best_score is not None:
                _log_metrics(run, {"best_cv_score": best_score})
    if settings.log_training_metrics and y is not None:
        with _guard("the training metrics", estimator):
            _log_metrics(run, _training_metrics(estimator, X, y, sample_weight))
    if settings.log_models:
        model = getattr(estimator, "best_estimator_", None) if search else estimator
        with _guard("the model", estimator):
            _log_model(run, model, estimator)
    if search and settings.max_tuning_runs != 0:
        with _guard("the tuning candidates", estimator):
            _log_candidates(run, estimator, settings.max_tuning_runs)


def _is_search(estimator: Any) -> bool:
    from sklearn.model_selection._search import BaseSearchCV

    return isinstance(estimator, BaseSearchCV) and hasattr(estimator, "cv_results_")


# -- what gets logged -----------------------------------------------------------------------


def _param_key(key: Any) -> str:
    """A param name workbench accepts: unsafe characters become ``_``, reserved names get one."""
    text = _KEY_UNSAFE.sub("_", str(key)).strip() or "_"
    if text.startswith(v.RESERVED_PREFIX):
        text = f"_{text}"
    return text[: v.MAX_NAME_LENGTH]


def _param_value(key: str, value: Any) -> Any:
    """``value`` if workbench stores it as a param as is, else a string that fits."""
    if isinstance(value, np.generic):
        value = value.item()  # np.float64 is a float whose repr is 'np.float64(...)'
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        value = f"{getattr(value, '__module__', None) or ''}.{value.__qualname__}".lstrip(".")
    try:
        v.param_to_record(key, value, _CALLER)
        return value
    except InvalidParameterError:
        text = value if isinstance(value, str) else repr(value)
        limit = v.MAX_PARAM_VALUE_LENGTH
        return text if len(text) <= limit else text[: limit - 3] + "..."


def _log_params(run: ActiveRun, params: Mapping[str, Any], estimator: Any) -> None:
    conflicts = []
    for key, value in params.items():
        name = _param_key(key)
        try:
            run.log_param(name, _param_value(name, value))
        except ConflictError:
            conflicts.append(name)  # e.g. a second, different fit inside one user run
    if conflicts:
        logger.warning(
            "workbench.autolog kept the earlier values of params %s in run %r (params are "
            "immutable); fit each %s in its own run to record both.",
            conflicts,
            run.run_id,
            type(estimator).__name__,
        )


def _log_metrics(run: ActiveRun, metrics: Mapping[str, Any]) -> None:
    finite = {}
    for key, value in metrics.items():
        number = float(value)
        if math.isfinite(number):
            finite[key] = number
        else:
            logger.debug("workbench.autolog skipped metric %s: not finite (%r)", key, value)
    if finite:
        run.log_metrics(finite)


def _log_dataset(run: ActiveRun, data: Any, name: str, context: str) -> None:
    import pandas as pd

    if isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
        run.log_input(data, name=name, context=context)
    else:
        logger.debug("workbench.autolog does not record %s data of type %s", name, type(data))


def _attempt(metrics: dict[str, float], key: str, compute: Callable[[], Any]) -> None:
    try:
        metrics[key] = float(compute())
    except Exception as exc:
        logger.debug("workbench.autolog skipped metric %s: %s: %s", key, type(exc).__name__, exc)


def _training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any) -> dict[str, float]:
    from sklearn import metrics as m
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    weights: dict[str, Any] = {} if sample_weight is None else {"sample_weight": sample_weight}
    classifier, regressor = is_classifier(estimator), is_regressor(estimator)
    if (classifier or regressor) and hasattr(estimator, "predict"):
        y_pred = estimator.predict(X)
        if classifier:
            scores = {"zero_division": 0, "average": "weighted", **weights}
            _attempt(out, "training_accuracy_score", lambda: m.accuracy_score(y, y_pred, **weights))
            for name, metric in (
                ("precision_score", m.precision_score),
                ("recall_score", m.recall_score),
                ("f1_score", m.f1_score),
            ):
                _attempt(out, f"training_{name}", functools.partial(metric, y, y_pred, **scores))
            if hasattr(estimator, "predict_proba"):
                _proba_metrics(out, estimator, X, y, weights)
        else:
            for name, metric in (
                ("mean_squared_error", m.mean_squared_error),
                ("root_mean_squared_error", m.root_mean_squared_error),
                ("mean_absolute_error", m.mean_absolute_error),
                ("r2_score", m.r2_score),
            ):
                _attempt(out, f"training_{name}", functools.partial(metric, y, y_pred, **weights))
    if hasattr(estimator, "score"):
        _attempt(out, "training_score", lambda: estimator.score(X, y, **weights))
    return out


def _proba_metrics(
    out: dict[str, float], estimator: Any, X: Any, y: Any, weights: Mapping[str, Any]
) -> None:
    from sklearn import metrics as m

    try:
        proba = estimator.predict_proba(X)
    except Exception as exc:
        logger.debug("workbench.autolog skipped probability metrics: %s", exc)
        return
    labels = getattr(estimator, "classes_", None)
    _attempt(out, "training_log_loss", lambda: m.log_loss(y, proba, labels=labels, **weights))
    if getattr(proba, "ndim", 0) == 2 and proba.shape[1] == 2:
        _attempt(out, "training_roc_auc", lambda: m.roc_auc_score(y, proba[:, 1], **weights))
    else:
        _attempt(
            out,
            "training_roc_auc",
            lambda: m.roc_auc_score(y, proba, multi_class="ovr", labels=labels, **weights),
        )


def _log_model(run: ActiveRun, model: Any, estimator: Any) -> None:
    if model is None:
        run.set_tag("model_not_logged", "the search has no best_estimator_ (refit=False)")
        return
    try:
        import skops.io

        data = skops.io.dumps(model)
    except Exception as exc:
        reason = f"skops cannot serialize {type(model).__name__}: {type(exc).__name__}: {exc}"
        run.set_tag("model_not_logged", reason[: v.MAX_TAG_VALUE_LENGTH])
        logger.warning("workbench.autolog did not log the model: %s", reason)
        return
    run.log_bytes(data, MODEL_ARTIFACT)
    run.set_tag("model_format", "skops")


def _rank_key(search: Any, results: Mapping[str, Any]) -> str | None:
    refit = getattr(search, "refit", None)
    if isinstance(refit, str) and f"rank_test_{refit}" in results:
        return f"rank_test_{refit}"
    if "rank_test_score" in results:
        return "rank_test_score"
    return next((k for k in results if k.startswith("rank_test_")), None)


def _log_candidates(parent: ActiveRun, search: Any, limit: int | None) -> None:
    results: Mapping[str, Any] = search.cv_results_
    candidates = list(results["params"])
    rank_key = _rank_key(search, results)
    order = list(range(len(candidates)))
    if rank_key is not None:
        order.sort(key=lambda i: (float(results[rank_key][i]), i))
    keys = [k for k in results if k.startswith(_TUNING_METRIC_PREFIXES) or k in _TUNING_TIMINGS]
    client = parent._client  # the parent's store, also when it is not the configured one
    for index in order if limit is None else order[:limit]:
        child = client.start_run(
            experiment=parent.experiment,
            name=f"{type(search).__name__}-candidate-{index}",
            parent=parent,
        )
        try:
            with _guard(f"candidate {index}", search):
                _log_params(child, candidates[index], search)
                _log_metrics(child, {key: results[key][index] for key in keys})
        finally:
            child.end()
