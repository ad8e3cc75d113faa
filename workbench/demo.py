"""``workbench demo``: the lifecycle end to end on the configured store, in under a minute.

Uses scikit-learn's bundled breast-cancer data (no network). It grows as capabilities land:
today it tracks hand-logged training curves, autologs scikit-learn fits and a grid search,
records the dataset, a figure and a table, then queries the store with the filter language
and with SQL.
"""

from __future__ import annotations

import time

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
        "1/4 logging training curves of three SGD models (params, metric series, "
        "dataset, figure, table)"
    )
    _training_curves(x_train, x_test, y_train, y_test)
    _step("2/4 autologging scikit-learn fits and a grid search (nested runs)")
    _autologged_models(x_train, y_train)
    wb.flush()

    _step("3/4 searching runs with the filter language")
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
    _step("4/4 querying the store with SQL")
    print(
        wb.sql(
            """SELECT r.name, count(*) AS points, round(min(h.value), 4) AS best_loss
           FROM runs r JOIN metric_history h USING (run_id)
           WHERE r.experiment = $experiment AND h.key = 'train_log_loss'
           GROUP BY r.name ORDER BY best_loss""",
            experiment=EXPERIMENT,
        ).to_string(index=False)
    )
    runs = wb.search_runs(EXPERIMENT)
    _step(
        f"done in {time.perf_counter() - started:.1f} s: {len(runs)} runs in "
        f"'{EXPERIMENT}'. Look around with `workbench runs list -e {EXPERIMENT}` or "
        '`workbench sql "select * from runs"`.'
    )
