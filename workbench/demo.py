"""``workbench demo``: fill the configured store with the whole lifecycle, once, in about a minute.

Uses scikit-learn's bundled breast-cancer data (no network). Each step leaves something to look
at in the notebook sidebar and the dashboard: training curves logged by hand, autologged fits and
a grid search, queries, an Optuna sweep, the champion registered from its best trial, a
deployment that receives recalibrated sensor data, a drift report on what it received, and one
step of the closed loop (drift, retrain, gate, promote).

**Idempotent.** Every step first looks for what it makes, by the demo's own names (experiment
``demo-breast-cancer``, sweep ``demo-logreg-C``, model ``breast-cancer``, deployment
``demo-breast-cancer``, report ``demo: recalibrated sensors``), and skips when it is already in
the store: running the demo again adds nothing. A step interrupted half-way is completed (the
sweep runs only its missing trials; a training curve is logged only if no finished run has its
name). The printed step counter comes from :data:`STEPS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import workbench as wb

__all__ = [
    "DEPLOYMENT",
    "EXPERIMENT",
    "MODEL",
    "REPORT",
    "STEPS",
    "SWEEP",
    "DemoSummary",
    "run_demo",
]

EXPERIMENT = "demo-breast-cancer"
SWEEP = "demo-logreg-C"
MODEL = "breast-cancer"
DEPLOYMENT = "demo-breast-cancer"
REPORT = "demo: recalibrated sensors"
TARGET = "target"
ALPHAS = (1e-4, 1e-3, 1e-2)
N_TRIALS = 15
#: Production traffic: the sensors behind the first 16 of the 30 features are recalibrated.
N_SHIFTED, SHIFT = 16, 1.5


@dataclass
class DemoSummary:
    """What the demo's steps did: one line per step, and what the store holds afterwards."""

    lines: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    runs: int = 0
    duration_s: float = 0.0


@dataclass
class _Data:
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    shifted: pd.DataFrame

    @classmethod
    def load(cls) -> _Data:
        data = load_breast_cancer(as_frame=True)
        x_train, x_test, y_train, y_test = train_test_split(
            data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
        )
        shifted = x_test.copy()
        for column in list(shifted.columns)[:N_SHIFTED]:
            shifted[column] = shifted[column] * SHIFT
        return cls(x_train, x_test, y_train, y_test, shifted)


def _say(message: str) -> None:
    print(f"[workbench demo] {message}", flush=True)


def _finished(experiment: str, filter: str | None = None) -> pd.DataFrame:  # noqa: A002
    runs = wb.search_runs(experiment, filter=filter, max_results=None)
    return runs[runs["status"] == "finished"] if len(runs) else runs


def _logreg(c: float) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))


# -- the steps: each returns what it did (or found) in one line ---------------------------------


def _training_curves(d: _Data) -> str:
    done = set(_finished(EXPERIMENT, "tags.kind = 'curve'").get("name", []))
    todo = [alpha for alpha in ALPHAS if f"sgd-alpha-{alpha:g}" not in done]
    scaler = StandardScaler().fit(d.x_train)
    train, test = scaler.transform(d.x_train), scaler.transform(d.x_test)
    for alpha in todo:
        with wb.start_run(EXPERIMENT, f"sgd-alpha-{alpha:g}", tags={"kind": "curve"}) as run:
            run.log_params({"model": "SGDClassifier", "alpha": alpha, "loss": "log_loss"})
            run.log_input(d.x_train, name="breast-cancer-train")
            model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
            for epoch in range(30):
                model.partial_fit(train, d.y_train, classes=np.array([0, 1]))
                run.log_metrics(
                    {
                        "train_log_loss": log_loss(d.y_train, model.predict_proba(train)),
                        "test_accuracy": accuracy_score(d.y_test, model.predict(test)),
                    },
                    step=epoch,
                )
            figure = go.Figure(go.Histogram(x=model.predict_proba(test)[:, 1], nbinsx=20))
            figure.update_layout(title=f"Predicted probability, alpha={alpha:g}")
            run.log_figure(figure, "probabilities.json")
            run.log_table(
                pd.DataFrame({"y_true": d.y_test.to_numpy(), "y_pred": model.predict(test)}),
                "predictions.parquet",
            )
    if not todo:
        return _AlreadyDone(f"{len(ALPHAS)} curve runs")
    return f"{len(todo)} runs with 30 steps of train_log_loss and test_accuracy each"


def _autologged(d: _Data) -> str:
    # The grid search is fitted last: once its run finished, so had the two before it.
    autologged = _finished(EXPERIMENT, "tags.estimator_name IS NOT NULL")
    if "GridSearchCV" in set(autologged.get("name", [])):
        return _AlreadyDone(f"{len(autologged)} autologged runs")
    wb.autolog(experiment=EXPERIMENT)
    try:
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(d.x_train, d.y_train)
        RandomForestClassifier(n_estimators=50, random_state=0).fit(d.x_train, d.y_train)
        GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
            cv=3,
        ).fit(d.x_train, d.y_train)
    finally:
        wb.autolog(disable=True)
    return (
        "3 fits, each a run with its params, training metrics, model and data; the grid "
        "search's 4 candidates nested under it"
    )


def _queries(d: _Data) -> str:
    best = wb.search_runs(
        EXPERIMENT,
        filter="tags.kind = 'curve' AND metrics.test_accuracy > 0.9",
        order_by="metrics.test_accuracy DESC",
    )
    columns = ["name", "params.alpha", "metrics.test_accuracy", "metrics.train_log_loss"]
    print(best[columns].to_string(index=False))
    print(
        wb.sql(
            """SELECT r.name, count(*) AS points, round(min(h.value), 4) AS best_loss
               FROM runs r JOIN metric_history h USING (run_id)
               WHERE r.experiment = $experiment AND h.key = 'train_log_loss'
               GROUP BY r.name ORDER BY best_loss""",
            experiment=EXPERIMENT,
        ).to_string(index=False)
    )
    return "the filter language (search_runs) and SQL over the store's views (sql)"


def _sweep(d: _Data) -> str:
    def objective(trial: Any) -> float:
        model = _logreg(trial.suggest_float("C", 1e-3, 1e2, log=True)).fit(d.x_train, d.y_train)
        accuracy = float(accuracy_score(d.y_test, model.predict(d.x_test)))
        wb.log_metric("test_accuracy", accuracy)  # the trial's run is the active run
        return accuracy

    before = _trials_done()
    if before < N_TRIALS:
        import optuna

        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial is too many here
        try:
            # n_trials is a total: after an interruption only the missing trials run.
            wb.sweep(
                objective,
                n_trials=N_TRIALS,
                experiment=EXPERIMENT,
                name=SWEEP,
                direction="maximize",
                seed=0,
                progress=False,
            )
        finally:
            optuna.logging.set_verbosity(verbosity)
    best = wb.load_sweep(SWEEP).best_run
    found = f"best trial C={best.params['C']:.4g}, test accuracy {best.metrics['objective']:.3f}"
    if before >= N_TRIALS:
        return _AlreadyDone(f"sweep {SWEEP} ({N_TRIALS} trials, {found})")
    return f"{N_TRIALS - before} trials, each a run; {found}"


def _trials_done() -> int:
    sweeps = wb.list_sweeps()
    if not len(sweeps) or SWEEP not in set(sweeps["name"]):
        return 0
    return int(wb.load_sweep(SWEEP).counts().get("complete", 0))


def _register(d: _Data) -> str:
    try:
        version = wb.get_model_version(f"{MODEL}@champion")
    except wb.NotFoundError:
        pass
    else:
        return _AlreadyDone(f"{MODEL} (champion: version {version.version})")
    best = wb.load_sweep(SWEEP).best_run
    c = float(best.params["C"])
    # The champion's run keeps its training data (labels included): the reference its drift
    # reports and its monitor compare new data with.
    with wb.start_run(EXPERIMENT, "champion", tags={"kind": "champion"}) as run:
        run.log_params({"C": c, "sweep": SWEEP, "trial_run": best.run_id})
        run.log_input(d.x_train.assign(**{TARGET: d.y_train}), name="breast-cancer-train")
        model = _logreg(c).fit(d.x_train, d.y_train)
        run.log_metric("test_accuracy", float(accuracy_score(d.y_test, model.predict(d.x_test))))
    version = wb.register_model(
        MODEL,
        run=run,
        model=model,
        input_example=d.x_train.head(5),
        description=f"Logistic regression with the C of sweep {SWEEP}'s best trial",
    )
    wb.set_alias(MODEL, "champion", version.version, reason=f"best trial of {SWEEP}")
    return f"{MODEL} version {version.version} is @champion (C={c:.4g})"


def _deploy(d: _Data) -> str:
    deployments = wb.list_deployments()
    if len(deployments) and DEPLOYMENT in set(deployments["deployment_id"]):
        n = len(wb.read_request_log(DEPLOYMENT))
        return _AlreadyDone(f"deployment {DEPLOYMENT} ({n} rows scored)")
    with wb.deploy(f"{MODEL}@champion", deployment=DEPLOYMENT) as server:
        for start in range(0, len(d.shifted), 50):  # production traffic, in a few requests
            server.predict(d.shifted.iloc[start : start + 50])
        url = server.url
    wb.flush()
    return (
        f"served {MODEL}@champion at {url} (MLflow-compatible /invocations), sent it "
        f"{len(d.shifted)} rows of recalibrated sensor data, stopped it; every row is in its "
        "request log"
    )


def _drift(d: _Data) -> str:
    if REPORT in set(_finished("drift-reports").get("name", [])):
        return _AlreadyDone(f"drift report {REPORT!r}")
    requests = wb.read_request_log(DEPLOYMENT)[list(d.x_train.columns)]
    report = wb.drift_report(d.x_train, requests, name=REPORT, progress=False)
    report.log()
    drifted = report.columns[report.columns["drifted"]].index.tolist()
    return (
        f"dataset drift {report.dataset_drift}: {len(drifted)} of {len(report.columns)} columns "
        f"of what the deployment received drifted (e.g. {', '.join(drifted[:2])})"
    )


def _closed_loop(d: _Data) -> str:
    from workbench.monitoring.loop import monitor

    if len(_finished(EXPERIMENT, "tags.`workbench.kind` = 'monitor_check'")):
        champion = wb.get_model_version(f"{MODEL}@champion")
        return _AlreadyDone(f"a monitor check (champion: version {champion.version})")
    c = float(wb.get_run(wb.get_model_version(f"{MODEL}@champion").run_id).params["C"])
    mon = monitor(
        MODEL,
        reference=d.x_train.assign(**{TARGET: d.y_train}),
        target=TARGET,
        evaluation="holdout",  # retrain and gate in this one check
        on_drift=lambda frame: _logreg(c).fit(frame[list(d.x_train.columns)], frame[TARGET]),
        experiment=EXPERIMENT,
    )
    step = mon.check(d.shifted.assign(**{TARGET: d.y_test}))
    return f"decision {step.decision!r}: {step.reason}"


class _AlreadyDone(str):
    """What a step returns when it finds its work in the store: what it found."""


#: The steps, in order: (what the step shows, the function that does it).
STEPS: list[tuple[str, Callable[[_Data], str]]] = [
    ("training curves of three SGD models, logged by hand", _training_curves),
    ("scikit-learn fits and a grid search, autologged", _autologged),
    ("querying the runs", _queries),
    ("an Optuna sweep over C", _sweep),
    ("registering the best trial's model as the champion", _register),
    ("deploying the champion, sending it production traffic", _deploy),
    ("a drift report on what the deployment received", _drift),
    ("one step of the closed loop: drift, retrain, gate, promote", _closed_loop),
]


def run_demo() -> DemoSummary:
    """Run the demo's steps against the configured store, skipping the ones already done.

    Prints each step as it goes and returns what was done.
    """
    started = time.perf_counter()
    summary = DemoSummary()
    _say(f"store: {wb.connect().store.location}")
    data = _Data.load()
    for number, (title, step) in enumerate(STEPS, start=1):
        _say(f"{number}/{len(STEPS)} {title}")
        step_started = time.perf_counter()
        line = step(data)
        if isinstance(line, _AlreadyDone):
            line = f"already in the store: {line}"
            summary.skipped.append(title)
        print(f"  {line} ({time.perf_counter() - step_started:.1f} s)", flush=True)
        summary.lines.append(line)
    wb.flush()
    summary.runs = len(wb.search_runs(max_results=None))
    summary.duration_s = time.perf_counter() - started
    return summary
