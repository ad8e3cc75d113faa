"""``workbench demo``: the lifecycle end to end on the configured store, in under a minute.

Uses scikit-learn's bundled breast-cancer data (no network): tracks hand-logged training
curves, autologs scikit-learn fits and a grid search, queries the store with the filter language
and SQL, tunes a model with an Optuna sweep, registers the best trial's model as the champion,
checks a drift report on shifted data, and gates the champion on it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import workbench as wb
from workbench.monitoring import validate

EXPERIMENT = "demo-breast-cancer"


def _step(message: str) -> None:
    print(f"[workbench demo] {message}", flush=True)


def _training_curves(
    x_train: pd.DataFrame, x_test: pd.DataFrame, y_train: pd.Series, y_test: pd.Series
) -> None:
    scaler = StandardScaler().fit(x_train)
    train, test = scaler.transform(x_train), scaler.transform(x_test)
    for alpha in (1e-4, 1e-3, 1e-2):
        with wb.start_run(EXPERIMENT, f"sgd-alpha-{alpha:g}", tags={"kind": "curve"}) as run:
            run.log_params({"model": "SGDClassifier", "alpha": alpha, "loss": "log_loss"})
            run.log_input(x_train, name="breast-cancer-train")
            model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
            for epoch in range(30):
                model.partial_fit(train, y_train, classes=np.array([0, 1]))
                run.log_metrics(
                    {
                        "train_log_loss": log_loss(y_train, model.predict_proba(train)),
                        "test_accuracy": accuracy_score(y_test, model.predict(test)),
                    },
                    step=epoch,
                )
            figure = go.Figure(go.Histogram(x=model.predict_proba(test)[:, 1], nbinsx=20))
            figure.update_layout(title=f"Predicted probability, alpha={alpha:g}")
            run.log_figure(figure, "probabilities.json")
            run.log_table(
                pd.DataFrame({"y_true": y_test.to_numpy(), "y_pred": model.predict(test)}),
                "predictions.parquet",
            )


def _autologged_models(x_train: pd.DataFrame, y_train: pd.Series) -> None:
    wb.autolog(experiment=EXPERIMENT)
    try:
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x_train, y_train)
        RandomForestClassifier(n_estimators=50, random_state=0).fit(x_train, y_train)
        GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
            cv=3,
        ).fit(x_train, y_train)
    finally:
        wb.autolog(disable=True)


def _sweep_and_register(
    x_train: pd.DataFrame, x_test: pd.DataFrame, y_train: pd.Series, y_test: pd.Series
) -> None:
    def objective(trial: Any) -> float:
        c = trial.suggest_float("C", 1e-3, 1e2, log=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
        model.fit(x_train, y_train)
        accuracy = float(accuracy_score(y_test, model.predict(x_test)))
        wb.log_metric("test_accuracy", accuracy)  # the trial's run is the active run
        return accuracy

    result = wb.sweep(
        objective, n_trials=15, experiment=EXPERIMENT, name="demo-logreg-C", direction="maximize"
    )
    best = result.best_run
    print(f"  best trial: C={best.params['C']:.4g}, test accuracy {best.metrics['objective']:.3f}")
    champion = make_pipeline(
        StandardScaler(), LogisticRegression(C=best.params["C"], max_iter=1000)
    ).fit(x_train, y_train)
    version = wb.register_model(
        "breast-cancer",
        run=best.run_id,
        model=champion,
        input_example=x_train.head(5),
        description="Logistic regression tuned by the demo sweep",
    )
    wb.set_alias("breast-cancer", "champion", version.version, reason="best trial of the demo")
    print(f"  registered breast-cancer version {version.version} as @champion")


def _drift_and_gate(x_train: pd.DataFrame, x_test: pd.DataFrame, y_test: pd.Series) -> None:
    shifted = x_test.copy()
    for column in list(shifted.columns)[:16]:  # recalibrated sensors: 16 of 30 features drift
        shifted[column] = shifted[column] * 1.5
    report = wb.drift_report(x_train, shifted)
    report.log()
    drifted = report.columns[report.columns["drifted"]].index.tolist()
    print(
        f"  dataset drift: {report.dataset_drift} ({len(drifted)} of {len(report.columns)} "
        f"columns drifted, e.g. {drifted[:3]})"
    )
    champion = wb.load_model("breast-cancer@champion")
    stale = float(accuracy_score(y_test, champion.predict(shifted)))
    fresh = float(accuracy_score(y_test, champion.predict(x_test)))
    gate = validate(
        {"accuracy": stale},
        {"accuracy": fresh},
        {"accuracy": wb.MetricThreshold(threshold=0.95, greater_is_better=True)},
        name="champion on drifted data",
    )
    verdict = "passes" if gate.passed else "fails: retrain before trusting it"
    print(f"  champion accuracy {fresh:.3f} now, {stale:.3f} on drifted data; the gate {verdict}")


def run_demo() -> None:
    """Run every step of the demo against the configured store and print what it shows."""
    started = time.perf_counter()
    client = wb.connect()
    _step(f"store: {client.store.location}")
    data = load_breast_cancer(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )

    _step(
        "1/6 logging training curves of three SGD models (params, metric series, "
        "dataset, figure, table)"
    )
    _training_curves(x_train, x_test, y_train, y_test)
    _step("2/6 autologging scikit-learn fits and a grid search (nested runs)")
    _autologged_models(x_train, y_train)
    wb.flush()

    _step("3/6 searching runs with the filter language")
    best = wb.search_runs(
        EXPERIMENT,
        filter="tags.kind = 'curve' AND metrics.test_accuracy > 0.9",
        order_by="metrics.test_accuracy DESC",
    )
    print(
        best[["name", "params.alpha", "metrics.test_accuracy", "metrics.train_log_loss"]].to_string(
            index=False
        )
    )
    _step("4/6 querying the store with SQL")
    print(
        wb.sql(
            """SELECT r.name, count(*) AS points, round(min(h.value), 4) AS best_loss
           FROM runs r JOIN metric_history h USING (run_id)
           WHERE r.experiment = $experiment AND h.key = 'train_log_loss'
           GROUP BY r.name ORDER BY best_loss""",
            experiment=EXPERIMENT,
        ).to_string(index=False)
    )
    _step("5/6 tuning C with an Optuna sweep (every trial a run) and registering the best")
    _sweep_and_register(x_train, x_test, y_train, y_test)
    _step("6/6 drift report on recalibrated sensors, and a quality gate on the champion")
    _drift_and_gate(x_train, x_test, y_test)
    runs = wb.search_runs(EXPERIMENT)
    _step(
        f"done in {time.perf_counter() - started:.1f} s: {len(runs)} runs in "
        f"'{EXPERIMENT}'. Look around with `workbench runs list -e {EXPERIMENT}` or "
        '`workbench sql "select * from runs"`.'
    )
